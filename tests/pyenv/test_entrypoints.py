from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.pyenv.entrypoints import EntryPoint, find_entry_points, scan_command

F = lambda v: EntryPoint("file", v)  # noqa: E731
M = lambda v: EntryPoint("module", v)  # noqa: E731
OPT = lambda v: EntryPoint("module", v, optional=True)  # noqa: E731


@pytest.mark.parametrize(
    ("cmd", "expected"),
    [
        ("python main.py", [F("main.py")]),
        ("python -u main.py --lr 0.1", [F("main.py")]),  # the official CLI takes -u as the script
        ("python3 -X dev -W ignore main.py", [F("main.py")]),
        ("python3.11 -uB -OO -Wignore::DeprecationWarning -Xutf8 main.py", [F("main.py")]),
        ("python -E -I -s -S main.py", [F("main.py")]),
        ("python --check-hash-based-pycs always main.py", [F("main.py")]),
        ("/usr/bin/python3 ./src/main.py", [F("src/main.py")]),
        ("/opt/conda/bin/python -- main.py", [F("main.py")]),
        ("python -m pkg.mod --x 1", [M("pkg.mod")]),
        ("python -u -mpkg", [M("pkg")]),
        ("python -c 'import os'", []),
        ("deepspeed main.py --num_gpus=1 --deepspeed_stage 2", [OPT("deepspeed"), F("main.py")]),
        ("deepspeed --num_gpus 2 --no_ssh_check main.py --x 1", [OPT("deepspeed"), F("main.py")]),
        ("torchrun --nproc_per_node=2 train.py", [OPT("torch.distributed.run"), F("train.py")]),
        ("torchrun --nproc_per_node 2 --standalone train.py --epochs 3", [OPT("torch.distributed.run"), F("train.py")]),
        ("torchrun --nnodes 1 -m pkg.train", [OPT("torch.distributed.run"), M("pkg.train")]),
        ("torchrun --no-python ./run.sh", [OPT("torch.distributed.run")]),
        ("accelerate launch --num_processes 2 t.py", [OPT("accelerate"), F("t.py")]),
        ("accelerate launch --multi_gpu --mixed_precision fp16 t.py --bs 8", [OPT("accelerate"), F("t.py")]),
        ("accelerate config", []),
        ("python -m torch.distributed.run --nproc_per_node 2 main.py a", [M("torch.distributed.run"), F("main.py")]),
        ("bash run.sh", []),
        ("./run.sh --flag", []),
        ("python ${SCRIPT} --out ${OUT}", []),
        ("python main.py --data ${DATA} --out ${OUT}", [F("main.py")]),
        ("FOO=1 exec env BAR=2 python main.py", [F("main.py")]),
        ("pip list && python a.py; python b.py | tee log.txt", [F("a.py"), F("b.py")]),
        ("python a.py\npython b.py \\\n  --flag", [F("a.py"), F("b.py")]),
        ("cd src && python main.py", [F("src/main.py")]),
        ("bash -c 'python inner.py'", [F("inner.py")]),
        ("python main.py > out.log 2>&1", [F("main.py")]),
    ],
)
def test_entry_points_of_cmd(cmd: str, expected: list[EntryPoint], tmp_path: Path) -> None:
    assert scan_command(cmd, tmp_path).entry_points == expected


def test_inline_code_is_reported(tmp_path: Path) -> None:
    scan = scan_command('python -c "print(1)"', tmp_path)
    assert scan.entry_points == []
    assert scan.inline_code


def test_python_shebang_script_is_an_entry_point(tmp_path: Path) -> None:
    (tmp_path / "run.py").write_text("#!/usr/bin/env python3\nprint('hi')\n")
    (tmp_path / "tool").write_text("#!/usr/bin/python3.11 -u\nprint('hi')\n")
    (tmp_path / "run.sh").write_text("#!/bin/bash\necho hi\n")
    assert scan_command("./run.py --x 1", tmp_path).entry_points == [F("run.py")]
    assert scan_command("./tool", tmp_path).entry_points == [F("tool")]
    assert scan_command("./run.sh", tmp_path).entry_points == []
    assert scan_command("./missing.py", tmp_path).entry_points == []


def test_root_paths_are_added_after_cmd_and_deduplicated(tmp_path: Path) -> None:
    entries = find_entry_points("python main.py other.py", tmp_path, ["other.py", "main.py", "./tools/x.py"])
    assert entries == [F("main.py"), F("other.py"), F("tools/x.py")]
