"""``EXECUTE_CODE``: where an ML Lab job's code comes from, resolved on the submitting side.

Three forms, as in seed 004:

* a pip-VCS URL — ``git+https://host/repo.git[@ref][#subdirectory=dir]``, ``git+ssh://git@host/repo.git@ref``,
  ``git+git@host:repo.git@ref``, ``git+file:///path/repo@ref``; ``ref`` is a branch, a tag or a commit (full or
  abbreviated), none means the default branch. Each part is checked before git sees it (``lab/git_url.py``: https,
  ssh and scp-style only, nothing option-like, credentials out of the URL). The repository is fetched here with the
  ``git`` of this machine (``lab/git.py``), so the image needs neither git nor network; the commit it resolved to
  goes to the job record, and a repository whose symlinks leave it is refused (staging follows links);
* a local path: a directory or a single script;
* ``store:KEY``: an object of the job store under the project (``projects/<p>/KEY``): a script, a ``.zip`` /
  ``.tar`` / ``.tar.gz`` / ``.tgz`` package, or a prefix holding a directory tree.

A *run-time* value (``parse_code(..., runtime=True)``: an ``EXECUTE_CODE`` param, run conf, a templated field) may
name local code — a path or ``git+file://`` — only inside ``roots`` (``Settings.lab_code_roots``,
``DSJOBS_LAB_CODE_ROOTS``); the value the DAG author or CLI user wrote may name any.

Whatever the form, the result is a local directory or file (``ResolvedCode``) that the job stages like any input,
through the content-addressed cache. A directory must hold ``__main__.py`` (it runs as ``python DIR``); a script
runs with ``python``. Every failure is a one-line ``LabError`` raised before anything is stored.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_dsjobs.lab.config import LabError
from airflow_provider_dsjobs.lab.git_url import parse_git_url, redact_url

if TYPE_CHECKING:
    from airflow_provider_dsjobs.jobs.store import JobStore

STORE_PREFIX = "store:"
#: ``image:/path``: code that is already inside the job's image (the seed's custom-image flow)
IMAGE_PREFIX = "image:"
MAIN_FILE = "__main__.py"
_PACKAGE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
#: The setting (``Settings.lab_code_roots``; connection extra ``lab_code_roots``) naming where a run-time value may
#: name local code.
CODE_ROOTS_SETTING = "DSJOBS_LAB_CODE_ROOTS"


@dataclass(frozen=True)
class CodeSpec:
    """``EXECUTE_CODE`` parsed: ``kind`` is ``git``, ``local``, ``store`` or ``image`` (a path inside the image)."""

    text: str
    kind: str
    url: str | None = None  # git: the URL git fetches from (without ``git+``, ``@ref`` and ``#fragment``)
    ref: str | None = None
    subdirectory: str | None = None
    path: Path | None = None  # local
    key: str | None = None  # store: relative to the project's prefix
    image_path: str | None = None  # image: an absolute path inside the job's image
    #: https credentials taken out of the URL: they reach git through its environment only
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)


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


def parse_code(
    text: str, base_dir: Path | None = None, *, runtime: bool = False, roots: Sequence[str | Path] = ()
) -> CodeSpec:
    """Parse ``EXECUTE_CODE``; a relative local path resolves against ``base_dir`` (default: the current dir).

    ``runtime``: the value was set when the run was triggered (a param, run conf, a templated field), not written
    by the DAG author or CLI user; it may then name local code (a path, ``git+file://``) only inside ``roots``."""
    raw = text.strip()
    shown = redact_url(raw)
    if raw.startswith("git+"):
        git = parse_git_url(raw[len("git+") :], shown)
        if git.file_path is not None:
            _check_root(Path(git.file_path), shown, runtime, roots)
        return CodeSpec(
            shown, "git", url=git.url, ref=git.ref, subdirectory=git.subdirectory,
            username=git.username, password=git.password,
        )  # fmt: skip
    for vcs in ("hg+", "svn+", "bzr+"):
        if raw.startswith(vcs):
            raise LabError(f"EXECUTE_CODE {shown}: only git repositories are supported (not {vcs[:-1]})")
    if raw.startswith(IMAGE_PREFIX):
        return image_code(raw[len(IMAGE_PREFIX) :], shown)
    if raw.startswith(STORE_PREFIX):
        key = raw[len(STORE_PREFIX) :].strip("/")
        if not key or any(part in ("", ".", "..") for part in key.split("/")):
            raise LabError(f"EXECUTE_CODE {shown}: store:KEY needs a key like code/train.py (no '.' or '..')")
        return CodeSpec(shown, "store", key=key)
    if any(ord(c) < 32 for c in raw):
        raise LabError(f"EXECUTE_CODE {shown}: a path holds no control characters")
    path = Path(raw) if runtime else Path(raw).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    _check_root(path, shown, runtime, roots)
    return CodeSpec(shown, "local", path=path)


def image_code(path: str, shown: str | None = None) -> CodeSpec:
    """Code inside the job's image at ``path`` (absolute, normalized, printable): nothing is staged, the container
    runs it. Any caller may name it: it reaches nothing on the worker."""
    shown = shown or f"{IMAGE_PREFIX}{path}"
    normal = posixpath.normpath(path) if path.startswith("/") else ""
    if not normal or normal != path.rstrip("/") or any(ord(c) < 32 for c in path) or len(path) > 1024:
        raise LabError(f"EXECUTE_CODE {shown[:200]!r}: image:PATH needs an absolute, normalized path inside the image")
    return CodeSpec(f"{IMAGE_PREFIX}{normal}", "image", image_path=normal)


def _check_root(path: Path, shown: str, runtime: bool, roots: Sequence[str | Path]) -> None:
    """A run-time value names local code only inside one of ``roots`` (symlinks resolved)."""
    if not runtime:
        return
    if not roots:
        raise LabError(
            f"EXECUTE_CODE {shown}: a run-time value (a param, run conf or a templated field) may not name local "
            f"code; give it as execute_code= / --execute-code, or allow a directory with {CODE_ROOTS_SETTING}"
        )
    real = path.resolve()
    if not any(real.is_relative_to(Path(root).resolve()) for root in roots):
        raise LabError(
            f"EXECUTE_CODE {shown}: {path} is outside {CODE_ROOTS_SETTING} ({', '.join(map(str, roots))}), "
            "where a run-time value may name local code"
        )


def resolve_code(spec: CodeSpec, scratch: Path, jobs: JobStore | None, *, need_main: bool = True) -> ResolvedCode:
    """Bring the code to a local path (``scratch`` is an empty directory the caller deletes afterwards); code in
    the image stays there (``entry="image"``, ``root`` its path in the image)."""
    if spec.kind == "image":
        assert spec.image_path is not None
        return ResolvedCode(spec, Path(spec.image_path), "image")
    commit = None
    if spec.kind == "git":
        from airflow_provider_dsjobs.lab.git import checkout

        assert spec.url is not None
        checkout_dir = scratch / "repo"
        credentials = (spec.username or "", spec.password) if spec.password is not None else None
        commit = checkout(spec.url, spec.ref, checkout_dir, spec.text, credentials=credentials)
        _check_links(checkout_dir, spec)
        root = checkout_dir
        if spec.subdirectory:
            root = root / spec.subdirectory
            if not root.is_dir() or not root.resolve().is_relative_to(checkout_dir.resolve()):
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


def _check_links(checkout: Path, spec: CodeSpec) -> None:
    """A fetched repository's symlinks stay inside it: staging follows links, so one to a worker's file would copy
    that file into the job."""
    top = checkout.resolve()
    for dirpath, dirnames, filenames in os.walk(checkout):
        for name in (*dirnames, *filenames):
            path = Path(dirpath) / name
            if path.is_symlink() and not path.resolve().is_relative_to(top):
                rel = path.relative_to(checkout).as_posix()
                raise LabError(f"EXECUTE_CODE {spec.text}: the symlink {rel!r} points outside the repository")


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
