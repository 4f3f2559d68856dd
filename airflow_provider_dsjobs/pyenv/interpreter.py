"""Which Python installation pins a ``python: auto`` job's imports, found from its files alone.

By default that is the interpreter running ``dsjobs`` or the Airflow task. On an Airflow worker that is Airflow's
own environment, not the project's, so the ``python_interpreter`` connection extra, ``DSJOBS_PYTHON_INTERPRETER``
or ``--python-interpreter`` can name another one: an interpreter (``/srv/project/.venv/bin/python``) or a
virtualenv directory. It is never run — neither it nor anything of the user's executes on the submitting machine:
its site directories come from ``pyvenv.cfg`` and the standard installation layout, and its packages are read
from their metadata there.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from airflow_provider_dsjobs.pyenv.errors import PyEnvError

#: Where a user names the interpreter, for error messages.
HOW_TO_NAME = (
    "name the interpreter whose packages pin the imports with the dsjobs connection's python_interpreter extra, "
    "DSJOBS_PYTHON_INTERPRETER or --python-interpreter"
)


@dataclass(frozen=True)
class PythonInstallation:
    """A Python installation's identity for import pinning: what it was called, its ``major.minor`` version and
    the directories its distributions are installed in (``None``: this process's ``sys.path``)."""

    interpreter: str
    version: str
    site_dirs: tuple[Path, ...] | None = None

    @property
    def search_path(self) -> list[str] | None:
        return None if self.site_dirs is None else [str(p) for p in self.site_dirs]


def current_installation() -> PythonInstallation:
    """The interpreter running this process."""
    return PythonInstallation(sys.executable or "python", f"{sys.version_info.major}.{sys.version_info.minor}")


def find_installation(name: str | None) -> PythonInstallation:
    """The installation ``name`` points at (an interpreter or a virtualenv directory), or this process's when
    ``name`` is empty. Raises :class:`PyEnvError` (one line) when it is not a Python installation."""
    if not name:
        return current_installation()
    given = Path(name).expanduser()
    if given.is_dir():
        venv_root = given
        interpreter = next((p for p in (given / "bin" / "python3", given / "bin" / "python") if p.exists()), given)
    elif given.exists():
        interpreter = given
        venv_root = given.parent.parent
    else:
        raise PyEnvError(f"python interpreter {name} does not exist; {HOW_TO_NAME}")
    cfg = _read_pyvenv_cfg(venv_root / "pyvenv.cfg")
    if cfg is not None:
        prefix = venv_root
        version = _version_of(cfg.get("version_info") or cfg.get("version") or "", prefix, name)
        dirs = _site_dirs(prefix, version)
        if cfg.get("include-system-site-packages", "").lower() == "true" and cfg.get("home"):
            dirs += _site_dirs(Path(cfg["home"]).parent, version)
    else:
        real = interpreter.resolve()
        prefix = real.parent.parent
        match = re.fullmatch(r"python(3\.\d+)", real.name)
        version = _version_of(match.group(1) if match else "", prefix, name)
        dirs = _site_dirs(prefix, version)
    if not dirs:
        raise PyEnvError(
            f"python interpreter {name}: no site-packages directory found under {prefix} for Python {version}; "
            f"{HOW_TO_NAME}"
        )
    return PythonInstallation(name, version, tuple(dirs))


def _read_pyvenv_cfg(path: Path) -> dict[str, str] | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    cfg: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            cfg[key.strip().lower()] = value.strip()
    return cfg


def _version_of(text: str, prefix: Path, name: str) -> str:
    """``major.minor`` from a version string, else from the one ``lib/python3.X`` directory of the prefix."""
    match = re.match(r"(3)\.(\d+)", text)
    if match:
        return f"{match.group(1)}.{match.group(2)}"
    found = sorted(p.name[len("python") :] for p in (prefix / "lib").glob("python3.*") if p.is_dir())
    if len(found) == 1:
        return found[0]
    raise PyEnvError(f"python interpreter {name}: cannot tell its Python version from {prefix}; {HOW_TO_NAME}")


def _site_dirs(prefix: Path, version: str) -> list[Path]:
    """The site directories of a prefix in the layouts CPython, virtualenv and Debian use."""
    candidates = [
        prefix / "lib" / f"python{version}" / "site-packages",
        prefix / "lib64" / f"python{version}" / "site-packages",
        prefix / "local" / "lib" / f"python{version}" / "dist-packages",
        prefix / "lib" / "python3" / "dist-packages",
        prefix / "lib" / f"python{version}" / "dist-packages",
    ]
    seen: list[Path] = []
    for path in candidates:
        if path.is_dir() and path.resolve() not in {p.resolve() for p in seen}:
            seen.append(path)
    return seen
