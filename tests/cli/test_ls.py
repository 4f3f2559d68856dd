"""``dsjobs ls``: the newest jobs a page at a time, filters, and one-line errors for bad options (records are
created in a local store directly; listing needs no engine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_dsjobs.cli.main import main
from airflow_provider_dsjobs.documents.record import JobRecord, JobStatus
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.storage.local import LocalStore


@pytest.fixture()
def made(tmp_path: Path) -> list[JobRecord]:
    """60 jobs, oldest first: every fifth ERROR, the rest SUCCESS; names train-0 .. train-59."""
    jobs = JobStore(LocalStore(tmp_path / "store"), "p")
    records = []
    for i in range(60):
        record = JobRecord(id=jobs.new_job_id(), project="p", name=f"train-{i}")
        record.set_status(JobStatus.ERROR if i % 5 == 0 else JobStatus.SUCCESS)
        jobs.create(record)
        records.append(record)
    return records


@pytest.fixture()
def opts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.delenv("DSJOBS_STORE", raising=False)
    monkeypatch.setenv("DSJOBS_HOME", str(tmp_path / "home"))
    return ["--store", (tmp_path / "store").as_uri(), "--project", "p", "--format", "json"]


def _ls(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[list[str], str]:
    assert main(["ls", *args]) == 0
    out, err = capsys.readouterr()
    return [j["name"] for j in json.loads(out)], err


def test_ls_shows_the_newest_50_and_says_there_is_more(
    made: list[JobRecord], opts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    names, err = _ls(capsys, *opts)
    assert names == [f"train-{i}" for i in range(59, 9, -1)]
    assert "newest 50 shown; more with --offset 50, or --all" in err
    names, err = _ls(capsys, *opts, "--offset", "50")
    assert names == [f"train-{i}" for i in range(9, -1, -1)] and err == ""
    names, _ = _ls(capsys, *opts, "--all")
    assert len(names) == 60 and names[0] == "train-59"


def test_ls_filters_by_status_and_name(
    made: list[JobRecord], opts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    names, _ = _ls(capsys, *opts, "--status", "error", "--limit", "3")
    assert names == ["train-55", "train-50", "train-45"]
    names, _ = _ls(capsys, *opts, "--status", "ERROR,SUCCESS", "--name", "TRAIN-5")
    assert names == [f"train-{i}" for i in range(59, 49, -1)] + ["train-5"]
    names, _ = _ls(capsys, *opts, "--name", "../*[(", "--all")  # any text is only a substring to look for
    assert names == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limit", "0"], "dsjobs: dsjobs ls: limit must be between 1 and 500, got 0"),
        (["--limit", "100000"], "dsjobs: dsjobs ls: limit must be between 1 and 500, got 100000"),
        (["--offset", "-1"], "dsjobs: dsjobs ls: offset must be zero or more, got -1"),
        (["--status", "DONE;rm -rf /"], "dsjobs: dsjobs ls: unknown job status 'DONE;RM -RF /' (allowed: CREATING,"),
    ],
)
def test_bad_ls_options_are_one_line_errors(
    opts: list[str], capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["ls", *opts, *args]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(message) and len(err.strip().splitlines()) == 1
