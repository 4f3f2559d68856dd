"""An output dataset's declared size is a limit: larger, it is not published and the job ends ERROR saying so
(real engine, both stores; the CLI prints what was created)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.cli.main import main
from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.service import JobError, JobService
from airflow_provider_dsjobs.jobs.stage_out import dataset_id
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import write_job

pytestmark = [pytest.mark.docker]

JOB = """
cmd: |
  head -c 100 /dev/zero > ${SMALL}/a.bin
  for i in 1 2 3 4 5; do head -c 1000 /dev/zero > ${BIG}/part-$i.bin; done
output-datasets:
  - {name: small, var: SMALL, size: 1KB}
  - {name: big, var: BIG, size: 1KB}
"""


def test_a_dataset_over_its_declared_size_is_not_published(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    service = JobService(settings)
    done = service.wait(service.submit(load_config(write_job(tmp_path / "job", JOB))).id)
    assert done.status == JobStatus.ERROR and done.return_code == 0
    assert done.status_details == (
        "output dataset 'big' is 4.9 KiB (5000 bytes), over its declared size 1.0 KiB (1024 bytes): not published"
    )
    assert list(done.output_datasets) == ["small"]
    big = dataset_id(done.id, "big")
    assert list(service.store.list(service.jobs.datasets_prefix(big))) == []  # nothing left behind
    assert any("over its declared size" in line for _, line in service.logs(done.id))
    with pytest.raises(JobError, match=f"unknown dataset '{big}'"):
        service.submit(load_config(write_job(tmp_path / "use", f"cmd: ls ${{D}}\ndatasets:\n  - {big}: D\n")))

    monkeypatch.setenv("DSJOBS_DEFAULT_IMAGE", settings.default_image)
    monkeypatch.setenv("DSJOBS_HOME", str(settings.home))
    cli = ["--store", settings.effective_store_url, "--project", settings.project]
    fits = JOB.replace("size: 1KB}\n", "size: 1MB}\n")
    assert main(["execute", "-c", str(write_job(tmp_path / "fits", fits)), *cli]) == 0
    err = capsys.readouterr().err.splitlines()
    at = err.index("Created datasets:")
    assert err[at + 1].startswith("  * ds") and err[at + 1].endswith(" (small) size: 100 B")
    assert err[at + 2].endswith(" (big) size: 4.9 KiB")
