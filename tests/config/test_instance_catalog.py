"""A team's own instance types: a YAML file (DSJOBS_INSTANCE_TYPES) or the connection extra, added to the built-in
DataSphere names; bad entries are one line each with the key path; configs are checked against the merged catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_dsjobs.config import ConfigError, load_config_text
from airflow_provider_dsjobs.config.instance_types import (
    BUILTIN_CATALOG,
    catalog_from_file,
    default_catalog,
    parse_memory,
)
from airflow_provider_dsjobs.settings import Settings

GIB = 1 << 30
TEAM = """
cpu.small: {cpus: 2, memory: 4Gi}
gpu.a100: {cpus: 16, memory: 120Gi, gpus: 1, gpu-model: A100, shm: 32Gi}
c1.4: {cpus: 1.5, memory: 3G}
"""


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("2Gi", 2 * GIB),
        ("512Mi", 512 << 20),
        ("32G", 32 * 10**9),
        ("4GB", 4 * 10**9),
        ("1.5Gi", 3 * GIB // 2),
        (1024, 1024),
        ("7", 7),
    ],
)
def test_memory_sizes(text: str | int, size: int) -> None:
    assert parse_memory(text) == size


@pytest.mark.parametrize("bad", ["", "2 G B", "-1Gi", "lots", "1e9", True, None, [1]])
def test_bad_memory_sizes_say_what_is_allowed(bad: object) -> None:
    with pytest.raises(ValueError, match="Ki/Mi/Gi/Ti binary"):
        parse_memory(bad)


def test_a_team_file_adds_names_and_replaces_a_builtin_one(tmp_path: Path) -> None:
    path = tmp_path / "types.yaml"
    path.write_text(TEAM)
    catalog = catalog_from_file(path)
    assert catalog["cpu.small"].memory_bytes == 4 * GIB and catalog["cpu.small"].shm_size == 2 * GIB
    gpu = catalog["gpu.a100"]
    assert (gpu.gpus, gpu.gpu_model, gpu.shm_size) == (1, "A100", 32 * GIB)
    assert catalog["c1.4"].cpus == 1.5 and catalog["c1.4"].memory_bytes == 3 * 10**9  # replaced
    assert "g2.1" in catalog and len(catalog) == len(BUILTIN_CATALOG) + 2  # the others stay


def test_every_bad_entry_is_named_with_its_key_path(tmp_path: Path) -> None:
    path = tmp_path / "types.yaml"
    path.write_text(
        "a: {cpus: 0, memory: 1Gi}\nb: {memory: 1Gi}\nc: {cpus: 1, memory: 1Gi, shm: 2Gi}\n"
        "d: {cpus: 1, memory: 1Gi, gpus: -1}\ne: {cpus: 1, memory: 1Gi, vram: 8Gi}\n'-x': {cpus: 1, memory: 1Gi}\n"
        "f: {cpus: 1, memory: 1Ki}\ng: 4\n"
    )
    with pytest.raises(ConfigError) as caught:
        catalog_from_file(path)
    lines = str(caught.value).splitlines()
    assert sorted(lines) == sorted(
        [
            f"{path}: a.cpus: expected a number of CPUs above 0 (fractions are fine, e.g. 0.5)",
            f"{path}: b: `cpus` is required",
            f"{path}: c.shm: expected a size above 0 and at most the type's memory (/dev/shm counts against it)",
            f"{path}: d.gpus: expected a whole number of GPUs from 0 to 64",
            f"{path}: e.vram: unknown key (allowed: cpus, memory, gpus, gpu-model, shm)",
            f"{path}: -x: `-x` is not an instance type name (letters, digits, `_ . -`, at most 63)",
            f"{path}: f.memory: at least 6Mi (Docker's smallest memory limit)",
            f"{path}: g: expected a mapping with `cpus` and `memory` (and optionally `gpus`, `gpu-model`, `shm`)",
        ]
    )


def test_a_broken_or_missing_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "types.yaml"
    path.write_text("a: [1,\n")
    with pytest.raises(ConfigError, match=r"types\.yaml:\d+:\d+: invalid YAML"):
        catalog_from_file(path)
    with pytest.raises(ConfigError, match="cannot read the instance types file"):
        catalog_from_file(tmp_path / "nope.yaml")
    with pytest.raises(ValueError, match=r"nope\.yaml: cannot read the instance types file"):
        Settings.from_env({"DSJOBS_INSTANCE_TYPES": str(tmp_path / "nope.yaml")})


def test_configs_are_checked_against_the_merged_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "types.yaml"
    path.write_text(TEAM)
    with pytest.raises(ConfigError, match=r"unknown instance type `cpu\.small` \(known: c1\.4, c1\.8"):
        load_config_text("cmd: x\ncloud-instance-types: [cpu.small]\n")
    monkeypatch.setenv("DSJOBS_INSTANCE_TYPES", str(path))
    assert default_catalog()["cpu.small"].cpus == 2
    config = load_config_text("cmd: x\ncloud-instance-types: [gpu.a100, cpu.small]\n")
    assert config.cloud_instance_types == ("gpu.a100", "cpu.small")
    with pytest.raises(ConfigError, match=r"unknown instance type `cpu\.large` \(known: .*cpu\.small, gpu\.a100\)"):
        load_config_text("cmd: x\ncloud-instance-types: cpu.large\n")
    explicit = BUILTIN_CATALOG.merged({"x.1": {"cpus": 1, "memory": "1Gi"}}, "extra")
    assert load_config_text("cmd: x\ncloud-instance-type: x.1\n", catalog=explicit).cloud_instance_types == ("x.1",)


def test_the_schema_offers_the_catalogs_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow_provider_dsjobs.cli.main import main

    path = tmp_path / "types.yaml"
    path.write_text(TEAM)
    monkeypatch.setenv("DSJOBS_INSTANCE_TYPES", str(path))
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    plural = schema["properties"]["cloud-instance-types"]["oneOf"]
    assert "cpu.small" in plural[1]["examples"] and "gpu.a100" in plural[2]["items"]["examples"]
    assert "g2.1" in plural[1]["examples"]
    monkeypatch.delenv("DSJOBS_INSTANCE_TYPES")
    assert main(["schema"]) == 0
    assert "cpu.small" not in capsys.readouterr().out  # the shipped schema, byte for byte
