"""Property-based fuzzing: whatever the input, the loader returns a JobConfig or raises ConfigError."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_dsjobs.config import ConfigError, JobConfig, config_from_mapping, load_config_text
from airflow_provider_dsjobs.config.yaml_source import decode_text

from .conftest import FIXTURES, make_job_dir

FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

SEEDS: list[dict[str, Any]] = [
    yaml.safe_load((FIXTURES / p.name).read_text(encoding="utf-8").replace("@DIR@", "/nonexistent"))
    for p in sorted(FIXTURES.glob("seed*.yaml"))
]

KEYS = [
    "cmd", "name", "desc", "args", "inputs", "outputs", "s3-mounts", "datasets", "env", "vars", "docker", "python",
    "type", "version", "pip", "no-deps", "root-path", "root-paths", "local-paths", "flags", "cloud-instance-types",
    "cloud-instance-type", "working-storage", "size", "graceful-shutdown", "signal", "timeout", "output-datasets",
    "var", "labels", "spark", "connector", "id", "password", "secret-id", "image", "requirements-file",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        ["auto", "manual", "SSD", "150GB", "15s", "${X}", "${}", "DS_PROJECT_HOME", "../x", "/abs", "g1.1"]
    ),
)
json_like = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=10)), children, max_size=5),
    ),
    max_leaves=30,
)


def _accepts(result: object) -> None:
    assert isinstance(result, JobConfig)


def _load_text(text: str, base: Path) -> None:
    try:
        _accepts(load_config_text(text, source="fuzz.yaml", base_dir=base))
    except ConfigError as exc:
        assert exc.problems, "a ConfigError always says what is wrong"
        for problem in exc.problems:
            assert str(problem).startswith("fuzz.yaml")


@FUZZ
@given(text=st.text(max_size=400))
def test_random_text(tmp_path: Path, text: str) -> None:
    _load_text(text, tmp_path)


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes(tmp_path: Path, data: bytes) -> None:
    try:
        text = decode_text(data, "fuzz.yaml")
    except ConfigError:
        return
    _load_text(text, tmp_path)


yamlish = st.lists(
    st.one_of(
        st.sampled_from(KEYS).map(lambda k: k + ":"),
        st.sampled_from(
            ["- ", "  ", "    ", "\n", "&a ", "*a", "<<: ", "? ", "{", "}", "[", "]", ", ", "|", ">", "'", '"']
        ),
        st.sampled_from(["3.10", "Yes", "~", "0o17", "1:30", "!!str", "!!binary", "!custom", "---", "...", "#c"]),
        st.text(max_size=5),
    ),
    max_size=40,
).map("".join)


@FUZZ
@given(text=yamlish)
def test_yaml_shaped_text(tmp_path: Path, text: str) -> None:
    _load_text(text, tmp_path)


@FUZZ
@given(value=json_like)
def test_random_structures_as_yaml_and_mapping(tmp_path: Path, value: Any) -> None:
    try:
        text = yaml.safe_dump(value, allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        text = ""
    _load_text(text, tmp_path)
    if isinstance(value, dict):
        try:
            _accepts(config_from_mapping(value, base_dir=tmp_path))
        except ConfigError as exc:
            assert exc.problems


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(config: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    config = copy.deepcopy(config)
    for _ in range(data.draw(st.integers(1, 4))):
        paths = [p for p in _paths(config) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent: Any = config
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = data.draw(st.sampled_from(["delete", "replace", "insert", "wrap"]))
        if action == "delete":
            del parent[last]
        elif action == "replace":
            parent[last] = data.draw(json_like)
        elif action == "wrap":
            parent[last] = data.draw(st.sampled_from([[parent[last]], {"var": parent[last]}, {"x": parent[last]}]))
        elif isinstance(parent, dict):
            parent[data.draw(st.sampled_from(KEYS))] = data.draw(json_like)
        else:
            parent.insert(last, data.draw(json_like))
    return config


@FUZZ
@given(data=st.data())
def test_mutated_seed_configs(tmp_path: Path, data: st.DataObject) -> None:
    job = make_job_dir(tmp_path / "job")
    config = _mutate(data.draw(st.sampled_from(SEEDS)), data)
    try:
        _accepts(config_from_mapping(config, base_dir=job))
    except ConfigError as exc:
        assert exc.problems
    try:
        text = yaml.safe_dump(config, allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        return
    _load_text(text, job)


@FUZZ
@given(data=st.data())
def test_mutated_seed_text(tmp_path: Path, data: st.DataObject) -> None:
    """Character-level damage to a real config file: cut, duplicate or insert junk at random places."""
    path = data.draw(st.sampled_from(sorted(FIXTURES.glob("seed*.yaml"))))
    text = path.read_text(encoding="utf-8").replace("@DIR@", str(tmp_path))
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 20)))
        junk = data.draw(st.one_of(st.text(max_size=5), st.sampled_from(["\t", ":", "- ", "{", "&a", "*a", "\n  "])))
        text = text[:i] + junk + text[j:]
    _load_text(text, tmp_path)


# -- `dsjobs validate` on fuzzed files: exit 0, 1 or 2, one clear error, never a traceback ----------------------

CLI_FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _validate_exits_cleanly(path: Path, capsys: Any) -> None:
    from airflow_provider_dsjobs.cli.main import main

    started = time.monotonic()
    code = main(["validate", str(path)])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert elapsed < 20, f"validate took {elapsed:.1f} s"  # a guard against minutes, not a benchmark (bench/)
    assert code in (0, 1, 2), err
    assert "Traceback" not in err and "unexpected error" not in err, err
    if code:
        assert err.strip(), "a failure says why"


@CLI_FUZZ
@given(data=st.data())
def test_validate_command_on_fuzzed_configs(tmp_path: Path, capsys: Any, data: st.DataObject) -> None:
    job = make_job_dir(tmp_path / "job")
    config = _mutate(data.draw(st.sampled_from(SEEDS)), data)
    try:
        text = yaml.safe_dump(config, allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        return
    path = job / "config.yaml"
    path.write_text(text, encoding="utf-8")
    _validate_exits_cleanly(path, capsys)


#: Large shapes: long lists (paths nested in one another, duplicates, backslashes), long flow lists, long scalars.
path_names = st.lists(st.sampled_from(["d", "..", ".", "a\\b", "..\\x", "s p", "é"]), min_size=1, max_size=6).map(
    "/".join
)
big_configs = st.one_of(
    st.builds(
        lambda section, paths: f"cmd: x\n{section}:\n" + "".join(f"  - {p!r}\n" for p in paths),
        st.sampled_from(["inputs", "outputs"]),
        st.lists(path_names, max_size=3000),
    ),
    st.builds(
        lambda n, item: "cmd: x\nargs: [" + ", ".join([item] * n) + "]\n", st.integers(0, 60_000), scalars.map(repr)
    ),
    st.builds(
        lambda n: "cmd: x\nenv:\n  vars:\n" + "".join(f"    - V{i}: x\n" for i in range(n)), st.integers(0, 6000)
    ),
    st.builds(lambda n, c: "cmd: " + c * n + "\n", st.integers(0, 1 << 19), st.sampled_from(["x", "é", "\\", "'"])),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=big_configs)
@pytest.mark.timeout(300)
def test_validate_command_on_large_configs(tmp_path: Path, capsys: Any, text: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    _validate_exits_cleanly(path, capsys)
