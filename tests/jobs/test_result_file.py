"""``DSJOBS_RESULT_FILE``: JSON a job writes is kept with it as ``result``; invalid or too large, the status stays,
a warning line says why and there is no result (real engine, local store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.result_file import MAX_RESULT_BYTES
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import write_job

pytestmark = [pytest.mark.docker]


def _run(service: JobService, tmp_path: Path, cmd: str) -> tuple[JobStatus, object, list[str]]:
    config = load_config(write_job(tmp_path / "job", f"cmd: |\n  {cmd}\n"))
    done = service.wait(service.submit(config).id)
    system = [line for stream, line in service.logs(done.id) if stream == "system"]
    return done.status, service.read(done.id).result, system


@pytest.mark.parametrize(
    ("cmd", "result"),
    [
        (
            """echo '{"accuracy": 0.93, "labels": ["a", "b"]}' > "$DSJOBS_RESULT_FILE\"""",
            {"accuracy": 0.93, "labels": ["a", "b"]},
        ),
        ("""printf '42' > "$DSJOBS_RESULT_FILE\"""", 42),
        ("""python3 -c 'import json,os; json.dump("ok", open(os.environ["DSJOBS_RESULT_FILE"], "w"))'""", "ok"),
        ("true", None),
    ],
    ids=["object", "number", "from-python", "nothing-written"],
)
def test_a_job_hands_back_json(local_settings: Settings, tmp_path: Path, cmd: str, result: object) -> None:
    status, kept, system = _run(JobService(local_settings), tmp_path, cmd)
    assert status == JobStatus.SUCCESS and kept == result
    assert not [line for line in system if "DSJOBS_RESULT_FILE" in line]


@pytest.mark.parametrize(
    ("cmd", "warning"),
    [
        ("""echo '{"accuracy": 0.9' > "$DSJOBS_RESULT_FILE\"""", "DSJOBS_RESULT_FILE is not valid JSON ("),
        (
            f"""head -c {MAX_RESULT_BYTES + 1} /dev/zero | tr '\\\\0' 1 > "$DSJOBS_RESULT_FILE\"""",
            f"DSJOBS_RESULT_FILE holds {MAX_RESULT_BYTES + 1} bytes, over the {MAX_RESULT_BYTES} allowed",
        ),
        ("""printf '\\377\\376' > "$DSJOBS_RESULT_FILE\"""", "DSJOBS_RESULT_FILE is not UTF-8 text"),
        ("""mkdir "$DSJOBS_RESULT_FILE\"""", "is not a regular file"),
    ],
    ids=["invalid-json", "too-large", "not-utf8", "a-directory"],
)
def test_a_bad_result_keeps_the_status_and_says_why(
    local_settings: Settings, tmp_path: Path, cmd: str, warning: str
) -> None:
    status, kept, system = _run(JobService(local_settings), tmp_path, cmd)
    assert status == JobStatus.SUCCESS and kept is None
    assert any(line.startswith("warning: ") and warning in line for line in system), system


def test_a_failed_job_still_hands_back_its_result(local_settings: Settings, tmp_path: Path) -> None:
    status, kept, _ = _run(
        JobService(local_settings), tmp_path, """echo '{"loss": 9.5}' > "$DSJOBS_RESULT_FILE"; exit 3"""
    )
    assert status == JobStatus.ERROR and kept == {"loss": 9.5}
