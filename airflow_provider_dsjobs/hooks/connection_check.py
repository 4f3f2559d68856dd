"""What the connection form's Test button checks, in the order a job needs it: the store (write, read back,
delete a probe object), the Docker engine (ping and info) and the image pull policy (``never`` needs the
default image on the engine already)."""

from __future__ import annotations

import uuid

from airflow_provider_dsjobs.jobs.errors import JobError, one_line
from airflow_provider_dsjobs.jobs.service import JobService
from airflow_provider_dsjobs.storage.keys import join_key


def check_store(service: JobService) -> str:
    store = service.store
    key = join_key(f"projects/{service.project}", f"connection-test/{uuid.uuid4().hex}.txt")
    payload = b"dsjobs connection test\n"
    store.put_bytes(key, payload)
    try:
        if store.get_bytes(key) != payload:
            raise JobError(f"store {store.uri(key)} returned other bytes than were written")
    finally:
        store.delete(key)
    return f"store {service.settings.effective_store_url} is writable"


def check_engine(service: JobService) -> str:
    from airflow_provider_dsjobs.runtime.engine import DEFAULT_LOCAL_URL

    runtime = service.runtime
    info = runtime.engine_info()
    url = service.settings.docker_url or DEFAULT_LOCAL_URL
    policy, image = service.settings.image_pull_policy, service.settings.default_image
    if policy == "never":
        runtime.ensure_image(image, policy="never")  # fails with one line when the engine lacks it
    return f"Docker engine {url} answers (version {info.server_version}, {info.cpus} CPUs); image pull policy {policy}"


def check_connection(service: JobService) -> tuple[bool, str]:
    lines = []
    for check in (check_store, check_engine):
        try:
            lines.append(check(service))
        except Exception as exc:  # every failure is reported as the check's one line, never a traceback
            lines.append(f"{check.__name__.removeprefix('check_')} check failed: {one_line(exc)}")
            return False, "; ".join(lines)
    return True, "; ".join(lines)
