"""Fork runs the data the source job stored, not what is on disk now, from any machine (real engine, both stores)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.config.overrides import Overrides
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.service import JobError, JobService
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import PYENV, write_job

pytestmark = [pytest.mark.docker]

JOB = """
name: forkable
cmd: ./run.sh ${DATA} ${N} > ${OUT}
args: {N: "1"}
inputs:
  - run.sh
  - notes.txt
  - data/: DATA
outputs:
  - out.txt: OUT
"""

FILES = {
    "run.sh": '#!/bin/sh\nset -e\necho "run v1 n=$2"\ncat notes.txt\ncat "$1"/a.txt\n',
    "notes.txt": "notes v1\n",
    "data/a.txt": "data v1\n",
}


def _out(service: JobService, job_id: str) -> str:
    record = service.get(job_id)
    assert record.status == JobStatus.SUCCESS, record.status_details
    key = record.outputs["OUT"][len(service.store.url.rstrip("/")) + 1 :]
    return service.store.get_bytes(key).decode()


def test_fork_runs_the_stored_inputs_wherever_it_is_forked(settings: Settings, tmp_path: Path) -> None:
    job_dir = tmp_path / "job"
    service = JobService(settings)
    cfg = write_job(job_dir, JOB, FILES)
    (job_dir / "run.sh").chmod(0o755)
    source = service.wait(service.submit(load_config(cfg)).id)
    assert _out(service, source.id) == "run v1 n=1\nnotes v1\ndata v1\n"

    # Edited and deleted since: the fork still runs what the source stored (run.sh keeps its execute bit).
    (job_dir / "notes.txt").write_text("notes EDITED\n")
    (job_dir / "run.sh").unlink()
    shutil.rmtree(job_dir / "data")
    fork = service.wait(service.fork(source.id, Overrides(args={"N": "2"})).id)
    assert fork.parent_job_id == source.id
    assert _out(service, fork.id) == "run v1 n=2\nnotes v1\ndata v1\n"

    # Another machine: its own DSJOBS_HOME (no hash cache), the same store, none of the files; an input
    # override is the only thing read locally.
    new_data = tmp_path / "elsewhere" / "data"
    new_data.mkdir(parents=True)
    (new_data / "a.txt").write_text("data v2\n")
    shutil.rmtree(job_dir)
    other = JobService(dataclasses.replace(settings, home=tmp_path / "other-home"))
    again = other.wait(other.fork(source.id, Overrides(vars={"DATA": str(new_data)}, name="moved")).id)
    assert again.name == "moved" and again.parent_job_id == source.id
    assert _out(other, again.id) == "run v1 n=1\nnotes v1\ndata v2\n"
    by_path = {ref.path: ref for ref in again.inputs}
    assert by_path["notes.txt"].sha256 == {r.path: r for r in source.inputs}["notes.txt"].sha256


def test_fork_overrides_env_instance_type_and_image(local_settings: Settings, tmp_path: Path) -> None:
    config = 'cmd: echo "$GREETING from $(cat /etc/debian_version | cut -c1-2)" > out.txt\noutputs: [out.txt]\n'
    config += "env: {vars: [{GREETING: hi}]}\n"
    service = JobService(local_settings)
    source = service.wait(service.submit(load_config(write_job(tmp_path / "job", config))).id)
    assert source.status == JobStatus.SUCCESS
    fork = service.wait(
        service.fork(
            source.id,
            Overrides(
                env_vars={"GREETING": "hello"},
                cloud_instance_types=("c1.8",),
                image=local_settings.default_image,
                desc="tweaked",
            ),
        ).id
    )
    assert fork.status == JobStatus.SUCCESS and fork.desc == "tweaked" and fork.instance_type == "c1.8"
    assert fork.image == local_settings.default_image
    key = fork.outputs["out.txt"][len(service.store.url.rstrip("/")) + 1 :]
    assert service.store.get_bytes(key).decode().startswith("hello from ")
    with pytest.raises(JobError, match=r"overrides\.image"):
        service.fork(source.id, Overrides(image=""))


def test_fork_fails_clearly_when_the_stored_inputs_are_gone(local_settings: Settings, tmp_path: Path) -> None:
    service = JobService(local_settings)
    source = service.wait(service.submit(load_config(write_job(tmp_path / "job", JOB, FILES))).id)
    store = service.store
    for info in list(store.list(f"projects/{local_settings.project}/blobs/")):
        store.delete(info.key)
    with pytest.raises(JobError, match=r"is gone|is missing"):
        service.fork(source.id)


def test_fork_reuses_the_python_environment_and_local_modules(pyenv_settings: Settings, tmp_path: Path) -> None:
    files = {
        "main.py": "from lib.util import greet\nprint(greet())\n",
        "lib/__init__.py": "",
        "lib/util.py": "def greet():\n    return 'lib v1'\n",
        "requirements.txt": "",
    }
    job_dir = tmp_path / "job"
    service = JobService(pyenv_settings)
    source = service.wait(service.submit(load_config(write_job(job_dir, PYENV, files))).id)
    assert source.status == JobStatus.SUCCESS, source.status_details
    shutil.rmtree(job_dir)  # main.py, lib/ and requirements.txt: all gone
    lines: list[str] = []
    fork = service.wait(service.fork(source.id).id, log=lambda s, line: lines.append(line))
    assert fork.status == JobStatus.SUCCESS, fork.status_details
    assert "lib v1" in lines
