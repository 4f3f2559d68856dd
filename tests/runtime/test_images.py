"""Images: a local image is used as is; a missing one is pulled, and failures are one line without the password."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_dsjobs.runtime.engine import DockerEngine
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.runtime.images import ensure_image, registry_of

# Nothing listens on port 1, so the engine fails fast instead of waiting on DNS or a proxy.
UNREACHABLE = "127.0.0.1:1/dsjobs-missing/img:1"


def test_present_image_is_used_without_pulling(engine: DockerEngine, test_image: str, docker_client: object) -> None:
    expected = docker_client.images.get(test_image).id  # type: ignore[attr-defined]
    assert ensure_image(engine, test_image) == expected
    # Credentials do not force a login when the image is already there.
    assert ensure_image(engine, test_image, username="u", password="p") == expected


def test_missing_image_that_cannot_be_pulled_is_one_line(engine: DockerEngine) -> None:
    with pytest.raises(RuntimeFailure) as caught:
        ensure_image(engine, UNREACHABLE)
    message = str(caught.value)
    assert message.startswith(f"image {UNREACHABLE} not found locally and could not be pulled: ")
    assert "connection refused" in message.lower()
    assert "\n" not in message and "Traceback" not in message


def test_failed_login_names_registry_and_user_never_the_password(
    engine: DockerEngine, caplog: pytest.LogCaptureFixture
) -> None:
    password = "s3cret-Pa55word"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RuntimeFailure) as caught:
        ensure_image(engine, UNREACHABLE, username="robot", password=password)
    message = str(caught.value)
    assert message.startswith("registry login to 127.0.0.1:1 failed for user robot")
    assert password not in message and password not in repr(caught.value)
    assert password not in caplog.text


@pytest.mark.parametrize(
    ("ref", "registry"),
    [
        ("python:3.11-slim", "docker.io"),
        ("library/python", "docker.io"),
        ("cr.yandex/crp123/image:v1", "cr.yandex"),
        ("localhost:5000/a/b@sha256:" + "0" * 64, "localhost:5000"),
    ],
)
def test_registry_of_reference(ref: str, registry: str) -> None:
    assert registry_of(ref) == registry


@pytest.fixture()
def local_only_image(docker_client: object, test_image: str) -> object:
    """The test image under a name whose registry does not exist: present on the engine, never pullable."""
    import uuid

    ref = f"127.0.0.1:1/dsjobs-issue8-pull/img:{uuid.uuid4().hex[:8]}"
    image = docker_client.images.get(test_image)  # type: ignore[attr-defined]
    repo, tag = ref.rsplit(":", 1)
    image.tag(repo, tag)
    yield ref
    docker_client.images.remove(ref)  # type: ignore[attr-defined]  # only the tag this fixture added


def test_pull_policy_if_missing_uses_the_local_copy(engine: DockerEngine, local_only_image: str) -> None:
    assert ensure_image(engine, local_only_image, policy="if-missing").startswith("sha256:")


def test_pull_policy_always_pulls_even_when_the_engine_has_it(engine: DockerEngine, local_only_image: str) -> None:
    with pytest.raises(RuntimeFailure) as caught:
        ensure_image(engine, local_only_image, policy="always")
    assert str(caught.value).startswith(f"image {local_only_image} could not be pulled (image pull policy 'always'): ")


def test_pull_policy_never_uses_the_local_copy_and_never_pulls(engine: DockerEngine, local_only_image: str) -> None:
    assert ensure_image(engine, local_only_image, policy="never").startswith("sha256:")
    with pytest.raises(RuntimeFailure) as caught:
        ensure_image(engine, "dsjobs-issue8/absent:never", policy="never")
    assert str(caught.value) == (
        "image dsjobs-issue8/absent:never is not on the Docker engine and the image pull policy is 'never'"
    )
