"""Lost engines and failing steps on a fake runtime and a temporary local store: an engine that stops answering,
a container that is gone, a job of another engine read from here, and a failure in each step (stage-in, launch,
stage-out, sync-back, the final record write). A lost engine changes nothing (the job's fate is unknown, not
failed); a failed step ends the job ERROR with the reason and leaves no container behind."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs.documents.mount_sync import SyncMount
from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.jobs.errors import EngineElsewhere, EngineLost, JobError
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.jobs.stage_out import StageOutRequest, SyncTarget, stage_out
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.storage.base import StoreError
from airflow_provider_dsjobs.storage.cas import InputStager
from tests.jobs.fake_runtime import FakeRuntime
from tests.jobs.lifecycle_kit import Kit, assert_follows_the_table, make_kit, statuses

S = JobStatus


@pytest.fixture()
def kit(tmp_path: Path) -> Kit:
    return make_kit(tmp_path)


# -- lost engines ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["get", "refresh", "finalize", "wait"])
def test_an_unreachable_engine_changes_nothing_until_it_answers(kit: Kit, step: str) -> None:
    record = kit.exited(0)
    before = kit.stored(record.id)
    kit.runtime.unreachable = True
    with pytest.raises(EngineLost, match="not answering"):
        getattr(kit.service, step)(record.id)
    assert kit.stored(record.id) == before  # unknown, not failed: nothing saved
    kit.runtime.unreachable = False
    done = kit.service.get(record.id)
    assert (done.status, list(done.outputs)) == (S.SUCCESS, ["out.txt"])


def test_a_cancel_with_an_unreachable_engine_is_saved_and_finished_once_it_answers(kit: Kit) -> None:
    record = kit.running()
    kit.runtime.unreachable = True
    with pytest.raises(EngineLost, match="not answering"):
        kit.service.cancel(record.id)
    assert kit.stored(record.id).status == S.CANCELLING  # asked for: whoever reads the job next finishes it
    assert record.container_id in kit.runtime.containers
    kit.runtime.unreachable = False
    assert kit.service.get(record.id).status == S.CANCELLED


def test_a_container_gone_after_another_finalizer_committed_takes_its_outcome(kit: Kit) -> None:
    record = kit.exited(3)
    kit.commit_elsewhere(record, 3)
    kit.runtime.vanish(record.container_id or "")
    done = kit.service.get(record.id)
    assert (done.status, done.status_details) == (S.ERROR, "program exited with code 3")  # not "disappeared"
    assert done.logs and list(done.outputs) == ["out.txt"]


def test_a_container_gone_while_running_ends_error(kit: Kit) -> None:
    record = kit.running()
    kit.runtime.vanish(record.container_id or "")
    assert kit.service.refresh(record.id).status == S.UPLOADING_OUTPUT  # reported: finalize decides
    done = kit.service.get(record.id)
    assert (done.status, done.status_details) == (S.ERROR, f"container dsjobs-{record.id} disappeared")
    assert_follows_the_table(kit.stored(record.id))


def _elsewhere(kit: Kit) -> JobService:
    """A reader on another engine that has no address for the job's engine in its engine map."""
    return JobService(replace(kit.settings, engine_name="b"), runtime=FakeRuntime(engine_id="OTHER:ENGINE"))


@pytest.mark.parametrize("step", ["refresh", "finalize", "cancel", "request_cancel"])
def test_a_job_of_another_engine_is_not_decided_here(kit: Kit, step: str) -> None:
    record = kit.exited(0)
    before = kit.stored(record.id)
    with pytest.raises(EngineElsewhere, match=rf"job {record.id} is running on engine .* \(not reachable from here\)"):
        getattr(_elsewhere(kit), step)(record.id)
    assert kit.stored(record.id) == before
    assert record.container_id in kit.runtime.containers  # its own engine still holds it


def test_a_job_of_another_engine_reads_as_stored(kit: Kit) -> None:
    record = kit.exited(0)
    reader = _elsewhere(kit)
    seen = reader.get(record.id)
    assert seen.status == S.EXECUTING and "not reachable from here" in (seen.status_details or "")
    assert kit.stored(record.id).status_details is None  # shown, not saved
    assert list(reader.logs(record.id)) == []  # nothing stored before it ends
    assert reader.settle_exited() == []  # left alone
    assert kit.service.get(record.id).status == S.SUCCESS  # its own engine finalizes it


# -- a failure in each step ------------------------------------------------------------------------------------


def _submit_failing(kit: Kit, match: str) -> str:
    created: list[str] = []
    with pytest.raises(JobError, match=match):
        kit.service.submit(kit.config, on_created=lambda r: created.append(r.id))
    return created[0]


def test_a_stage_in_failure_ends_error_before_any_container(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    def upload(*args: Any, **kwargs: Any) -> None:
        raise StoreError("cannot write blobs/sha256/ab/abc: disk full")

    monkeypatch.setattr(InputStager, "_upload", upload)
    job_id = _submit_failing(kit, "disk full")
    stored = kit.stored(job_id)
    assert (stored.status, statuses(stored)) == (S.ERROR, [S.CREATING, S.ERROR])
    assert "disk full" in (stored.status_details or "") and "\n" not in (stored.status_details or "")
    assert kit.runtime.containers == {} and kit.runtime.removed == []


@pytest.mark.parametrize(
    ("method", "created"), [("ensure_image", False), ("create", False), ("put_archive", True), ("start", True)]
)
def test_a_launch_failure_ends_error_and_leaves_no_container(kit: Kit, method: str, created: bool) -> None:
    kit.runtime.fail_next(method, RuntimeFailure(f"{method} refused by the engine"))
    job_id = _submit_failing(kit, f"{method} refused by the engine")
    stored = kit.stored(job_id)
    assert (stored.status, stored.status_details) == (S.ERROR, f"{method} refused by the engine")
    assert statuses(stored) == [S.CREATING, S.PREPARING, S.ERROR]
    assert kit.runtime.containers == {} and kit.runtime.started == []
    assert bool(kit.runtime.removed) == created  # the container it got is removed


def test_a_stage_out_failure_still_stores_the_log_and_ends_error(kit: Kit) -> None:
    record = kit.exited(0)
    kit.runtime.say(record.container_id or "", "hello from the job")
    kit.runtime.fail_next("export", RuntimeFailure("export broke"))
    done = kit.service.finalize(record.id)
    assert (done.status, done.status_details) == (S.ERROR, "collecting outputs failed: export broke")
    assert ("stdout", "hello from the job") in list(kit.service.logs(record.id))
    assert record.container_id not in kit.runtime.containers


def test_a_failed_sync_back_turns_success_into_error_without_touching_the_record(kit: Kit) -> None:
    record = kit.exited(0)
    mount = SyncMount("m1", "s3://bucket/prefix", "/job/s3/m1", connector=True)
    request = StageOutRequest(
        record.id, "p", record.container_id or "", 0, 0, False, sync=(SyncTarget(mount, error="no such connector"),)
    )
    before = kit.stored(record.id)
    result = stage_out(kit.service.jobs, kit.runtime, request, kit.service.context.plan_doc(record.id))
    assert result.outcome == (S.ERROR, "syncing s3-mount m1 back to s3://bucket/prefix failed: no such connector")
    assert [(m.id, m.error) for m in result.s3_sync] == [("m1", "no such connector")]
    assert kit.stored(record.id) == before  # a step returns its result; only the lifecycle stores it
    done = kit.service.finalize(record.id)  # the committed manifest is the outcome
    assert (done.status, [m.id for m in done.s3_sync]) == (S.ERROR, ["m1"])


def test_a_failed_final_write_is_recovered_from_the_committed_manifest(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = kit.exited(0)
    store = kit.service.store
    real = store.put_bytes_if
    writes: list[str] = []

    def put_bytes_if(key: str, data: bytes, **kwargs: Any) -> str:
        if key.endswith("record.json"):
            writes.append(key)
            if len(writes) == 2:  # UPLOADING_OUTPUT is saved, the terminal status is not
                raise StoreError("the store is down")
        return real(key, data, **kwargs)

    monkeypatch.setattr(store, "put_bytes_if", put_bytes_if)
    with pytest.raises(JobError, match="the store is down"):
        kit.service.finalize(record.id)
    assert kit.stored(record.id).status == S.UPLOADING_OUTPUT
    monkeypatch.undo()
    done = kit.service.get(record.id)
    assert (done.status, list(done.outputs)) == (S.SUCCESS, ["out.txt"])
    assert_follows_the_table(kit.stored(record.id))
