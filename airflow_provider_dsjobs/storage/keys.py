"""Rules for object keys and user-supplied relative paths, shared by every backend.

A key is a ``/``-separated relative path: no leading ``/``, no empty, ``.`` or ``..`` segments, no backslash
or NUL. Keeping keys this strict lets the local backend map them to files without any escape from its root.
"""

from __future__ import annotations

from airflow_provider_dsjobs.storage.base import StoreError

_FORBIDDEN_CHARS = ("\\", "\x00")


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
    segments, backslashes and NUL bytes with a one-line ``StoreError``."""
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
