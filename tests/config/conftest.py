"""Fixtures for config tests: a job directory with the files the seed examples refer to."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.helpers import make_job_dir


@pytest.fixture
def job_dir(tmp_path: Path) -> Path:
    return make_job_dir(tmp_path / "job")
