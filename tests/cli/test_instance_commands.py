"""``dsjobs instance-types``: the merged catalog and what this engine can give each type now (real engine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_dsjobs.cli.main import main

pytestmark = [pytest.mark.docker]


def test_instance_types_lists_the_catalog_against_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "types.yaml"
    catalog.write_text(
        "cpu.tiny: {cpus: 0.25, memory: 64Mi}\ngpu.a100: {cpus: 1, memory: 1Gi, gpus: 1, gpu-model: A100}\n"
    )
    monkeypatch.setenv("DSJOBS_INSTANCE_TYPES", str(catalog))
    assert main(["instance-types", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["engine"]["cpus"] >= 1 and data["engine"]["memory_bytes"] > 0
    rows = {row["name"]: row for row in data["instance_types"]}
    # the engine is shared: other jobs may hold its CPUs, then a type runs capped (and says so)
    assert rows["cpu.tiny"]["now"] == "fits" or rows["cpu.tiny"]["now"].startswith("capped: needs 0.25 CPUs")
    assert rows["cpu.tiny"]["shm_bytes"] == 32 << 20
    assert "no GPU support" in rows["gpu.a100"]["now"] or "GPUs are" in rows["gpu.a100"]["now"]
    assert "c1.4" in rows  # the built-in names stay
    assert main(["instance-types"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("engine: ") and any(line.startswith("cpu.tiny ") for line in table)
    catalog.write_text("bad: {cpus: 1}\n")
    assert main(["instance-types"]) == 2
    assert "bad: `memory` is required" in capsys.readouterr().err
