"""Rules for object keys and user-supplied relative paths, shared by every backend.

A key is a ``/``-separated relative path: no leading ``/``, no empty, ``.`` or ``..`` segments, no NUL.
Keeping keys this strict lets the local backend map them to files without any escape from its root.

A backslash is an ordinary character, as it is in a Linux file name: a job that writes ``a\\b.txt`` gets an
output ``a\\b.txt``, never ``a/b.txt`` (one rule for validation, stage-in, stage-out and downloads).
"""

from __future__ import annotations

import os

from airflow_provider_dsjobs.storage.base import StoreError

_FORBIDDEN_CHARS = ("\x00",)


def check_key(key: str) -> str:
    """Return ``key`` unchanged when it is a valid object key, else raise ``StoreError``."""
    if not key or key.startswith("/") or any(c in key for c in _FORBIDDEN_CHARS):
        raise StoreError(f"invalid object key {key!r}: use a relative path like 'a/b/c'")
    for part in key.split("/"):
        if part in ("", ".", ".."):
            raise StoreError(f"invalid object key {key!r}: empty, '.' and '..' segments are not allowed")
    return key


def safe_relpath(relpath: str) -> str:
    """Normalise a user-supplied relative path (``./a//b`` → ``a/b``); reject absolute paths, ``..``
    segments and NUL bytes with a one-line ``StoreError``."""
    if not relpath or relpath.startswith("/") or any(c in relpath for c in _FORBIDDEN_CHARS):
        raise StoreError(f"invalid output path {relpath!r}: it must be a relative path inside the output directory")
    parts = [p for p in relpath.split("/") if p not in ("", ".")]
    if not parts:
        raise StoreError(f"invalid output path {relpath!r}: it names no file")
    if ".." in parts:
        raise StoreError(f"invalid output path {relpath!r}: '..' would escape the output directory")
    return "/".join(parts)


def join_key(prefix: str, relpath: str) -> str:
    """``prefix`` + ``/`` + ``relpath`` without doubled slashes (an empty prefix yields ``relpath``)."""
    prefix = prefix.strip("/")
    return f"{prefix}/{relpath}" if prefix else relpath


#: Characters that separate path parts on this system besides ``/`` (a backslash on Windows): a key or a name
#: holding one cannot be mapped to one local file name.
NATIVE_SEPARATORS = tuple(sep for sep in {os.sep, os.altsep} if sep and sep != "/")


def local_parts(relpath: str) -> list[str]:
    """The parts of a ``/``-separated relative path, each safe as one local file name here: a ``StoreError``
    for an absolute path, an empty, ``.`` or ``..`` part, a NUL, or a separator of this system inside a part."""
    if not relpath or relpath.startswith("/") or "\x00" in relpath:
        raise StoreError(f"{relpath!r} is not a relative path")
    parts = relpath.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise StoreError(f"{relpath!r} has an empty, '.' or '..' part")
        if any(sep in part for sep in NATIVE_SEPARATORS):
            raise StoreError(f"{relpath!r} has a part with {NATIVE_SEPARATORS[0]!r}, a path separator here")
    return parts
