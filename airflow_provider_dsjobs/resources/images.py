"""Project Docker images: DataSphere's ``env.docker: <image ID>`` names an image registered in the project, not a
Docker Hub name. Here the registry is a set of small JSON documents in the job store, one per image::

    projects/<project>/resources/docker-images/<ID>.json   {"id", "image", "username", "password_secret_id",
                                                            "description", "created_at"}

Every worker and CLI that reaches the store sees the same registry. A registry password is never stored: an
entry names a project secret (``password_secret_id``) that resolves when a job is planned.

How ``env.docker`` resolves (``ImageRegistry.resolve``): a value with no credentials that names a registered ID is
that image; a value shaped like a DataSphere resource ID (20 lowercase letters and digits) that is not
registered is an error naming the command that registers it; anything else is an image reference
(``python:3.11-slim``, ``registry.example.com/ml:1.2``), pulled as before.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from airflow_provider_dsjobs.storage.base import ObjectNotFound, ObjectStore, StoreError
from airflow_provider_dsjobs.storage.cas import check_project, project_prefix

IMAGE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,50}$")
#: The shape of a DataSphere resource ID: never a plausible Docker Hub name, so an unregistered one is an error.
DATASPHERE_ID_RE = re.compile(r"^[a-z0-9]{20}$")
_IMAGE_REF_RE = re.compile(r"^\S+$")


class ImageRegistryError(StoreError):
    """A project image cannot be registered, found or resolved (one line)."""


@dataclass(frozen=True)
class ProjectImage:
    id: str
    image: str
    username: str | None = None
    password_secret_id: str | None = None
    description: str = ""
    created_at: str = ""

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> ProjectImage:
        try:
            raw = json.loads(data)
            return cls(
                id=str(raw["id"]),
                image=str(raw["image"]),
                username=raw.get("username"),
                password_secret_id=raw.get("password_secret_id"),
                description=str(raw.get("description") or ""),
                created_at=str(raw.get("created_at") or ""),
            )
        except (ValueError, KeyError, TypeError):
            raise ImageRegistryError(f"{where} is not a project image entry written by dsjobs") from None


def check_image_id(image_id: str) -> str:
    if not IMAGE_ID_RE.match(image_id or ""):
        raise ImageRegistryError(f"invalid image ID {image_id!r}: use 1 to 50 letters, digits, '_' or '-'")
    return image_id


class ImageRegistry:
    """The project's registered images in ``store``."""

    def __init__(self, store: ObjectStore, project: str) -> None:
        self.store = store
        self.prefix = f"{project_prefix(check_project(project))}resources/docker-images"

    def _key(self, image_id: str) -> str:
        return f"{self.prefix}/{check_image_id(image_id)}.json"

    def add(
        self,
        image_id: str,
        image: str,
        *,
        username: str | None = None,
        password_secret_id: str | None = None,
        description: str = "",
    ) -> ProjectImage:
        if not _IMAGE_REF_RE.match(image or ""):
            raise ImageRegistryError(f"invalid image reference {image!r}: no spaces, e.g. python:3.11-slim")
        if password_secret_id and not username:
            raise ImageRegistryError("a registry password secret needs a username too (--username)")
        entry = ProjectImage(
            id=check_image_id(image_id),
            image=image,
            username=username or None,
            password_secret_id=password_secret_id or None,
            description=description,
            created_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        self.store.put_bytes(self._key(image_id), entry.to_json())
        return entry

    def get(self, image_id: str) -> ProjectImage | None:
        key = self._key(image_id)
        try:
            data = self.store.get_bytes(key)
        except ObjectNotFound:
            return None
        return ProjectImage.from_json(data, self.store.uri(key))

    def list(self) -> list[ProjectImage]:
        entries = []
        for info in self.store.list(self.prefix + "/"):
            if info.key.endswith(".json"):
                entries.append(ProjectImage.from_json(self.store.get_bytes(info.key), self.store.uri(info.key)))
        return sorted(entries, key=lambda e: e.id)

    def resolve(self, value: str) -> ProjectImage | None:
        """The registered image ``value`` (an ``env.docker`` string) names; ``None`` when it is an image
        reference; an unregistered DataSphere-style ID raises ``ImageRegistryError``."""
        if not IMAGE_ID_RE.match(value):
            return None
        found = self.get(value)
        if found is None and DATASPHERE_ID_RE.match(value):
            raise ImageRegistryError(
                f"unknown project image {value!r}: register it with `dsjobs docker-image add {value} IMAGE_REF`"
            )
        return found

    def remove(self, image_id: str) -> bool:
        key = self._key(image_id)
        if not self.store.exists(key):
            return False
        self.store.delete(key)
        return True
