"""A pip-VCS git URL (``git+URL[@ref][#subdirectory=DIR]``) checked before git ever sees it.

The value may come from whoever triggers a run, so each part is checked on its own: the transport is ``https``,
``ssh`` or scp-style ``[user@]host:path`` (``file://`` only where the caller allows it; plain ``http`` and
``git://`` carry code unauthenticated and are refused; ``transport::address`` remote helpers such as ``ext::`` never
pass); no host, user, path segment, ref or subdirectory starts with ``-`` (git would read it as an option); a ref is
a plain name (letters, digits, ``. _ + -``, no ``..``); nothing holds whitespace or control characters. Credentials
in an https URL (``https://user:TOKEN@host/...``) are taken out: the URL git gets, the record and every message
show ``https://host/...``, and the token reaches git only through its environment (``lab/git.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from airflow_provider_dsjobs.lab.config import LabError

#: Transports a git URL may use; ``file`` only when the caller allows local code.
SCHEMES = ("https", "ssh")
_HOST = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})|\[[0-9A-Fa-f:.]+\]")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}")
_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]{0,254}")
#: ``://user:password@`` (the password up to the netloc's last ``@``, as ``urlsplit`` reads it)
_USERINFO = re.compile(r"(://[^/@:]*):[^/]*@")


def redact_url(text: str) -> str:
    """``text`` as messages and records show it: the password of a ``scheme://user:password@host`` URL as ``***``,
    control characters escaped (``\\n``), so a value cannot forge a log line."""
    shown = _USERINFO.sub(r"\1:***@", text)
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in shown)


def url_passwords(text: str) -> list[str]:
    """The passwords of the ``scheme://user:password@host`` URLs in ``text`` (as written and unquoted), so a caller
    can register them with a secret masker before the text is shown anywhere."""
    found: list[str] = []
    for match in _USERINFO.finditer(text):
        raw = match.group(0)[len(match.group(1)) + 1 : -1]
        found += [value for value in {raw, unquote(raw)} if value]
    return found


@dataclass(frozen=True)
class GitUrl:
    """``url`` is what git fetches (no credentials); ``file_path`` the directory of a ``file://`` URL."""

    url: str
    ref: str | None
    subdirectory: str | None
    file_path: str | None = None
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)


class _Bad(Exception):
    """One reason a git URL is refused (``parse_git_url`` turns it into a ``LabError`` naming the value)."""


def parse_git_url(text: str, shown: str) -> GitUrl:
    """``text`` is the value after ``git+``; ``shown`` names it in messages (credentials already redacted)."""
    try:
        return _parse(text)
    except _Bad as exc:
        raise LabError(f"EXECUTE_CODE {shown}: {exc}") from None


def _parse(text: str) -> GitUrl:
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*::", text):
        raise _Bad("remote helpers (transport::address, like ext::) are not allowed: use https or ssh")
    if any(ord(c) < 33 or ord(c) == 127 or not c.isprintable() for c in text):
        raise _Bad("a git URL holds no spaces or control characters (write a space in a path as %20)")
    rest, _, fragment = text.partition("#")
    subdirectory = _subdirectory(fragment)
    parsed = _url_form(rest) if "://" in rest else _scp_form(rest)
    ref = parsed.ref
    if ref is not None and (not _REF.fullmatch(ref) or ".." in ref or ref.endswith((".", ".lock"))):
        raise _Bad(f"ref {ref!r} is not a branch, tag or commit name (letters, digits, . _ + -; not starting with -)")
    return GitUrl(parsed.url, ref, subdirectory, parsed.file_path, parsed.username, parsed.password)


def _subdirectory(fragment: str) -> str | None:
    subdirectory = None
    for item in filter(None, fragment.split("&")):
        key, _, value = item.partition("=")
        if key == "subdirectory":
            if value.startswith("/"):
                raise _Bad(f"subdirectory {value!r} must be a path inside the repository")
            subdirectory = value.strip("/") or None
        elif key != "egg":
            raise _Bad(f"unknown fragment {key!r} (use #subdirectory=DIR)")
    if subdirectory:
        parts = subdirectory.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise _Bad(f"subdirectory {subdirectory!r} must be a path inside the repository")
        if any(part.startswith("-") or "\\" in part for part in parts):
            raise _Bad(f"subdirectory {subdirectory!r}: no part may start with '-' or hold a backslash")
    return subdirectory


def _url_form(rest: str) -> GitUrl:
    parts = urlsplit(rest)
    scheme = parts.scheme.lower()
    if scheme == "http":
        raise _Bad("plain http is refused (code and credentials would travel unencrypted): use https")
    if scheme == "git":
        raise _Bad("git:// is refused (unauthenticated, unencrypted): use https or ssh")
    if scheme not in (*SCHEMES, "file"):
        raise _Bad(f"unsupported scheme {parts.scheme!r} (https, ssh, or file for local repositories)")
    path, ref = split_ref(parts.path)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise _Bad("a file:// URL names a local path: file:///path/to/repo")
        _check_path(path)
        return GitUrl(f"file://{path}", ref, None, unquote(path))
    userinfo, _, hostport = parts.netloc.rpartition("@")
    host = hostport if hostport.startswith("[") else hostport.rsplit(":", 1)[0] if ":" in hostport else hostport
    if not _HOST.fullmatch(host.split("]")[0] + "]" if host.startswith("[") else host):
        raise _Bad(f"host {host!r} is not a host name")
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise _Bad(f"the port of {hostport!r} is not a number") from None
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if userinfo and (user is None or not _USER.fullmatch(user)):
        raise _Bad(f"user {user or userinfo!r} is not a user name (letters, digits, . _ + -; not starting with -)")
    if scheme == "ssh" and password is not None:
        raise _Bad("ssh authenticates with keys: a password in an ssh URL is never sent, remove it")
    _check_path(path)
    if password is not None:  # both go to git through its environment, never in the URL
        return GitUrl(f"{scheme}://{hostport}{path}", ref, None, None, user, password)
    userpart = f"{user}@" if user else ""
    return GitUrl(f"{scheme}://{userpart}{hostport}{path}", ref, None)


def _scp_form(rest: str) -> GitUrl:
    """``[user@]host:path`` as git reads it (no ``/`` before the first ``:``)."""
    head, sep, path = rest.partition(":")
    user, _, host = head.rpartition("@")
    if not sep or not _HOST.fullmatch(host):
        raise _Bad("not a git URL (like git+https://host/repo.git@main or git+git@host:org/repo.git)")
    if user and not _USER.fullmatch(user):
        raise _Bad(f"user {user!r} is not a user name (letters, digits, . _ + -; not starting with -)")
    path, ref = split_ref(path)
    _check_path(path)
    return GitUrl(f"{head}:{path}", ref, None)


def _check_path(path: str) -> None:
    if not path.strip("/"):
        raise _Bad("the URL names no repository")
    if any(part.startswith("-") for part in path.split("/")):
        raise _Bad(f"repository path {path!r}: no part may start with '-'")


def split_ref(path: str) -> tuple[str, str | None]:
    """pip's rule: the ref follows the last ``@`` of the path."""
    head, sep, ref = path.rpartition("@")
    if not sep or "/" in ref:
        return path, None
    if not ref:
        raise _Bad(f"{path!r} ends in '@' without a branch, tag or commit")
    return head, ref
