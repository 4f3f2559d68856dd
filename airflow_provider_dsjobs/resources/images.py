"""Project Docker images: DataSphere's ``env.docker: <image ID>`` names an image registered in the project, not a
Docker Hub name. The registry is ``resources/registry.py``'s, kind ``docker-images``: one JSON document per image with
``id, image, username, password_secret_id, description, created_at``. A registry password is never stored: an
entry names a project secret (``password_secret_id``) that resolves when a job is planned.

How ``env.docker`` resolves (``ImageRegistry.resolve``): a value with no credentials that names a registered ID is
that image; a value shaped like a DataSphere resource ID (20 lowercase letters and digits) that is not
registered is an error naming the command that registers it; anything else is an image reference
(``python:3.11-slim``, ``registry.example.com/ml:1.2``), pulled as before.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from airflow_provider_dsjobs.resources.registry import ENTRY_ID_RE, JsonRegistry, RegistryError
from airflow_provider_dsjobs.storage.base import ObjectStore

#: The shape of a DataSphere resource ID: never a plausible Docker Hub name, so an unregistered one is an error.
DATASPHERE_ID_RE = re.compile(r"[a-z0-9]{20}")
_IMAGE_REF_RE = re.compile(r"\S+")


class ImageRegistryError(RegistryError):
    """A project image cannot be registered, found or resolved (one line)."""


@dataclass(frozen=True)
class ProjectImage:
    id: str
    image: str
    username: str | None = None
    password_secret_id: str | None = None
    description: str = ""
    created_at: str = ""

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ProjectImage:
        return cls(
            id=str(raw["id"]),
            image=str(raw["image"]),
            username=raw.get("username"),
            password_secret_id=raw.get("password_secret_id"),
            description=str(raw.get("description") or ""),
            created_at=str(raw.get("created_at") or ""),
        )


class ImageRegistry(JsonRegistry[ProjectImage]):
    """The project's registered images in ``store``."""

    def __init__(self, store: ObjectStore, project: str) -> None:
        super().__init__(store, project, "docker-images", "image", asdict, ProjectImage.from_dict)

    def add(
        self,
        image_id: str,
        image: str,
        *,
        username: str | None = None,
        password_secret_id: str | None = None,
        description: str = "",
    ) -> ProjectImage:
        if not _IMAGE_REF_RE.fullmatch(image or ""):
            raise ImageRegistryError(f"invalid image reference {image!r}: no spaces, e.g. python:3.11-slim")
        if password_secret_id and not username:
            raise ImageRegistryError("a registry password secret needs a username too (--username)")
        entry = ProjectImage(
            id=image_id,
            image=image,
            username=username or None,
            password_secret_id=password_secret_id or None,
            description=description,
            created_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        return self.put(image_id, entry)

    def resolve(self, value: str) -> ProjectImage | None:
        """The registered image ``value`` (an ``env.docker`` string) names; ``None`` when it is an image
        reference; an unregistered DataSphere-style ID raises ``ImageRegistryError``."""
        if not ENTRY_ID_RE.fullmatch(value):
            return None
        found = self.get(value)
        if found is None and DATASPHERE_ID_RE.fullmatch(value):
            raise ImageRegistryError(
                f"unknown project image {value!r}: register it with `dsjobs docker-image add {value} IMAGE_REF`"
            )
        return found
