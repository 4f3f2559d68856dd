"""``jobs/downloads.py`` on both store backends: which object lands in which local file, and the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.documents.plan_doc import OutputPlacement, PlanDoc
from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.jobs.downloads import download_files, plan_placement
from airflow_provider_dsjobs.jobs.errors import JobError
from airflow_provider_dsjobs.jobs.store import JobStore
from airflow_provider_dsjobs.storage.base import ObjectStore, StoreError
from airflow_provider_dsjobs.storage.s3 import S3Store
from tests.storage.stores import local_store, make_s3_store, s3_store, store

__all__ = ["local_store", "s3_store", "store"]


def test_a_key_downloads_as_a_file_and_a_prefix_as_a_directory(store: ObjectStore, tmp_path: Path) -> None:
    store.put_bytes("out/work/result.csv", b"a,b\n")
    store.put_bytes("out/work/model/weights.bin", b"\x00\x01")
    store.put_bytes("out/work/model/cfg/params.json", b"{}")
    store.put_bytes("out/work/model-old/stale.bin", b"not part of model/")
    single = plan_placement(store, "out/work/result.csv", tmp_path / "result.csv", "r")
    assert (single.is_dir, single.files) == (False, [("out/work/result.csv", (), 4)])
    tree = plan_placement(store, "out/work/model", tmp_path / "m", "m")
    assert tree.is_dir and sorted(tree.files) == [
        ("out/work/model/cfg/params.json", ("cfg", "params.json"), 2),
        ("out/work/model/weights.bin", ("weights.bin",), 2),
    ]
    assert plan_placement(store, "out/work/absent", tmp_path / "absent", "a").files == []


def test_a_file_output_never_replaces_a_local_directory(store: ObjectStore, tmp_path: Path) -> None:
    store.put_bytes("out/result.csv", b"a,b\n")
    (tmp_path / "result.csv").mkdir()
    with pytest.raises(JobError, match=r"cannot download output to .*result.csv: it is a directory"):
        plan_placement(store, "out/result.csv", tmp_path / "result.csv", "r")


def test_outputs_land_at_their_config_paths_or_flattened(store: ObjectStore, tmp_path: Path) -> None:
    jobs = JobStore(store, "proj")
    record = JobRecord(id=jobs.new_job_id(), project="proj", base_dir=str(tmp_path / "cfg"))
    prefix = jobs.outputs_prefix(record.id)
    store.put_bytes(f"{prefix}work/res/out.txt", b"result\n")
    store.put_bytes(f"{prefix}vars/TABLE/table.csv", b"x\n1\n")
    record.outputs = {"res/out.txt": "uri-1", "TABLE": "uri-2", "EMPTY": "uri-3"}
    cfg = tmp_path / "cfg"
    doc = PlanDoc(
        job_id=record.id,
        outputs=(
            OutputPlacement("res/out.txt", None, "/job/work/res/out.txt", cfg / "res" / "out.txt"),
            OutputPlacement("table.csv", "TABLE", "/job/outputs/TABLE/table.csv", cfg / "table.csv"),
            OutputPlacement("empty", "EMPTY", "/job/outputs/EMPTY/empty", cfg / "empty"),
            OutputPlacement("never.txt", None, "/job/work/never.txt", cfg / "never.txt"),
        ),
    )
    written = download_files(jobs, record, doc)
    assert sorted(written) == [tmp_path / "cfg" / "res" / "out.txt", tmp_path / "cfg" / "table.csv"]
    assert (tmp_path / "cfg" / "res" / "out.txt").read_bytes() == b"result\n"
    assert (tmp_path / "cfg" / "table.csv").read_bytes() == b"x\n1\n"
    assert (tmp_path / "cfg" / "empty").is_dir()  # an output directory the job left empty
    assert not (tmp_path / "cfg" / "never.txt").exists()  # not in record.outputs: the job did not write it

    flat = tmp_path / "flat"
    written = download_files(jobs, record, doc, output_dir=flat)
    assert sorted(written) == [flat / "out.txt", flat / "table.csv"]
    assert (flat / "out.txt").read_bytes() == b"result\n"


# -- a tampered store never makes a reader write outside the destination (issue 14) ------------------------------


def _job(store: ObjectStore, base: Path, outputs: list[dict[str, str | None]]) -> tuple[JobStore, JobRecord, PlanDoc]:
    """A job whose plan.json (as a tampering writer left it) declares ``outputs``."""
    jobs = JobStore(store, "proj")
    record = JobRecord(id=jobs.new_job_id(), project="proj", base_dir=str(base))
    record.outputs = {str(o["var"] or o["path"]): "uri" for o in outputs}
    placements = tuple(
        OutputPlacement(str(o["path"]), o["var"], str(o["container_path"]), Path(str(o["local_path"]))) for o in outputs
    )
    return jobs, record, PlanDoc(job_id=record.id, outputs=placements)


def _tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_an_output_named_dotdot_is_refused_with_output_dir(store: ObjectStore, tmp_path: Path) -> None:
    base, dest = tmp_path / "cfg", tmp_path / "area" / "dest"
    out = {"path": "..", "var": "UP", "container_path": "/job/outputs/UP/data", "local_path": str(tmp_path)}
    jobs, record, doc = _job(store, base, [out])
    store.put_bytes(f"{jobs.outputs_prefix(record.id)}vars/UP/data/x.txt", b"x")
    with pytest.raises(JobError) as err:
        download_files(jobs, record, doc, output_dir=dest)
    assert str(err.value) == (
        f"refusing to download output '..' of job {record.id}: its name '..' is not a file name, so it has no place"
        f" in {dest} (the job's store entries may have been tampered with); nothing was downloaded"
    )
    assert not (tmp_path / "area").exists()


def test_a_tampered_local_path_is_refused(store: ObjectStore, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "out.txt"
    out = {"path": "out.txt", "var": None, "container_path": "/job/work/out.txt", "local_path": str(elsewhere)}
    jobs, record, doc = _job(store, tmp_path / "cfg", [out])
    store.put_bytes(f"{jobs.outputs_prefix(record.id)}work/out.txt", b"x")
    with pytest.raises(JobError, match=r"refusing to download output 'out.txt' .*: its recorded local path"):
        download_files(jobs, record, doc)
    assert not elsewhere.parent.exists() and not (tmp_path / "cfg").exists()


def test_a_container_path_outside_the_job_is_refused(store: ObjectStore, tmp_path: Path) -> None:
    out = {"path": "x", "var": None, "container_path": "/job/work/../../x", "local_path": str(tmp_path / "cfg/x")}
    jobs, record, doc = _job(store, tmp_path / "cfg", [out])
    with pytest.raises(JobError, match=r"its container path '/job/work/\.\./\.\./x' is not under /job/work"):
        download_files(jobs, record, doc, output_dir=tmp_path / "d")


def test_a_symlink_in_the_destination_does_not_lead_the_files_out(store: ObjectStore, tmp_path: Path) -> None:
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    (dest / "outdir").mkdir(parents=True)
    outside.mkdir()
    (dest / "outdir" / "sub").symlink_to(outside)
    out = {"path": "outdir", "var": None, "container_path": "/job/work/outdir", "local_path": str(tmp_path / "c")}
    jobs, record, doc = _job(store, tmp_path / "c", [out])
    store.put_bytes(f"{jobs.outputs_prefix(record.id)}work/outdir/sub/planted.txt", b"x")
    with pytest.raises(JobError, match=r"outdir/sub/planted.txt would be written at .*outside/planted.txt, outside"):
        download_files(jobs, record, doc, output_dir=dest)
    assert list(outside.iterdir()) == []


def test_s3_keys_with_dotdot_parts_are_refused_before_any_directory_is_made(
    s3_env: dict[str, str], tmp_path: Path
) -> None:
    import boto3

    store = make_s3_store(s3_env)
    out = {"path": "outdir", "var": None, "container_path": "/job/work/outdir", "local_path": str(tmp_path / "c")}
    jobs, record, doc = _job(store, tmp_path / "c", [out])
    prefix = f"{jobs.outputs_prefix(record.id)}work/outdir/"
    store.put_bytes(prefix + "fine.txt", b"fine")
    client = boto3.client("s3", endpoint_url=s3_env["endpoint"], region_name="us-east-1")
    bad_key = f"tests/{prefix}a/../../../../esc/planted.txt"  # S3 keeps '..' parts as they are
    client.put_object(Bucket=s3_env["bucket"], Key=bad_key, Body=b"bad")
    dest = tmp_path / "area" / "dest"
    with pytest.raises(JobError) as err:
        download_files(jobs, record, doc, output_dir=dest)
    assert "refusing to download output 'outdir'" in str(err.value)
    assert f"{prefix}a/../../../../esc/planted.txt" in str(err.value) and "'..' part" in str(err.value)
    assert not (tmp_path / "area").exists() and not list(tmp_path.rglob("esc"))


# -- a download cut off half-way changes nothing locally (issue 14) ----------------------------------------------


def _three_file_output(store: ObjectStore, tmp_path: Path, size: int) -> tuple[JobStore, JobRecord, PlanDoc]:
    base = tmp_path / "cfg"
    outputs = [
        {"path": "model", "var": None, "container_path": "/job/work/model", "local_path": str(base / "model")},
        {
            "path": "score.txt",
            "var": None,
            "container_path": "/job/work/score.txt",
            "local_path": str(base / "score.txt"),
        },
    ]
    jobs, record, doc = _job(store, base, outputs)
    prefix = jobs.outputs_prefix(record.id)
    for name in ("a.bin", "b.bin", "c.bin"):
        store.put_bytes(f"{prefix}work/model/{name}", name.encode() * (size // 5))
    store.put_bytes(f"{prefix}work/score.txt", b"new score\n")
    (base / "model").mkdir(parents=True)
    (base / "model" / "a.bin").write_bytes(b"old a")
    (base / "model" / "mine.txt").write_bytes(b"the user's own file")
    (base / "score.txt").write_bytes(b"old score\n")
    return jobs, record, doc


def _unchanged(base: Path) -> None:
    assert _tree(base) == ["model", "model/a.bin", "model/mine.txt", "score.txt"]  # no partial directories left
    assert (base / "model" / "a.bin").read_bytes() == b"old a" and (base / "score.txt").read_bytes() == b"old score\n"


def test_a_failing_download_leaves_every_output_as_it_was(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs, record, doc = _three_file_output(store, tmp_path, 100)
    calls = []
    real_get_file = store.get_file

    def failing_get_file(key: str, path: Path, progress: object = None) -> None:
        calls.append(key)
        if len(calls) == 3:
            raise StoreError(f"cannot download {key}: connection reset (injected)")
        real_get_file(key, path, progress)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "get_file", failing_get_file)
    with pytest.raises(JobError) as err:
        download_files(jobs, record, doc)
    assert f"download of job {record.id} stopped after 2 of 4 file(s): cannot download" in str(err.value)
    assert "no output was changed locally" in str(err.value)
    _unchanged(tmp_path / "cfg")

    monkeypatch.undo()
    written = download_files(jobs, record, doc)
    assert len(written) == 4 and (tmp_path / "cfg" / "score.txt").read_bytes() == b"new score\n"
    assert (tmp_path / "cfg" / "model" / "mine.txt").exists() and (tmp_path / "cfg" / "model" / "c.bin").exists()


def test_a_connection_cut_mid_download_leaves_every_output_as_it_was(s3_env: dict[str, str], tmp_path: Path) -> None:
    """moto behind a proxy that drops the connection after 300 kB of a 600 kB output set, and refuses after."""
    from tests.faults import cuttable_proxy

    with cuttable_proxy(s3_env["endpoint"]) as proxy:
        store = S3Store(s3_env["bucket"], "tests", endpoint_url=proxy.http_url, max_attempts=2, read_timeout=5)
        jobs, record, doc = _three_file_output(store, tmp_path, 200_000)
        proxy.cut_after(300_000)
        with pytest.raises(JobError, match=f"download of job {record.id} stopped after [0-3] of 4 file"):
            download_files(jobs, record, doc)
        _unchanged(tmp_path / "cfg")
