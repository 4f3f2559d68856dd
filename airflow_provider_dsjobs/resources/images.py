"""Project Docker images: DataSphere's ``env.docker: <image ID>`` names an image registered in the project, not a
Docker Hub name. The registry is ``resources/registry.py``'s, kind ``docker-images``: one JSON document per image with
``id, image, username, password_secret_id, registry, registry_binding, description, created_at``. A registry password
is never stored: an entry names a project secret (``password_secret_id``) that resolves when a job is planned.

Anyone who can write the store can change an entry, so an entry with a password is bound to the registry host it was
registered for: ``registry`` is that host and ``registry_binding`` a PBKDF2 of the password salted with the host and
the user (``dsjobs docker-image add`` needs the password to compute it). Before a login, the password is sent only if
the entry's image still pulls from that host and the binding still matches the password: an entry pointed at another
registry, with or without a rewritten ``registry``, is refused (``binding_problem``), and so is one whose password was
rotated since (register it again).

How ``env.docker`` resolves (``ImageRegistry.resolve``): a value with no credentials that names a registered ID is
that image; a value shaped like a DataSphere resource ID (20 lowercase letters and digits) that is not
registered is an error naming the command that registers it; anything else is an image reference
(``python:3.11-slim``, ``registry.example.com/ml:1.2``), pulled as before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from airflow_provider_dsjobs.resources import secret_binding
from airflow_provider_dsjobs.resources.registry import ENTRY_ID_RE, JsonRegistry, RegistryError, optional_text, text
from airflow_provider_dsjobs.resources.secrets import env_var_secret_name
from airflow_provider_dsjobs.runtime.images import registry_of
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
    #: the registry host the password may be sent to, and the proof that whoever registered it knew the password
    registry: str | None = None
    registry_binding: str | None = None
    description: str = ""
    created_at: str = ""

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> ProjectImage:
        return cls(
            id=text(doc, "id"),
            image=text(doc, "image"),
            username=optional_text(doc, "username"),
            password_secret_id=optional_text(doc, "password_secret_id"),
            registry=optional_text(doc, "registry"),
            registry_binding=optional_text(doc, "registry_binding"),
            description=optional_text(doc, "description") or "",
            created_at=optional_text(doc, "created_at") or "",
        )


class ImageRegistry(JsonRegistry[ProjectImage]):
    """The project's registered images in ``store``."""

    def __init__(self, store: ObjectStore, project: str) -> None:
        super().__init__(store, project, "docker-images", "image", ProjectImage.from_doc)

    def add(
        self,
        image_id: str,
        image: str,
        *,
        username: str | None = None,
        password_secret_id: str | None = None,
        password: str | None = None,
        description: str = "",
    ) -> ProjectImage:
        """Register ``image``; with ``password_secret_id``, ``password`` is that secret's value (never stored) and
        binds the entry to the image's registry host."""
        if not _IMAGE_REF_RE.fullmatch(image or ""):
            raise ImageRegistryError(f"invalid image reference {image!r}: no spaces, e.g. python:3.11-slim")
        if password_secret_id and not username:
            raise ImageRegistryError("a registry password secret needs a username too (--username)")
        registry = binding = None
        if password_secret_id:
            if not password:
                raise ImageRegistryError(
                    f"secret {password_secret_id!r} is not set here: the registry password binds the image to its "
                    f"registry host, so `docker-image add` needs it (`dsjobs secret set {password_secret_id}` or "
                    f"{env_var_secret_name(password_secret_id)})"
                )
            try:
                registry = registry_of(image)
            except Exception:  # docker's InvalidRepository
                raise ImageRegistryError(f"invalid image reference {image!r}") from None
            binding = make_binding(password, registry, username or "")
        entry = ProjectImage(
            id=image_id,
            image=image,
            username=username or None,
            password_secret_id=password_secret_id or None,
            registry=registry,
            registry_binding=binding,
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


#: The purpose a registry password's binding is made for (``resources/secret_binding.py``).
_PURPOSE = "dsjobs-registry-binding"


def make_binding(password: str, registry: str, username: str) -> str:
    """The binding of ``password`` to the registry host and the user."""
    return secret_binding.make_binding(password, _PURPOSE, registry, username)


def binding_problem(entry: ProjectImage, password: str) -> str | None:
    """Why ``password`` may not be sent for ``entry`` (``None``: it may, to ``registry_of(entry.image)``)."""
    again = (
        f"register it again with `dsjobs docker-image add {entry.id} IMAGE_REF --username ... --password-secret-id ...`"
    )
    try:
        host = registry_of(entry.image)
    except Exception:  # docker's InvalidRepository for a reference that cannot be pulled at all
        return f"its image {entry.image!r} is not an image reference"
    if not entry.registry or not entry.registry_binding:
        return f"the entry has no registry binding for its password secret: {again}"
    if entry.registry != host:
        return f"its image {entry.image} pulls from {host}, but its password was registered for {entry.registry}"
    if not secret_binding.binding_matches(entry.registry_binding, password, _PURPOSE, host, entry.username or ""):
        return (
            f"its registry binding does not match its password secret for {host} (the entry was changed, or the "
            f"password rotated): {again}"
        )
    return None
