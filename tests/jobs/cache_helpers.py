"""Engine cache volumes of a test's own project on the real engine, and their last-use records in the test's local
store (``caches`` fixture: removes every volume of the project afterwards)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from airflow_provider_dsjobs.documents.record import utcnow
from airflow_provider_dsjobs.jobs.cache_gc import CachePolicy, collect_engine_caches, list_engine_caches
from airflow_provider_dsjobs.jobs.cache_use import record_use, use_key
from airflow_provider_dsjobs.runtime.containers import Runtime
from airflow_provider_dsjobs.runtime.labels import LABEL_PROJECT
from airflow_provider_dsjobs.runtime.volumes import CACHE_LABEL
from airflow_provider_dsjobs.settings import Settings
from airflow_provider_dsjobs.storage.local import LocalStore
from airflow_provider_dsjobs.storage.open import open_store

DAY = timedelta(days=1)
LATER = utcnow() + 40 * DAY  # "now" for gc runs that should see today's volumes as 40 days old


class Caches:
    """Volumes of the test's project on the real engine, their last-use records in the test's local store."""

    def __init__(self, settings: Settings, docker_client: Any, image: str) -> None:
        self.settings = settings
        self.project = settings.project
        self.docker = docker_client
        self.image = image
        self.runtime = Runtime.connect(settings)
        self.engine_id = self.runtime.engine_info().engine_id
        store = open_store(settings)
        assert isinstance(store, LocalStore)
        self.store = store
        self.made: list[str] = []

    def volume(self, suffix: str, *, kind: str = "pyenv", size: int = 0, labels: dict[str, str] | None = None) -> str:
        """A managed cache volume of the project holding ``size`` bytes."""
        name = f"dsjobs-{kind}-{self.project}-{suffix}"
        wanted = {LABEL_PROJECT: self.project, CACHE_LABEL: kind} if labels is None else labels
        self.made.append(self.runtime.create_volume(name, wanted))
        if size:
            self.fill(name, size)
        return name

    def fill(self, name: str, size: int) -> None:
        self.docker.containers.run(
            self.image,
            ["sh", "-c", f"head -c {size} /dev/zero > /v/data"],
            volumes={name: {"bind": "/v", "mode": "rw"}},
            labels={LABEL_PROJECT: self.project},
            remove=True,
        )

    def used(self, name: str, when: datetime) -> None:
        """A job used ``name`` at ``when`` (the record's modification time is the store's clock: set it)."""
        record_use(self.store, self.project, self.engine_id, [name], "j-test")
        path = self.store.root / use_key(self.project, self.engine_id, name)
        os.utime(path, (when.timestamp(), when.timestamp()))

    def exists(self, name: str) -> bool:
        return bool(self.docker.volumes.list(filters={"name": f"^{name}$"}))

    def sizes(self) -> dict[str, int]:
        return {c.name: c.size or 0 for c in list_engine_caches(self.runtime, self.store, self.engine_id, self.project)}

    def collect(self, policy: CachePolicy, *, now: datetime = LATER, dry_run: bool = False) -> Any:
        return collect_engine_caches(
            self.runtime, self.store, self.project, self.engine_id, policy, now=now, dry_run=dry_run
        )

    def cleanup(self) -> None:
        for volume in self.docker.volumes.list(filters={"label": f"{LABEL_PROJECT}={self.project}"}):
            self.made.append(volume.name)
        for name in dict.fromkeys(self.made):
            with contextlib.suppress(Exception):
                self.docker.volumes.get(name).remove(force=True)
        self.runtime.close()


@pytest.fixture()
def caches(local_settings: Settings, docker_client: Any, test_image: str) -> Iterator[Caches]:
    helper = Caches(local_settings, docker_client, test_image)
    yield helper
    helper.cleanup()
