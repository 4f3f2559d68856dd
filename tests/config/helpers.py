"""Helpers for config tests: the seed fixtures and a job directory with the files the seed examples refer to
(the ``job_dir`` fixture in ``conftest.py`` makes one)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"

#: Files the seed examples reference (inputs, requirements, local modules, entry points).
JOB_FILES = (
    "misc/logging.yaml",
    "share/params.json",
    "requirements.txt",
    "other.py",
    "foo.py",
    "lib/__init__.py",
    "main.py",
    "run.sh",
    "data/train.csv",
    "data/extra/more.csv",
    "a..b.txt",
)


def make_job_dir(root: Path) -> Path:
    for name in JOB_FILES:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")
    return root


def write_fixture(job_dir: Path, fixture: str) -> Path:
    """Copy a fixture into ``job_dir`` as config.yaml, with ``@DIR@`` replaced by the job directory."""
    text = (FIXTURES / fixture).read_text(encoding="utf-8").replace("@DIR@", str(job_dir))
    path = job_dir / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path
