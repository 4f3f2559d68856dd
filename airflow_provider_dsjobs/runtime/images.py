"""Making sure an image is on the engine: use the local copy, else pull it (logging in first when credentials
are given). Every failure is one line; the registry password never appears in a message or a log record."""

from __future__ import annotations

import logging
from typing import Any

import docker.auth
import docker.errors

from airflow_provider_dsjobs.runtime.engine import DockerEngine
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure, reason_of

log = logging.getLogger(__name__)


def registry_of(ref: str) -> str:
    """The registry host a reference pulls from (``docker.io`` for Docker Hub names)."""
    index, _ = docker.auth.resolve_repository_name(ref)
    return str(index)


def normalize_registry(host: str) -> str:
    """A registry as a connection names it (``https://cr.example/v1/``, ``cr.example:5000``, ``index.docker.io``)
    in ``registry_of``'s form: the host and port, ``docker.io`` for Docker Hub."""
    text = host.strip().lower()
    text = text.split("://", 1)[1] if "://" in text else text
    text = text.split("/", 1)[0]
    if text in ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com", "docker.io"):
        return str(docker.auth.INDEX_NAME)
    return text


def _hide(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def local_image_id(engine: DockerEngine, ref: str) -> str | None:
    """The id of ``ref`` if the engine already has it."""
    try:
        return str(engine.api.inspect_image(ref)["Id"])  # type: ignore[no-untyped-call]
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.DockerException as exc:
        raise RuntimeFailure(f"cannot inspect image {ref}: {reason_of(exc)}") from None


def ensure_image(
    engine: DockerEngine,
    ref: str,
    *,
    username: str | None = None,
    password: str | None = None,
    policy: str = "if-missing",
) -> str:
    """Return the image id of ``ref``. ``policy`` (``settings.IMAGE_PULL_POLICIES``): ``if-missing`` pulls only
    when the engine lacks it, ``always`` pulls every time (like DockerOperator's ``force_pull``: a pull that fails
    fails, even when the engine has an older copy), ``never`` fails when it is missing."""
    image_id = local_image_id(engine, ref)
    if policy == "never":
        if image_id is None:
            raise RuntimeFailure(f"image {ref} is not on the Docker engine and the image pull policy is 'never'")
        return image_id
    if image_id is not None and policy != "always":
        return image_id
    return _pull(engine, ref, username, password, fresh=image_id is not None)


def _pull(engine: DockerEngine, ref: str, username: str | None, password: str | None, *, fresh: bool) -> str:
    """Pull ``ref`` (logging in first with the credentials); its image id. ``fresh``: the engine has a copy and
    the pull is for a newer one (the message says so)."""
    failed = (
        f"image {ref} could not be pulled (image pull policy 'always')"
        if fresh
        else (f"image {ref} not found locally and could not be pulled")
    )
    auth: dict[str, Any] | None = None
    if username and password:
        registry = registry_of(ref)
        try:
            engine.api.login(
                username=username,
                password=password,
                registry=None if registry == docker.auth.INDEX_NAME else registry,
                reauth=True,
            )
        except Exception as exc:  # APIError from the engine or a transport error
            reason = _hide(reason_of(exc), password)
            raise RuntimeFailure(f"registry login to {registry} failed for user {username}: {reason}") from None
        auth = {"username": username, "password": password}
    log.info("pulling image %s", ref)
    try:
        last_status = ""
        for event in engine.api.pull(ref, stream=True, decode=True, auth_config=auth):
            if not isinstance(event, dict):
                continue
            if event.get("error"):
                raise RuntimeFailure(f"{failed}: {_hide(str(event['error']), password)}")
            status = str(event.get("status") or "")
            if status and status != last_status and "id" not in event:
                log.info("%s", _hide(status, password))
            last_status = status
    except RuntimeFailure:
        raise
    except Exception as exc:
        reason = _hide(reason_of(exc), password)
        raise RuntimeFailure(f"{failed}: {reason}") from None
    image_id = local_image_id(engine, ref)
    if image_id is None:
        raise RuntimeFailure(f"{failed}: the pull finished without it")
    return image_id
