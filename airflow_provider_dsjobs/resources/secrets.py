"""Project secrets: named values every job of a project receives as env vars of the same name, and what a
config's ``secret-id`` names.

They are kept outside the job store, so nobody who can read the store can read them. The CLI keeps a project's
set in ``<DSJOBS_HOME>/secrets/<project>.json`` (directory 0700, file 0600, replaced atomically); in Airflow the
set comes from Airflow's secrets backends (``hooks/dsjobs.py``). Values never reach a record, a plan document,
a log line written by this tool or an exception: errors name secrets, never show them.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from airflow_provider_dsjobs.storage.private import make_private_dirs

#: Secret names as DataSphere allows them: letters, digits, ``_`` and ``-`` (``MY-SECRET``), 1 to 100 characters,
#: starting with a letter or ``_`` so the name is also a usable env var name.
SECRET_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,99}")
#: Largest secret value accepted (an env var, not a file).
MAX_SECRET_BYTES = 64 * 1024


class SecretsError(Exception):
    """A project secret cannot be read or written; the message names the secret, never its value."""


def check_secret_name(name: str) -> str:
    if not SECRET_NAME_RE.fullmatch(name or ""):
        raise SecretsError(
            f"invalid secret name {name!r}: use 1 to 100 letters, digits, '_' or '-', starting with a letter or '_'"
        )
    return name


def check_secret_value(name: str, value: str) -> str:
    if "\x00" in value:
        raise SecretsError(f"secret {name!r}: the value contains a NUL byte, which an env var cannot hold")
    if len(value.encode()) > MAX_SECRET_BYTES:
        raise SecretsError(f"secret {name!r}: the value is larger than {MAX_SECRET_BYTES // 1024} KiB")
    return value


class FileSecretStore:
    """One project's secrets in a 0600 JSON file under ``home`` (the CLI's backend)."""

    def __init__(self, home: Path, project: str) -> None:
        self.directory = Path(home) / "secrets"
        self.path = self.directory / f"{project}.json"

    def load(self) -> dict[str, str]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise SecretsError(f"cannot read the project secrets {self.path}: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except ValueError:
            raise SecretsError(f"{self.path} is not a secrets file written by dsjobs (not JSON)") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise SecretsError(f"{self.path} is not a secrets file written by dsjobs (not a name → value map)")
        return {str(k): v for k, v in data.items()}

    def names(self) -> list[str]:
        return sorted(self.load())

    def get(self, name: str) -> str | None:
        return self.load().get(name)

    def set(self, name: str, value: str) -> None:
        check_secret_value(check_secret_name(name), value)
        secrets = self.load()
        secrets[name] = value
        self._write(secrets)

    def remove(self, name: str) -> bool:
        secrets = self.load()
        if secrets.pop(name, None) is None:
            return False
        self._write(secrets)
        return True

    def _write(self, secrets: Mapping[str, str]) -> None:
        make_private_dirs(self.directory)  # 0700, and so is a home directory it creates
        # mkstemp creates the file 0600 before any byte is written; rename replaces the old set atomically.
        fd, tmp = tempfile.mkstemp(prefix=".secrets-", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(dict(sorted(secrets.items())), out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def env_var_secret_name(name: str) -> str:
    """``DSJOBS_SECRET_<NAME>``: the CLI's way to give a secret from the environment (``-`` → ``_``)."""
    return "DSJOBS_SECRET_" + name.upper().replace("-", "_")
