"""Last-use records of engine cache volumes on both store backends (local directory, S3 on moto): the store's
modification time is the time of the use, a volume's own key never matches a longer name, and a removed volume's
record goes."""

from __future__ import annotations

from datetime import timedelta

from airflow_provider_dsjobs.documents.record import utcnow
from airflow_provider_dsjobs.jobs.cache_use import forget_use, last_use, last_uses, record_use, use_key
from airflow_provider_dsjobs.storage.base import ObjectStore
from tests.storage.stores import local_store, s3_store, store

__all__ = ["local_store", "s3_store", "store"]

ENGINE = "3CIF:QKJ7:CLCE:6DP6"


def test_records_say_when_each_volume_was_last_used(store: ObjectStore) -> None:
    before = utcnow() - timedelta(seconds=5)  # S3 keeps whole seconds
    record_use(store, "proj", ENGINE, ["vol", "vol-2", "vol"], "j1")
    record_use(store, "other", ENGINE, ["vol-3"], "j2")
    record_use(store, "proj", "ANOTHER:ENGINE", ["vol-4"], "j3")

    uses = last_uses(store, "proj", ENGINE)
    assert set(uses) == {"vol", "vol-2"} and all(before <= t <= utcnow() + timedelta(seconds=5) for t in uses.values())
    assert last_use(store, "proj", ENGINE, "vol") == uses["vol"]
    assert last_use(store, "proj", ENGINE, "vo") is None  # a prefix of a recorded name is not that name

    forget_use(store, "proj", ENGINE, "vol")
    assert last_use(store, "proj", ENGINE, "vol") is None and set(last_uses(store, "proj", ENGINE)) == {"vol-2"}
    assert use_key("proj", ENGINE, "vol-2") == "projects/proj/engine-caches/3CIF-QKJ7-CLCE-6DP6/vol-2.json"
