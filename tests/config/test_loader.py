"""Loading from a file, a text and a mapping; the Problem format; warnings; the values as written."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from airflow_provider_dsjobs.config import (
    ConfigError,
    Problem,
    config_from_mapping,
    load_config,
    load_config_text,
    load_config_text_with_warnings,
)
from airflow_provider_dsjobs.config.model import EnvVar, PathEntry
from airflow_provider_dsjobs.config.serialize import config_json

LOCAL_PY = f"{sys.version_info.major}.{sys.version_info.minor}"


def test_problem_format() -> None:
    assert str(Problem("c.yaml", 3, 7, "env.vars", "bad (good)")) == "c.yaml:3:7: env.vars: bad (good)"
    assert str(Problem("<dict>", None, None, "env.vars", "bad")) == "<dict>: env.vars: bad"
    assert str(Problem("c.yaml", None, None, "", "empty")) == "c.yaml: empty"


def test_config_error_lists_problems_sorted_one_per_line() -> None:
    err = ConfigError([Problem("c", 5, 1, "b", "two"), Problem("c", 2, 3, "a", "one")])
    assert str(err) == "c:2:3: a: one\nc:5:1: b: two"
    assert [p.message for p in err.problems] == ["one", "two"]


def test_relative_paths_resolve_against_the_config_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job = tmp_path / "job"
    (job / "data").mkdir(parents=True)
    (job / "data" / "in.csv").write_text("1\n")
    (job / "config.yaml").write_text("cmd: cat ${IN}\ninputs:\n  - data/in.csv: IN\n")
    monkeypatch.chdir(tmp_path)  # not the job directory
    config = load_config(Path("job/config.yaml"))
    assert config.inputs == (PathEntry("data/in.csv", "IN"),)
    assert config.base_dir == job.absolute()
    assert config.source == "job/config.yaml"


def test_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        load_config(tmp_path / "nope.yaml")


def test_values_are_read_as_written(tmp_path: Path) -> None:
    text = """
cmd: run ${A} ${B} ${C} ${D} ${E}
name: 2024
args:
  A: 0o17
  B: 1_000
  C: 1:30
  D: 3.10
  E: ~
env:
  vars:
    - YES_VAR: Yes
    - EIGHT: 8
    - EMPTY:
    - OFF: off
  python:
    type: manual
    version: 3.10
output-datasets:
  - name: d
    var: OUT
    size: 1GB
    labels: {version: 1.10, on: no}
"""
    config = load_config_text(text, base_dir=tmp_path)
    assert config.args == (("A", "0o17"), ("B", "1_000"), ("C", "1:30"), ("D", "3.10"), ("E", ""))
    assert config.name == "2024"
    assert config.env.vars == (
        EnvVar("YES_VAR", "Yes"),
        EnvVar("EIGHT", "8"),
        EnvVar("EMPTY", ""),
        EnvVar("OFF", "off"),
    )
    assert config.env.python is not None and config.env.python.version == "3.10"
    assert config.output_datasets[0].labels == (("version", "1.10"), ("on", "no"))


def test_python_auto_is_case_insensitive_and_fills_local_version(tmp_path: Path) -> None:
    config = load_config_text("cmd: x\nenv:\n  python: AUTO\n", base_dir=tmp_path)
    assert config.env.python is not None
    assert (config.env.python.type, config.env.python.version, config.env.python.version_given) == (
        "auto",
        LOCAL_PY,
        False,
    )


def test_patch_version_is_a_warning_not_an_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = "cmd: x\nenv:\n  python:\n    type: manual\n    version: 3.11.4\n"
    with caplog.at_level(logging.WARNING, logger="airflow_provider_dsjobs.config"):
        config, warnings = load_config_text_with_warnings(text, source="c.yaml", base_dir=tmp_path)
    assert config.env.python is not None and config.env.python.version == "3.11"
    assert [str(w) for w in warnings] == [
        "c.yaml:5:14: env.python.version: Python version will be reduced to major.minor (3.11.4 -> 3.11)"
    ]
    assert "3.11.4 -> 3.11" in caplog.text


def test_unknown_flag_is_a_warning(tmp_path: Path) -> None:
    config, warnings = load_config_text_with_warnings("cmd: x\nflags: [fast]\n", base_dir=tmp_path)
    assert config.flags == ("fast",)
    assert "unknown flag `fast` is ignored" in str(warnings[0])


def test_instance_types_forms(tmp_path: Path) -> None:
    assert load_config_text("cmd: x\n", base_dir=tmp_path).cloud_instance_types == ()
    assert load_config_text("cmd: x\ncloud-instance-types: g1.1\n").cloud_instance_types == ("g1.1",)
    assert load_config_text("cmd: x\ncloud-instance-type: [g1.1, c1.8]\n").cloud_instance_types == ("g1.1", "c1.8")


def test_shell_variables_and_project_home(tmp_path: Path) -> None:
    config = load_config_text(
        "cmd: echo $HOME ${DS_PROJECT_HOME} $$\nflags: [attach-project-disk]\n", base_dir=tmp_path
    )
    assert config.attach_project_disk


def test_resource_ids_usable_in_cmd(tmp_path: Path) -> None:
    config = load_config_text("cmd: ls ${abc0123456789abcdefg}\ns3-mounts: [abc0123456789abcdefg]\n")
    assert config.s3_mounts[0].id == "abc0123456789abcdefg"


def test_segment_aware_paths(tmp_path: Path) -> None:
    (tmp_path / "a..b.txt").write_text("x")
    (tmp_path / "d").mkdir()
    text = "cmd: x\ninputs:\n  - a..b.txt\noutputs:\n  - d/../out.txt\n  - ..hidden/x\n"
    config = load_config_text(text, base_dir=tmp_path)
    assert [p.path for p in config.inputs] == ["a..b.txt"]


def test_absolute_and_parent_paths_with_a_var(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    (tmp_path / "other.txt").write_text("y")
    job = tmp_path / "job"
    job.mkdir()
    text = f"cmd: cat ${{A}} ${{B}}\ninputs:\n  - {outside}: A\n  - ../other.txt: {{var: B}}\n"
    config = load_config_text(text, base_dir=job)
    assert config.inputs == (PathEntry(str(outside), "A"), PathEntry("../other.txt", "B"))


def test_entry_with_empty_value(tmp_path: Path) -> None:
    config = load_config_text("cmd: x\noutputs:\n  - result.bin:\n", base_dir=tmp_path)
    assert config.outputs == (PathEntry("result.bin"),)


def test_python_root_path_alias_and_both_is_error(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("")
    text = "cmd: x\nenv:\n  python:\n    type: auto\n    root-path: [a.py]\n    root-paths: [a.py]\n"
    with pytest.raises(ConfigError, match="give either `root-paths` or its alias `root-path`, not both"):
        load_config_text(text, base_dir=tmp_path)


def test_local_paths_empty_list_means_none(tmp_path: Path) -> None:
    config = load_config_text("cmd: x\nenv:\n  python:\n    type: manual\n    local-paths: []\n", base_dir=tmp_path)
    assert config.env.python is not None and config.env.python.local_paths == ()


# ---- mappings (what the Airflow operator passes) -----------------------------------------------------------
def test_config_from_mapping(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("x")
    data = {
        "cmd": "python run.py ${IN} ${N}",
        "args": {"N": 5},
        "inputs": ["in.csv", {"in.csv": "IN"}],
        "env": {"vars": {"DEBUG": True}, "python": {"type": "manual", "version": "3.11"}},
        "working-storage": {"size": "200GB"},
    }
    with pytest.raises(ConfigError) as info:
        config_from_mapping(data, base_dir=tmp_path)
    assert str(info.value).startswith("<dict>: inputs[1]: `in.csv` is listed twice")
    data["inputs"] = [{"in.csv": "IN"}]
    config = config_from_mapping(data, base_dir=tmp_path)
    assert config.args == (("N", "5"),)
    assert config.env.vars == (EnvVar("DEBUG", "true"),)
    assert config.source == "<dict>"
    assert config.raw_text is not None and "python run.py" in config.raw_text


def test_config_from_mapping_problems_have_paths_but_no_lines(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_mapping({"cmd": "x", "env": {"python": {"type": "manul"}}}, base_dir=tmp_path, source="dag.py")
    (problem,) = info.value.problems
    assert (problem.line, problem.column, problem.key_path) == (None, None, "env.python.type")
    assert str(problem) == "dag.py: env.python.type: `manul` is not allowed (allowed: auto, manual)"


@pytest.mark.parametrize("bad", [None, [1, 2], "cmd: x", 42])
def test_config_from_mapping_rejects_non_mappings(bad: object) -> None:
    with pytest.raises(ConfigError, match="a config must be a mapping"):
        config_from_mapping(bad)  # type: ignore[arg-type]


def test_float_version_from_python_is_refused(tmp_path: Path) -> None:
    data = {"cmd": "x", "env": {"python": {"type": "manual", "version": 3.10}}}
    with pytest.raises(ConfigError, match="loses trailing zeros"):
        config_from_mapping(data, base_dir=tmp_path)
    data["env"]["python"]["version"] = "3.10"  # type: ignore[index]
    assert config_from_mapping(data, base_dir=tmp_path).env.python.version == "3.10"  # type: ignore[union-attr]


def test_symlinked_config_keeps_its_directory(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir()
    (real / "config.yaml").write_text("cmd: x\ninputs: [here.txt]\n")
    job = tmp_path / "job"
    job.mkdir()
    (job / "here.txt").write_text("x")
    (job / "config.yaml").symlink_to(real / "config.yaml")
    assert load_config(job / "config.yaml").base_dir == job


def test_deep_mapping_is_refused() -> None:
    data: dict[str, object] = {"cmd": "x"}
    inner = data
    for _ in range(100):
        inner["args"] = {}
        inner = inner["args"]  # type: ignore[assignment]
    with pytest.raises(ConfigError, match="nested too deeply"):
        config_from_mapping(data, source="dag.py")


def test_config_from_mapping_rejects_odd_keys() -> None:
    with pytest.raises(ConfigError, match=r"env: keys must be text, not tuple"):
        config_from_mapping({"cmd": "x", "env": {(1, 2): "y"}})


def test_cmd_references_do_not_swallow_neighbours(tmp_path: Path) -> None:
    text = "args: {A: 1, B: 2}\ncmd: echo ${A}${B} ${} ${A}/x ${C}\n"
    with pytest.raises(ConfigError) as info:
        load_config_text(text, source="c.yaml", base_dir=tmp_path)
    assert [str(p) for p in info.value.problems] == [
        "c.yaml:2:20: cmd: `${}` names no variable (write `${NAME}` with a declared NAME, or `$$` for the shell)",
        "c.yaml:2:31: cmd: `${C}` is not declared (declared variables: A, B; a shell variable is written `$NAME`)",
    ]


def test_env_from_submitter_environment_is_not_read_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SURELY_NOT_SET_123", raising=False)
    config = load_config_text("cmd: x\nenv:\n  vars:\n    - SURELY_NOT_SET_123\n", base_dir=tmp_path)
    assert config.env.vars == (EnvVar("SURELY_NOT_SET_123", from_env=True),)
    assert config_json(config)["env"]["vars"][0] == {"name": "SURELY_NOT_SET_123", "from-env": True}


def test_problems_from_schema_and_checks_are_not_doubled(tmp_path: Path) -> None:
    text = "cmd: x\noutputs:\n  - a.txt: 'BAD NAME'\nenv:\n  vars:\n    - 1X: y\n"
    with pytest.raises(ConfigError) as info:
        load_config_text(text, base_dir=tmp_path)
    assert len(info.value.problems) == 2


def test_empty_docker_means_default_image(tmp_path: Path) -> None:
    assert load_config_text("cmd: x\nenv:\n  docker:\n", base_dir=tmp_path).env.docker is None


# -- bounded cost and the true reason (issue 14) -----------------------------------------------------------------
# Each of these took from 20 s to minutes before; the timeout is a guard against that, not a benchmark.


def _only_problem(text: str, base: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, source="c.yaml", base_dir=base)
    assert len(info.value.problems) == 1, str(info.value)
    return str(info.value)


@pytest.mark.timeout(60)
def test_too_many_inputs_give_the_one_true_reason(tmp_path: Path) -> None:
    entries = "".join(f"  - d{i % 7}/{'s/' * (i % 40)}f{i}.txt\n" for i in range(1500))
    assert _only_problem(f"cmd: x\ninputs:\n{entries}", tmp_path) == (
        "c.yaml:3:3: inputs: has 1500 entries; at most 100 are allowed"
    )
    entries = "".join(f"  - d{i % 7}/f{i}.txt\n" for i in range(5000))
    assert "more than 2000 values" in _only_problem(f"cmd: x\ninputs:\n{entries}", tmp_path)


@pytest.mark.timeout(60)
def test_a_megabyte_flow_list_is_refused_for_its_size_without_blaming_aliases(tmp_path: Path) -> None:
    text = "cmd: x\nargs: [" + ",".join(["1"] * 340_000) + "]\n"
    assert len(text) < 1 << 20
    message = _only_problem(text, tmp_path)
    assert "more than 2000 values" in message and "alias" not in message


@pytest.mark.timeout(60)
def test_a_text_at_the_size_cap_is_accepted(tmp_path: Path) -> None:
    config = load_config_text("cmd: echo " + "x" * ((1 << 20) - 20) + "\n", base_dir=tmp_path)
    assert len(config.cmd) > 1_000_000


def test_duplicates_and_nesting_are_found_among_many_entries(tmp_path: Path) -> None:
    """The near-linear check finds what the pairwise one did, wherever the pair is in the list."""
    outputs = [f"o{i}/r.txt" for i in range(100)]
    outputs[97] = "o3/r.txt/deep.txt"  # inside an earlier entry
    outputs[98] = "o50/r.txt"  # listed twice
    outputs[99] = "o60"  # contains an earlier entry
    text = "cmd: x\noutputs:\n" + "".join(f"  - {o}\n" for o in outputs)
    with pytest.raises(ConfigError) as info:
        load_config_text(text, source="c.yaml", base_dir=tmp_path)
    assert [p.message for p in info.value.problems] == [
        "`o3/r.txt/deep.txt` is inside `o3/r.txt` (outputs[3] (line 6)); list only one of them",
        "`o50/r.txt` is listed twice (also at outputs[50] (line 53))",
        "`o60` contains `o60/r.txt` (outputs[60] (line 63)); list only one of them",
    ]


def test_a_backslash_is_part_of_a_file_name(tmp_path: Path) -> None:
    """One rule everywhere (as on Linux): ``back\\slash.txt`` is one name, ``..\\x`` is a name, not a way up."""
    (tmp_path / "in\\put.txt").write_text("1\n")
    config = load_config_text(
        "cmd: x\ninputs:\n  - in\\put.txt\noutputs:\n  - back\\slash.txt\n  - ..\\..\\esc.txt\n", base_dir=tmp_path
    )
    assert [o.path for o in config.outputs] == ["back\\slash.txt", "..\\..\\esc.txt"]
    message = _only_problem("cmd: x\ninputs:\n  - dir\\in.txt\n", tmp_path)
    assert "`dir\\in.txt` does not exist" in message  # not looked up as dir/in.txt
