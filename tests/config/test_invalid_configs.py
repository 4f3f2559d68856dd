"""Invalid configs: each is rejected with a message a person can act on, at the right line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.config import ConfigError, load_config_text

# (id, yaml, expected line, expected column, expected key path, substring of the message)
CASES: list[tuple[str, str, int | None, int | None, str, str]] = [
    ("empty", "", None, None, "", "the config is empty"),
    ("only-comments", "# nothing\n", None, None, "", "the config is empty"),
    ("not-a-mapping", "- cmd\n", 1, 1, "", "expected a mapping, not a list"),
    ("scalar-document", "just text\n", 1, 1, "", "expected a mapping, not a text"),
    ("missing-cmd", "name: x\n", 1, 1, "", "`cmd` is required"),
    ("cmd-not-text", "cmd: [a, b]\n", 1, 6, "cmd", "expected a text, not a list"),
    ("cmd-blank", "cmd: '   '\n", 1, 6, "cmd", "is empty (write the command to run)"),
    (
        "unknown-top-key",
        "cmd: x\nouputs:\n  - a.txt\n",
        2,
        1,
        "ouputs",
        "unknown key `ouputs` (did you mean `outputs`?)",
    ),
    ("unknown-env-key", "cmd: x\nenv:\n  varz: []\n", 3, 3, "env.varz", "did you mean `vars`?"),
    (
        "unknown-python-key",
        "cmd: x\nenv:\n  python:\n    type: manual\n    requirement-file: r.txt\n",
        5,
        5,
        "env.python.requirement-file",
        "did you mean `requirements-file`?",
    ),
    (
        "unknown-pip-key",
        "cmd: x\nenv:\n  python:\n    type: auto\n    pip:\n      no-dep: true\n",
        6,
        7,
        "env.python.pip.no-dep",
        "did you mean `no-deps`?",
    ),
    (
        "unknown-ws-key",
        "cmd: x\nworking-storage:\n  size: 200GB\n  kind: SSD\n",
        4,
        3,
        "working-storage.kind",
        "unknown key `kind`",
    ),
    (
        "unknown-gs-key",
        "cmd: x\ngraceful-shutdown:\n  signl: SIGINT\n",
        3,
        3,
        "graceful-shutdown.signl",
        "did you mean `signal`?",
    ),
    (
        "unknown-output-dataset-key",
        "cmd: x\noutput-datasets:\n  - name: d\n    var: D\n    size: 1GB\n    lables: {a: b}\n",
        6,
        5,
        "output-datasets[0].lables",
        "did you mean `labels`?",
    ),
    ("unknown-spark-key", "cmd: x\nspark:\n  conector: abc\n", 3, 3, "spark.conector", "did you mean `connector`?"),
    (
        "unknown-docker-key",
        "cmd: x\nenv:\n  docker:\n    image: python:3.11\n    user: me\n",
        5,
        5,
        "env.docker.user",
        "unknown key `user`",
    ),
    ("duplicate-key", "cmd: x\nname: a\nname: b\n", 3, 1, "name", "duplicate key `name` (first at line 2)"),
    ("undeclared-var", "cmd: python run.py --in ${DATA}\n", 1, 25, "cmd", "`${DATA}` is not declared"),
    ("empty-var-ref", "args:\n  A: 1\ncmd: echo ${} ${A}\n", 3, 11, "cmd", "`${}` names no variable"),
    (
        "project-home-without-flag",
        "cmd: |\n  ls\n  cat ${DS_PROJECT_HOME}/x\n",
        3,
        7,
        "cmd",
        "needs the flag `attach-project-disk`",
    ),
    (
        "reserved-var",
        "cmd: x\noutputs:\n  - out.txt: DS_PROJECT_HOME\n",
        3,
        14,
        "outputs[0].out.txt",
        "`DS_PROJECT_HOME` is reserved",
    ),
    (
        "bad-var-name",
        "cmd: x\noutputs:\n  - out.txt: 'MY VAR'\n",
        3,
        14,
        "outputs[0].out.txt",
        "is not valid (1 to 50 characters",
    ),
    (
        "var-name-too-long",
        "cmd: x\noutputs:\n  - out.txt: " + "A" * 51 + "\n",
        3,
        14,
        "outputs[0].out.txt",
        "1 to 50 characters",
    ),
    (
        "var-backquote",
        "cmd: x\noutputs:\n  - out.txt: 'A`B'\n",
        3,
        14,
        "outputs[0].out.txt",
        "letters, digits, `_` or `-`",
    ),
    (
        "duplicate-var-across-sections",
        "cmd: x\ninputs:\n  - data/train.csv: DATA\noutputs:\n  - out.txt: DATA\n",
        5,
        14,
        "outputs[0].out.txt",
        "`DATA` is already declared at inputs[0].data/train.csv (line 3)",
    ),
    (
        "arg-clashes-with-dataset-id",
        "cmd: x\ndatasets:\n  - ds01234567890123456a\nargs:\n  ds01234567890123456a: 5\n",
        5,
        3,
        "args.ds01234567890123456a",
        "already declared at datasets[0] (line 3)",
    ),
    (
        "output-dataset-var-clash",
        "cmd: x\nargs: {OUT: 1}\noutput-datasets:\n  - {name: d, var: OUT, size: 1GB}\n",
        4,
        20,
        "output-datasets[0].var",
        "`OUT` is already declared at args.OUT",
    ),
    ("input-missing", "cmd: x\ninputs:\n  - nope.csv\n", 3, 5, "inputs[0]", "`nope.csv` does not exist"),
    ("input-parent-dir", "cmd: x\ninputs:\n  - ../secret.txt\n", 3, 5, "inputs[0]", "leaves the job directory"),
    ("input-sneaky-parent", "cmd: x\ninputs:\n  - data/../../x\n", 3, 5, "inputs[0]", "leaves the job directory"),
    ("output-job-dir-itself", "cmd: x\noutputs:\n  - ./\n", 3, 5, "outputs[0]", "names the job directory itself"),
    ("input-empty-key", "cmd: x\ninputs:\n  - '': DATA\n", 3, 5, "inputs[0]", "the path is empty"),
    ("input-absolute-no-var", "cmd: x\ninputs:\n  - /etc/hostname\n", 3, 5, "inputs[0]", "is absolute"),
    ("output-parent-dir", "cmd: x\noutputs:\n  - ../out.bin\n", 3, 5, "outputs[0]", "leaves the job directory"),
    (
        "input-twice",
        "cmd: x\ninputs:\n  - main.py\n  - ./main.py\n",
        4,
        5,
        "inputs[1]",
        "is listed twice (also at inputs[0]",
    ),
    (
        "input-nested",
        "cmd: x\ninputs:\n  - data\n  - data/train.csv: TRAIN\n",
        4,
        5,
        "inputs[1]",
        "`data/train.csv` is inside `data` (inputs[0] (line 3))",
    ),
    ("outputs-nested", "cmd: x\noutputs:\n  - out/a.bin\n  - out\n", 4, 5, "outputs[1]", "`out` contains `out/a.bin`"),
    (
        "entry-two-keys",
        "cmd: x\noutputs:\n  - {a.txt: A, b.txt: B}\n",
        3,
        5,
        "outputs[0]",
        "an entry maps exactly one path to its variable",
    ),
    (
        "entry-bad-var-param",
        "cmd: x\noutputs:\n  - a.txt: {variable: A}\n",
        3,
        13,
        "outputs[0].a.txt.variable",
        "unknown key `variable` (did you mean `var`?)",
    ),
    ("inputs-not-list", "cmd: x\ninputs: main.py\n", 2, 9, "inputs", "expected a list or nothing, not a text"),
    (
        "too-many-inputs",
        "cmd: x\noutputs:\n" + "".join(f"  - out{i}.txt\n" for i in range(101)),
        3,
        3,
        "outputs",
        "has 101 entries; at most 100 are allowed",
    ),
    (
        "plain-password",
        "cmd: x\nenv:\n  docker:\n    image: r.example/img:1\n    username: u\n    password: hunter2\n",
        6,
        15,
        "env.docker.password",
        "a plain-text password is not allowed",
    ),
    (
        "docker-without-image",
        "cmd: x\nenv:\n  docker:\n    username: u\n",
        4,
        5,
        "env.docker",
        "`image` is required",
    ),
    (
        "docker-password-without-username",
        "cmd: x\nenv:\n  docker:\n    image: r.example/i:1\n    password: {secret-id: REG}\n",
        5,
        5,
        "env.docker.password",
        "a password needs a `username` too",
    ),
    (
        "docker-image-with-space",
        "cmd: x\nenv:\n  docker: python 3.11\n",
        3,
        11,
        "env.docker",
        "`python 3.11` is not valid (an image reference without spaces",
    ),
    ("python-bad-string", "cmd: x\nenv:\n  python: manual\n", 3, 11, "env.python", "`auto` or a mapping with `type`"),
    (
        "python-version-under-auto",
        "cmd: x\nenv:\n  python:\n    type: auto\n    version: 3.11\n",
        5,
        5,
        "env.python.version",
        "applies only with `type: manual`",
    ),
    (
        "python-version-bad",
        "cmd: x\nenv:\n  python:\n    type: manual\n    version: 2.7\n",
        5,
        14,
        "env.python.version",
        "`2.7` is not a supported Python version",
    ),
    (
        "python-manual-without-parameters",
        "cmd: x\nenv:\n  python:\n    type: manual\n",
        4,
        11,
        "env.python.type",
        "`type: manual` needs at least one parameter: version, requirements-file, local-paths, root-paths or pip",
    ),
    (
        "python-type-missing",
        "cmd: x\nenv:\n  python:\n    version: '3.11'\n",
        4,
        5,
        "env.python",
        "`type` is required",
    ),
    (
        "root-and-local-paths",
        "cmd: x\nenv:\n  python:\n    type: manual\n    root-paths: [main.py]\n    local-paths: [foo.py]\n",
        6,
        5,
        "env.python.local-paths",
        "`local-paths` and `root-paths` exclude each other",
    ),
    (
        "requirements-missing",
        "cmd: x\nenv:\n  python:\n    type: manual\n    requirements-file: reqs.txt\n",
        5,
        24,
        "env.python.requirements-file",
        "`reqs.txt` was not found",
    ),
    (
        "no-deps-yes",
        "cmd: x\nenv:\n  python:\n    type: auto\n    pip: {no-deps: yes}\n",
        5,
        20,
        "env.python.pip.no-deps",
        "`yes` is not allowed (allowed: true or false)",
    ),
    ("env-var-bad-name", "cmd: x\nenv:\n  vars:\n    - 1ST: a\n", 4, 7, "env.vars[0].1ST", "`1ST` is not a valid name"),
    ("env-var-twice", "cmd: x\nenv:\n  vars:\n    - A: 1\n    - A\n", 5, 7, "env.vars[1]", "`A` is set twice"),
    ("env-var-nested-value", "cmd: x\nenv:\n  vars:\n    A: {b: c}\n", 4, 8, "env.vars.A", "not a mapping"),
    (
        "unknown-instance-type",
        "cmd: x\ncloud-instance-types: [g2.1, x9.1]\n",
        2,
        30,
        "cloud-instance-types[1]",
        "unknown instance type `x9.1` (known: c1.4",
    ),
    (
        "both-instance-type-keys",
        "cmd: x\ncloud-instance-types: g1.1\ncloud-instance-type: g2.1\n",
        3,
        1,
        "cloud-instance-type",
        "give either `cloud-instance-types` or `cloud-instance-type`, not both",
    ),
    (
        "instance-types-empty-list",
        "cmd: x\ncloud-instance-types: []\n",
        2,
        23,
        "cloud-instance-types",
        "needs at least 1 entry",
    ),
    ("size-G", "cmd: x\nworking-storage:\n  size: 150G\n", 3, 9, "working-storage.size", "the unit is `GB`, not `G`"),
    (
        "size-bytes-too-small",
        "cmd: x\nworking-storage:\n  size: 150\n",
        3,
        9,
        "working-storage.size",
        "did you mean `150GB`?",
    ),
    (
        "size-too-big",
        "cmd: x\nworking-storage:\n  size: 11TB\n",
        3,
        9,
        "working-storage.size",
        "must be from 100GB to 10TB",
    ),
    ("size-missing", "cmd: x\nworking-storage:\n  type: SSD\n", 3, 3, "working-storage", "`size` is required"),
    (
        "storage-type-hdd",
        "cmd: x\nworking-storage:\n  type: HDD\n  size: 200GB\n",
        3,
        9,
        "working-storage.type",
        "`HDD` is not allowed (allowed: SSD)",
    ),
    (
        "bad-signal",
        "cmd: x\ngraceful-shutdown:\n  signal: SIGKILL\n",
        3,
        11,
        "graceful-shutdown.signal",
        "`SIGKILL` is not allowed (allowed: SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2)",
    ),
    (
        "duration-out-of-order",
        "cmd: x\ngraceful-shutdown:\n  timeout: 30s1m\n",
        3,
        12,
        "graceful-shutdown.timeout",
        "`30s1m` is not a duration",
    ),
    (
        "duration-number",
        "cmd: x\ngraceful-shutdown:\n  timeout: 90\n",
        3,
        12,
        "graceful-shutdown.timeout",
        "a duration is text with units",
    ),
    (
        "duration-upper",
        "cmd: x\ngraceful-shutdown:\n  timeout: 15S\n",
        3,
        12,
        "graceful-shutdown.timeout",
        "units are lower case",
    ),
    (
        "output-dataset-missing-size",
        "cmd: x\noutput-datasets:\n  - name: d\n    var: D\n",
        3,
        5,
        "output-datasets[0]",
        "`size` is required",
    ),
    (
        "output-dataset-duplicate-name",
        "cmd: x\noutput-datasets:\n  - {name: d, var: A, size: 1GB}\n  - {name: d, var: B, size: 1GB}\n",
        4,
        12,
        "output-datasets[1].name",
        "dataset name `d` is already used at output-datasets[0].name (line 3)",
    ),
    ("spark-no-id", "cmd: x\nspark:\n  connector: {}\n", 3, 14, "spark.connector", "`id` is required"),
    ("flags-not-list", "cmd: x\nflags: attach-project-disk\n", 2, 8, "flags", "expected a list or nothing, not a text"),
    ("yaml-syntax", "cmd: x\ninputs: [a, b\n", 2, 9, "", "the `[` opened here is never closed"),
    ("yaml-unclosed-at-end", "cmd: x\nflags: [attach-project-disk,\n", 2, 8, "", "`[` opened here is never closed"),
    ("yaml-unclosed-nested", "cmd: x\nenv: {vars: [A\noutputs: []\n", 2, 13, "", "`[` opened here is never closed"),
    ("yaml-unclosed-mapping", "cmd: x\nenv: {vars: []\noutputs: []\n", 2, 6, "", "`{` opened here is never closed"),
    ("yaml-unclosed-quote", 'cmd: "python\ninputs: []\n', 1, 6, "", 'the `"` opened here is never closed'),
    ("yaml-extra-close", "cmd: x\ninputs: [a, b]]\n", 2, 15, "", "invalid YAML: did not find expected key"),
    ("yaml-tab-indent", "cmd: x\nenv:\n\tvars: []\n", 3, 1, "", "invalid YAML"),
    ("two-documents", "cmd: x\n---\ncmd: y\n", 2, 1, "", "more than one YAML document"),
    ("non-scalar-key", "cmd: x\n? [a, b]\n: c\n", 2, 3, "", "a key must be a plain text"),
    ("working-storage-empty", "cmd: x\nworking-storage:\n", 2, 17, "working-storage", "is empty (expected a mapping)"),
]


def test_at_least_forty_cases() -> None:
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("text", "line", "column", "key_path", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_invalid_config(
    job_dir: Path, text: str, line: int | None, column: int | None, key_path: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, source="config.yaml", base_dir=job_dir)
    problems = info.value.problems
    matching = [p for p in problems if message in p.message]
    assert matching, f"no problem says {message!r}; got:\n{info.value}"
    problem = matching[0]
    assert (problem.line, problem.column, problem.key_path) == (line, column, key_path), str(info.value)
    # the one-line format a person reads
    where = "config.yaml" if line is None else f"config.yaml:{line}:{column}"
    assert str(problem).startswith(where + ": ")
    assert str(problem) in str(info.value).splitlines()


def test_all_problems_reported_at_once_in_file_order(job_dir: Path) -> None:
    text = (
        "cmd: python run.py ${NOPE}\n"  # 1
        "ouputs: []\n"  # 2
        "working-storage:\n"  # 3
        "  size: 150G\n"  # 4
        "graceful-shutdown:\n"  # 5
        "  signal: SIGKILL\n"  # 6
    )
    with pytest.raises(ConfigError) as info:
        load_config_text(text, source="c.yaml", base_dir=job_dir)
    lines = str(info.value).splitlines()
    assert [line.split(":")[1] for line in lines] == ["1", "2", "4", "6"]
    assert lines[0].startswith("c.yaml:1:20: cmd: `${NOPE}` is not declared")


def test_a_bad_value_does_not_hide_a_bad_sibling(job_dir: Path) -> None:
    text = "cmd: x\ngraceful-shutdown:\n  signal: SIGSTOP\n  timeout: 15 s\n"
    with pytest.raises(ConfigError) as info:
        load_config_text(text, source="c.yaml", base_dir=job_dir)
    paths = [p.key_path for p in info.value.problems]
    assert paths == ["graceful-shutdown.signal", "graceful-shutdown.timeout"]
    assert "no spaces allowed" in info.value.problems[1].message


def test_password_value_is_never_echoed(job_dir: Path) -> None:
    text = "cmd: x\nenv:\n  docker:\n    image: img\n    username: u\n    password: s3cr3t-value\n"
    with pytest.raises(ConfigError) as info:
        load_config_text(text, base_dir=job_dir)
    assert "s3cr3t-value" not in str(info.value)
    assert "secret-id" in str(info.value)
