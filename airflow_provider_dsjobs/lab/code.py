"""``EXECUTE_CODE``: where an ML Lab job's code comes from, resolved on the submitting side.

Three forms, as in seed 004:

* a pip-VCS URL — ``git+https://host/repo.git[@ref][#subdirectory=dir]``, ``git+ssh://git@host/repo.git@ref``,
  ``git+git@host:repo.git@ref``, ``git+file:///path/repo@ref``; ``ref`` is a branch, a tag or a commit (full or
  abbreviated), none means the default branch. The repository is fetched here with the ``git`` of this machine
  (``lab/git.py``), so the image needs neither git nor network; the commit it resolved to goes to the job record;
* a local path: a directory or a single script;
* ``store:KEY``: an object of the job store under the project (``projects/<p>/KEY``): a script, a ``.zip`` /
  ``.tar`` / ``.tar.gz`` / ``.tgz`` package, or a prefix holding a directory tree.

Whatever the form, the result is a local directory or file (``ResolvedCode``) that the job stages like any input,
through the content-addressed cache. A directory must hold ``__main__.py`` (it runs as ``python DIR``); a script
runs with ``python``. Every failure is a one-line ``LabError`` raised before anything is stored.
"""

from __future__ import annotations

import posixpath
import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_dsjobs.lab.config import LabError

if TYPE_CHECKING:
    from airflow_provider_dsjobs.jobs.store import JobStore

STORE_PREFIX = "store:"
MAIN_FILE = "__main__.py"
_PACKAGE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")


@dataclass(frozen=True)
class CodeSpec:
    """``EXECUTE_CODE`` parsed: ``kind`` is ``git``, ``local`` or ``store``."""

    text: str
    kind: str
    url: str | None = None  # git: the URL git fetches from (without ``git+``, ``@ref`` and ``#fragment``)
    ref: str | None = None
    subdirectory: str | None = None
    path: Path | None = None  # local
    key: str | None = None  # store: relative to the project's prefix


@dataclass(frozen=True)
class ResolvedCode:
    """The code as a local path to stage: ``root`` is a directory (``entry="dir"``) or a script."""

    spec: CodeSpec
    root: Path
    entry: str
    commit: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """What the job record keeps: where the code came from and, for git, the commit it ran."""
        data: dict[str, Any] = {"source": self.spec.text, "kind": self.spec.kind, "entry": self.entry}
        if self.spec.kind == "git":
            data.update(url=self.spec.url, ref=self.spec.ref, subdirectory=self.spec.subdirectory, commit=self.commit)
        return data


def parse_code(text: str, base_dir: Path | None = None) -> CodeSpec:
    """Parse ``EXECUTE_CODE``; a relative local path resolves against ``base_dir`` (default: the current dir)."""
    text = text.strip()
    if text.startswith("git+"):
        return _parse_git(text)
    for vcs in ("hg+", "svn+", "bzr+"):
        if text.startswith(vcs):
            raise LabError(f"EXECUTE_CODE {text}: only git repositories are supported (not {vcs[:-1]})")
    if text.startswith(STORE_PREFIX):
        key = text[len(STORE_PREFIX) :].strip("/")
        if not key or any(part in ("", ".", "..") for part in key.split("/")):
            raise LabError(f"EXECUTE_CODE {text}: store:KEY needs a key like code/train.py (no '.' or '..')")
        return CodeSpec(text, "store", key=key)
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return CodeSpec(text, "local", path=path)


def _parse_git(text: str) -> CodeSpec:
    rest, _, fragment = text[len("git+") :].partition("#")
    subdirectory = None
    for item in filter(None, fragment.split("&")):
        key, _, value = item.partition("=")
        if key == "subdirectory":
            subdirectory = value.strip("/") or None
        elif key != "egg":
            raise LabError(f"EXECUTE_CODE {text}: unknown fragment {key!r} (use #subdirectory=DIR)")
    if subdirectory and any(part in ("", ".", "..") for part in subdirectory.split("/")):
        raise LabError(f"EXECUTE_CODE {text}: subdirectory {subdirectory!r} must be a path inside the repository")
    if "://" in rest:
        parts = urlsplit(rest)
        if parts.scheme not in ("https", "http", "ssh", "git", "file"):
            raise LabError(f"EXECUTE_CODE {text}: unsupported scheme {parts.scheme!r} (https, http, ssh, git, file)")
        head = f"{parts.scheme}://{parts.netloc}"
        path, ref = _split_ref(parts.path)
        url = head + path
    elif ":" in rest:  # scp-like: git@host:org/repo.git@ref
        host, _, path = rest.partition(":")
        path, ref = _split_ref(path)
        url = f"{host}:{path}"
    else:
        raise LabError(f"EXECUTE_CODE {text}: not a git URL (like git+https://host/repo.git@main)")
    if not path.strip("/"):
        raise LabError(f"EXECUTE_CODE {text}: the URL names no repository")
    return CodeSpec(text, "git", url=url, ref=ref, subdirectory=subdirectory)


def _split_ref(path: str) -> tuple[str, str | None]:
    """pip's rule: the ref follows the last ``@`` of the path."""
    head, sep, ref = path.rpartition("@")
    if not sep or "/" in ref:
        return path, None
    if not ref:
        raise LabError(f"EXECUTE_CODE: {path!r} ends in '@' without a branch, tag or commit")
    return head, ref


def resolve_code(spec: CodeSpec, scratch: Path, jobs: JobStore | None, *, need_main: bool = True) -> ResolvedCode:
    """Bring the code to a local path (``scratch`` is an empty directory the caller deletes afterwards)."""
    commit = None
    if spec.kind == "git":
        from airflow_provider_dsjobs.lab.git import checkout

        assert spec.url is not None
        commit = checkout(spec.url, spec.ref, scratch / "repo", spec.text)
        root = scratch / "repo"
        if spec.subdirectory:
            root = root / spec.subdirectory
            if not root.is_dir():
                raise LabError(
                    f"EXECUTE_CODE {spec.text}: subdirectory {spec.subdirectory!r} not found at commit {commit[:12]}"
                )
    elif spec.kind == "store":
        assert jobs is not None and spec.key is not None
        root = _fetch_from_store(jobs, spec, scratch / "store")
    else:
        assert spec.path is not None
        root = spec.path
        if not root.exists():
            raise LabError(f"EXECUTE_CODE {spec.text}: no such file or directory ({root})")
    root = root.resolve()
    if root.is_dir():
        if need_main and not (root / MAIN_FILE).is_file():
            raise LabError(f"EXECUTE_CODE {spec.text}: the code directory has no {MAIN_FILE} to run")
        return ResolvedCode(spec, root, "dir", commit)
    return ResolvedCode(spec, root, "script", commit)


def _fetch_from_store(jobs: JobStore, spec: CodeSpec, dest: Path) -> Path:
    from airflow_provider_dsjobs.storage.base import StoreError
    from airflow_provider_dsjobs.storage.cas import project_prefix

    assert spec.key is not None
    key = project_prefix(jobs.project) + spec.key
    store = jobs.store
    try:
        if store.exists(key):
            name = posixpath.basename(key)
            target = dest / name
            dest.mkdir(parents=True)
            store.get_file(key, target)
            return _unpack(target, dest / "unpacked", spec) if name.endswith(_PACKAGE_SUFFIXES) else target
        found = False
        for info in store.list(key.rstrip("/") + "/"):
            rel = info.key[len(key.rstrip("/")) + 1 :]
            if not rel or rel.endswith("/"):
                continue
            found = True
            target = dest / "tree" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            store.get_file(info.key, target)
    except StoreError as exc:
        raise LabError(f"EXECUTE_CODE {spec.text}: {' '.join(str(exc).split())}") from None
    if not found:
        raise LabError(f"EXECUTE_CODE {spec.text}: nothing at {store.uri(key)} in project {jobs.project}")
    return dest / "tree"


def _unpack(archive: Path, dest: Path, spec: CodeSpec) -> Path:
    """Extract a code package; a package with a single top directory is that directory."""
    dest.mkdir(parents=True)
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    _check_member(member, spec)
                zf.extractall(dest)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(dest, filter="data")
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as exc:
        raise LabError(f"EXECUTE_CODE {spec.text}: cannot unpack {archive.name}: {exc}") from None
    archive.unlink()
    entries = list(dest.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not (dest / MAIN_FILE).exists():
        return entries[0]
    return dest


def _check_member(name: str, spec: CodeSpec) -> None:
    norm = posixpath.normpath(name)
    if norm.startswith(("/", "../")) or norm == "..":
        raise LabError(f"EXECUTE_CODE {spec.text}: the package member {name!r} leaves the code directory")


def remove_scratch(scratch: Path) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
