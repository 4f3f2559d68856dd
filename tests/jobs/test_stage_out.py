"""Stage-out of what a hostile (or careless) job leaves behind, on a real engine with both stores: odd but legal
names, links, FIFOs, and (injected) archive members that would leave the destination. Whatever is there, the
logs are stored, every regular file is committed with the manifest, and what was skipped is said in the log."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.manifest import read_outputs_manifest
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.runtime.containers import Runtime
from airflow_provider_dsjobs.runtime.tarstream import TarReader
from airflow_provider_dsjobs.settings import Settings
from tests.jobs.service_helpers import write_job

pytestmark = [pytest.mark.docker]

HOSTILE = r"""
cmd: |
  set -e
  mkdir -p outdir
  echo plain > outdir/plain.txt
  echo esc > 'outdir/..\..\esc.txt'
  echo ab > 'outdir/a\b.txt'
  echo back > 'back\slash.txt'
  ln outdir/plain.txt outdir/another-name.txt
  ln -s /etc outdir/etc-link
  mkfifo outdir/fifo
  ln -s /etc/passwd evil.txt
outputs:
  - outdir
  - back\slash.txt
  - evil.txt
"""


def _system_lines(service: JobService, job_id: str) -> list[str]:
    return [line for stream, line in service.logs(job_id) if stream == "system"]


def _stored(service: JobService, job_id: str) -> dict[str, bytes]:
    prefix = service.jobs.outputs_prefix(job_id)
    return {
        info.key[len(prefix) :].lstrip("/"): service.store.get_bytes(info.key)
        for info in service.store.list(prefix)
        if not info.key.endswith("manifest.json")
    }


def test_odd_names_links_and_fifos_are_collected_or_reported(settings: Settings, tmp_path: Path) -> None:
    service = JobService(settings)
    record = service.submit(load_config(write_job(tmp_path / "job", HOSTILE)))
    done = service.wait(record.id)

    assert done.status == JobStatus.SUCCESS, done.status_details
    assert done.logs, "the logs are always stored"
    # A backslash is part of a name: nothing arrives as a/b.txt, nothing climbs out of outdir/.
    assert _stored(service, record.id) == {
        "work/outdir/plain.txt": b"plain\n",
        "work/outdir/another-name.txt": b"plain\n",  # a hard link is the file it names
        "work/outdir/..\\..\\esc.txt": b"esc\n",
        "work/outdir/a\\b.txt": b"ab\n",
        "work/back\\slash.txt": b"back\n",
    }
    assert set(done.outputs) == {"outdir", "back\\slash.txt"}
    # A symbolic link as an output is reported missing, never followed (it is not an empty directory either).
    assert done.missing_outputs == ["evil.txt"]
    manifest = read_outputs_manifest(service.jobs, record.id)
    assert manifest is not None and manifest.missing_outputs == ("evil.txt",)
    assert len(manifest.files) == 5
    system = "\n".join(_system_lines(service, record.id))
    assert "output 'evil.txt' is a symbolic link (to /etc/passwd), not a file or directory" in system
    assert "skipped 'outdir/etc-link': a symbolic link to /etc (not collected)" in system
    assert "skipped unsupported archive member 'outdir/fifo'" in system

    out = tmp_path / "down"
    before = set(tmp_path.iterdir())
    written = service.download_files(record.id, output_dir=out)
    assert sorted(p.relative_to(out).as_posix() for p in written) == [
        "back\\slash.txt",
        "outdir/..\\..\\esc.txt",
        "outdir/a\\b.txt",
        "outdir/another-name.txt",
        "outdir/plain.txt",
    ]
    assert (out / "outdir" / "..\\..\\esc.txt").read_text() == "esc\n"
    assert set(tmp_path.iterdir()) - before == {out} and not list(tmp_path.rglob("esc.txt"))


def _with_unsafe_members(real_export: Any) -> Any:
    """``Runtime.export`` as a hostile engine would answer: the real archive plus members that leave it."""

    def export(self: Runtime, container_id: str, path: str) -> TarReader:
        buffer = io.BytesIO()
        with (
            real_export(self, container_id, path) as reader,
            reader.open_tar() as real,
            tarfile.open(fileobj=buffer, mode="w") as out,
        ):
            for name in ("../escaped.txt", "/abs.txt", "outdir/../../up.txt"):
                info = tarfile.TarInfo(name)
                info.size = 4
                out.addfile(info, io.BytesIO(b"bad\n"))
            for member in real:
                out.addfile(member, real.extractfile(member) if member.isfile() else None)
        return TarReader(iter([buffer.getvalue()]))

    return export


def test_an_unsafe_member_is_skipped_and_everything_else_committed(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = "cmd: |\n  mkdir -p outdir\n  echo plain > outdir/plain.txt\n  echo log line\noutputs:\n  - outdir\n"
    service = JobService(settings)
    record = service.submit(load_config(write_job(tmp_path / "job", config)))
    monkeypatch.setattr(Runtime, "export", _with_unsafe_members(Runtime.export))
    done = service.wait(record.id)

    assert done.status == JobStatus.SUCCESS, done.status_details
    assert _stored(service, record.id) == {"work/outdir/plain.txt": b"plain\n"}
    assert read_outputs_manifest(service.jobs, record.id) is not None
    assert not [i.key for i in service.store.list("") if "escaped" in i.key or "abs.txt" in i.key or "up.txt" in i.key]
    assert ("stdout", "log line") in list(service.logs(record.id))
    system = "\n".join(_system_lines(service, record.id))
    assert "skipped unsafe archive member '../escaped.txt': it leaves the destination directory" in system
    assert "skipped unsafe archive member '/abs.txt': absolute path" in system
    assert "skipped unsafe archive member 'outdir/../../up.txt'" in system
