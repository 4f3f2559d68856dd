"""Engine caches expire: ``gc`` removes a project's cache volumes unused for long or over the budget, least
recently used first, never one a container holds nor one dsjobs did not make (real Docker engine, local store).

Every volume here belongs to the test's own project (``dsjobs.project=<fresh name>``), so the volumes other tests
and users keep on the shared engine are never candidates; the fixture removes what a test left.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_dsjobs.config import load_config
from airflow_provider_dsjobs.documents.record import JobStatus, utcnow
from airflow_provider_dsjobs.jobs.cache_gc import CachePolicy, collect_engine_caches, list_engine_caches
from airflow_provider_dsjobs.jobs.cache_use import last_uses, record_use, use_key
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.resources.project_disk import project_volume_name
from airflow_provider_dsjobs.runtime.labels import LABEL_PROJECT
from airflow_provider_dsjobs.runtime.volumes import CACHE_LABEL
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.base import ObjectInfo
from airflow_provider_dsjobs.storage.local import LocalStore
from tests.jobs.cache_helpers import DAY, LATER, Caches, caches
from tests.jobs.service_helpers import write_job

__all__ = ["caches"]

pytestmark = [pytest.mark.docker]

AGE_ONLY = CachePolicy(max_age=30 * DAY, budget=None)


def test_an_old_volume_goes_and_a_recently_used_one_stays(caches: Caches) -> None:
    old = caches.volume("old", size=4096)
    recent = caches.volume("recent", kind="lab-data", size=1024)
    caches.used(recent, LATER - DAY)  # a job used it yesterday (40 days from now)
    size = caches.sizes()[old]

    report = caches.collect(AGE_ONLY)

    assert [c.name for c in report.removed] == [old] and report.kept == {}
    assert report.bytes_freed == size >= 4096  # what the engine's df said it held
    assert not caches.exists(old) and caches.exists(recent)
    assert caches.collect(AGE_ONLY, now=utcnow()).removed == []  # today nothing is 30 days old


def test_a_volume_a_container_holds_is_kept_running_or_not(caches: Caches, docker_client: Any) -> None:
    idle, busy = caches.volume("idle"), caches.volume("busy")
    created = docker_client.containers.create(
        caches.image, ["true"], volumes={idle: {"bind": "/v"}}, labels={LABEL_PROJECT: caches.project}
    )
    running = docker_client.containers.run(
        caches.image, ["sleep", "60"], volumes={busy: {"bind": "/v"}}, labels={LABEL_PROJECT: caches.project},
        detach=True,
    )  # fmt: skip
    try:
        report = caches.collect(AGE_ONLY)
        assert report.removed == []
        assert report.kept == {idle: f"in use by {created.name}", busy: f"in use by {running.name}"}
        assert caches.exists(idle) and caches.exists(busy)
        listed = {c.name: c for c in list_engine_caches(caches.runtime, caches.store, caches.engine_id, caches.project)}
        assert listed[idle].used_by == (created.name,) and listed[busy].in_use
    finally:
        created.remove(force=True)
        running.remove(force=True)
    assert {c.name for c in caches.collect(AGE_ONLY).removed} == {busy, idle}  # free again: both go


def test_the_budget_evicts_the_least_recently_used_first(caches: Caches) -> None:
    a, b, c = (caches.volume(n, size=8192) for n in ("a", "b", "c"))
    now = utcnow() + 10 * DAY  # the records below are later than the volumes' creation: they decide
    caches.used(a, now - 2 * DAY)
    caches.used(b, now - 3 * DAY)  # the least recently used
    caches.used(c, now - 1 * DAY)
    sizes = caches.sizes()
    total = sum(sizes.values())

    dry = caches.collect(CachePolicy(None, budget=total - sizes[b]), now=now, dry_run=True)
    assert [v.name for v in dry.removed] == [b] and dry.bytes_freed == sizes[b]
    assert caches.exists(b)  # a dry run removes nothing

    report = caches.collect(CachePolicy(None, budget=total - sizes[b] - 1), now=now)
    assert [v.name for v in report.removed] == [b, a]  # b was not enough: a, the next least recently used
    assert report.bytes_freed == sizes[b] + sizes[a]
    assert not caches.exists(a) and not caches.exists(b) and caches.exists(c)
    assert set(last_uses(caches.store, caches.project, caches.engine_id)) == {c}  # their records went too


def test_volumes_dsjobs_did_not_make_or_of_other_projects_are_never_touched(
    caches: Caches, docker_client: Any, local_settings: Settings
) -> None:
    labels = {LABEL_PROJECT: caches.project, CACHE_LABEL: "pyenv"}
    by_hand = docker_client.volumes.create(f"dsjobs-pyenv-{caches.project}-by-hand", labels=labels)  # not managed
    caches.made.append(by_hand.name)
    other = caches.volume("other", labels={LABEL_PROJECT: f"{caches.project}x", CACHE_LABEL: "pyenv"})
    not_a_cache = caches.volume("plain", kind="scratch", labels={LABEL_PROJECT: caches.project})  # no kind
    everything = CachePolicy(max_age=DAY, budget=1)

    report = caches.collect(everything)

    assert report.removed == [] and report.kept == {}
    assert caches.exists(by_hand.name) and caches.exists(other) and caches.exists(not_a_cache)
    assert by_hand.name not in {c.name for c in list_engine_caches(caches.runtime, caches.store, caches.engine_id)}


def test_volumes_of_earlier_versions_are_recognised_by_their_labels_and_names(caches: Caches) -> None:
    pyenv = caches.volume("legacy", labels={LABEL_PROJECT: caches.project, "dsjobs.pyenv": "1"})
    disk = project_volume_name(caches.project)
    caches.made.append(caches.runtime.create_volume(disk, {LABEL_PROJECT: caches.project}))  # as project-disk put did
    kinds = {c.name: c.kind for c in list_engine_caches(caches.runtime, caches.store, caches.engine_id, caches.project)}
    assert kinds == {pyenv: "pyenv", disk: "project-disk"}
    assert {c.name for c in caches.collect(AGE_ONLY).removed} == {pyenv, disk}


def test_a_job_launched_while_gc_looks_keeps_its_volume(caches: Caches) -> None:
    """The launch writes its record before it ensures the volume; gc reads it again just before removing."""
    name = caches.volume("raced")
    key = use_key(caches.project, caches.engine_id, name)

    class LaunchMeanwhile(LocalStore):
        def list(self, prefix: str) -> Iterator[ObjectInfo]:
            if prefix == key:  # gc's last look before removing: a job's launch got there first
                record_use(self, caches.project, caches.engine_id, [name], "j-meanwhile")
            return super().list(prefix)

    store = LaunchMeanwhile(caches.store.root)
    report = collect_engine_caches(caches.runtime, store, caches.project, caches.engine_id, AGE_ONLY, now=LATER)
    assert report.removed == [] and report.kept[name].startswith("used by a job since ")
    assert caches.exists(name)


def test_a_real_job_records_the_volumes_it_mounts_at_launch(local_settings: Settings, caches: Caches) -> None:
    before = utcnow() - timedelta(seconds=5)
    cfg = write_job(caches.store.root.parent / "job", "cmd: ls ${DS_PROJECT_HOME}\nflags: [attach-project-disk]\n")
    service = JobService(local_settings)
    try:
        done = service.wait(service.submit(load_config(cfg)).id)
    finally:
        service.close()
    assert done.status == JobStatus.SUCCESS, done.status_details
    disk = project_volume_name(caches.project)
    caches.made.append(disk)
    uses = last_uses(caches.store, caches.project, caches.engine_id)
    assert set(uses) == {disk} and uses[disk] >= before
    (listed,) = list_engine_caches(caches.runtime, caches.store, caches.engine_id, caches.project)
    assert (listed.name, listed.kind, listed.last_used) == (disk, "project-disk", uses[disk])
    labels = caches.docker.volumes.get(disk).attrs["Labels"]
    assert labels[CACHE_LABEL] == "project-disk" and labels["dsjobs.managed"] == "1"


def test_gc_runs_the_settings_policy_and_survives_an_engine_it_cannot_reach(
    local_settings: Settings, caches: Caches
) -> None:
    import time

    old = caches.volume("aged")
    time.sleep(2.5)  # older than the max age below (the engine's creation times have whole seconds)
    fresh = caches.volume("fresh")
    settings = dataclasses.replace(local_settings, cache_max_age_days=2 / 86400)
    service = JobService(settings)
    try:
        dry = service.gc(dry_run=True)
        assert dry.caches_removed == [old] and dry.dry_run and caches.exists(old)
        report = service.gc()
    finally:
        service.close()
    assert report.caches_removed == [old] and report.cache_bytes_freed == 0 and report.caches_skipped == ""
    assert not caches.exists(old) and caches.exists(fresh)

    nowhere = dataclasses.replace(settings, docker_url=f"unix://{caches.store.root}/no.sock")
    with contextlib.closing(JobService(nowhere)) as unreachable:
        lost = unreachable.gc()
    assert lost.caches_removed == [] and "cannot reach the Docker engine" in lost.caches_skipped
    with contextlib.closing(JobService(dataclasses.replace(settings, cache_max_age_days=None))) as no_policy:
        never = no_policy.gc()
    assert never.caches_removed == [] and never.caches_skipped == "no cache max age nor budget is set"
    assert caches.exists(fresh)


def test_record_keys_refuse_hostile_names_and_listing_ignores_strange_keys(caches: Caches) -> None:
    from airflow_provider_dsjobs.jobs.cache_use import engine_key
    from airflow_provider_dsjobs.storage.base import StoreError

    for hostile in ("../../record", "a/b", "", "x" * 300, "vol\nname"):
        with pytest.raises(StoreError, match="invalid volume name"):
            use_key(caches.project, caches.engine_id, hostile)
    assert "/" not in engine_key("../../etc") and engine_key("ABCD:EF01") == "ABCD-EF01"
    prefix = f"projects/{caches.project}/engine-caches/{engine_key(caches.engine_id)}/"
    caches.store.put_bytes(prefix + "..json", b"{}")
    caches.store.put_bytes(prefix + "sub/deeper.json", b"{}")
    caches.store.put_bytes(prefix + "no-suffix", b"{}")
    record_use(caches.store, caches.project, caches.engine_id, ["good-volume"], "j1")
    assert set(last_uses(caches.store, caches.project, caches.engine_id)) == {"good-volume"}


def test_settings_name_what_is_wrong_in_one_line() -> None:
    assert Settings.from_env({}).cache_max_age_days == 30 and Settings.from_env({}).cache_budget is None
    good = Settings.from_env({"DSJOBS_CACHE_MAX_AGE_DAYS": "7.5", "DSJOBS_CACHE_BUDGET": "50Gi"})
    assert good.cache_max_age_days == 7.5 and good.cache_budget == 50 << 30
    assert Settings.from_env({"DSJOBS_CACHE_MAX_AGE_DAYS": "never", "DSJOBS_CACHE_BUDGET": "500MB"}).cache_budget == (
        500 << 20
    )
    for name, value, allowed in (
        ("DSJOBS_CACHE_MAX_AGE_DAYS", "0", "a number of days above zero"),
        ("DSJOBS_CACHE_MAX_AGE_DAYS", "a month", "or never"),
        ("DSJOBS_CACHE_BUDGET", "50G", "such as `50Gi`, `50GB` or `500MB`"),
        ("DSJOBS_CACHE_BUDGET", "-1GB", "a size above zero"),
        ("DSJOBS_CACHE_BUDGET", "\x1b[2J1GB", "or none"),
    ):
        with pytest.raises(ValueError) as caught:
            Settings.from_env({name: value})
        message = str(caught.value)
        assert message.startswith(f"{name} must be ") and allowed in message
        assert "\n" not in message and "\x1b" not in message


def test_every_volume_dsjobs_creates_says_its_cache_kind(caches: Caches) -> None:
    from airflow_provider_dsjobs.lab.config import LabJobConfig
    from airflow_provider_dsjobs.lab.plan import plan_lab_job
    from airflow_provider_dsjobs.pyenv.build_step import env_volume_labels
    from airflow_provider_dsjobs.resources.project_disk import ProjectDisk

    assert env_volume_labels("p1", "h", "img", "3.11")[CACHE_LABEL] == "pyenv"
    lab = plan_lab_job(LabJobConfig(image="x", name="train"), None, Settings(), job_id="j1", name="train", project="p1")
    ((volume, labels),) = lab.volume_labels.items()
    assert labels == {LABEL_PROJECT: "p1", "dsjobs.lab-data": "train", CACHE_LABEL: "lab-data"}
    assert volume in lab.volumes

    ProjectDisk(caches.runtime, caches.project, caches.image).ls()  # creates the disk, as `dsjobs project-disk` does
    disk = project_volume_name(caches.project)
    labels = caches.docker.volumes.get(disk).attrs["Labels"]
    assert labels[CACHE_LABEL] == "project-disk" and labels["dsjobs.managed"] == "1"
    assert labels[LABEL_PROJECT] == caches.project


def test_a_store_that_cannot_record_the_use_only_warns(local_settings: Settings, caches: Caches) -> None:
    from airflow_provider_dsjobs.storage.base import StoreError

    class NoCacheRecords(LocalStore):
        def put_bytes(self, key: str, data: bytes) -> None:
            if "/engine-caches/" in key:  # the fault: this one write fails
                raise StoreError("injected: the store refuses the write")
            super().put_bytes(key, data)

    cfg = write_job(caches.store.root.parent / "job", "cmd: echo ok\nflags: [attach-project-disk]\n")
    caches.made.append(project_volume_name(caches.project))
    said: list[str] = []
    with contextlib.closing(JobService(local_settings, store=NoCacheRecords(caches.store.root))) as service:
        done = service.wait(service.submit(load_config(cfg), notify=said.append).id)
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert any(line.startswith("warning: cannot record that the job uses volumes dsjobs-project-") for line in said)
    assert last_uses(caches.store, caches.project, caches.engine_id) == {}


def test_volumes_attached_to_the_container_after_planning_are_recorded_too(
    local_settings: Settings, caches: Caches, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dataset and S3-mount caches join the container's spec after planning (``jobs/dataset_mounts.py`` attaches
    them): whatever the container mounts gets its record. Stands in for them: one more volume on the spec."""
    from airflow_provider_dsjobs.jobs import submitter as service_module

    extra = caches.volume("attached", kind="dataset")
    prepare = service_module.prepare_container

    def with_a_dataset_volume(*args: Any, **kwargs: Any) -> Any:
        spec, placement = prepare(*args, **kwargs)
        volumes = {**spec.volumes, extra: {"bind": "/job/dataset", "mode": "ro"}}
        return dataclasses.replace(spec, volumes=volumes), placement

    monkeypatch.setattr(service_module, "prepare_container", with_a_dataset_volume)
    cfg = write_job(caches.store.root.parent / "job", "cmd: ls /job/dataset\n")
    with contextlib.closing(JobService(local_settings)) as service:
        done = service.wait(service.submit(load_config(cfg)).id)
    assert done.status == JobStatus.SUCCESS, done.status_details
    assert set(last_uses(caches.store, caches.project, caches.engine_id)) == {extra}


def test_an_engine_without_an_id_keeps_its_caches(local_settings: Settings) -> None:
    """No ID, no records: every cache would look as old as its creation, so gc leaves them all (the fake engine
    stands in: a real one always has an ID)."""
    from tests.jobs.fake_runtime import FakeRuntime

    fake = FakeRuntime()
    fake.engine_id = ""
    fake.create_volume(f"dsjobs-pyenv-{local_settings.project}-x", {LABEL_PROJECT: local_settings.project})
    with contextlib.closing(JobService(local_settings, runtime=fake)) as service:
        report = service.gc()
    assert report.caches_removed == [] and "has no ID" in report.caches_skipped
    assert fake.volumes  # still there
