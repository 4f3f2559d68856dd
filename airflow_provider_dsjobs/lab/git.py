"""Fetch one commit of a git repository on the submitting side, with the machine's own ``git``.

``checkout(url, ref, dest)`` puts the tree of ``ref`` (a branch, a tag, a full or abbreviated commit; ``None``
for the default branch) into ``dest`` without ``.git`` and returns the full commit id. It fetches only that ref
(``--depth 1``); an abbreviated commit, which a server cannot be asked for, falls back to one full fetch. Git never
prompts (``GIT_TERMINAL_PROMPT=0``, ssh in batch mode) and every command has a time limit, so a bad URL fails in
bounded time with git's own last line as the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from airflow_provider_dsjobs.lab.config import LabError

#: Seconds one git command may take (a fetch of a large repository over a slow link stays under it).
GIT_TIMEOUT = 600.0
_HEX = re.compile(r"[0-9a-fA-F]{4,40}")


#: git's credential helper protocol, answered from the environment: the values never appear in a command line.
_CREDENTIAL_HELPER = (
    '!f() { test "$1" = get && printf "username=%s\\npassword=%s\\n" '
    '"$DSJOBS_GIT_USERNAME" "$DSJOBS_GIT_PASSWORD"; }; f'
)


def git_environment(
    *, allow_file: bool, credentials: tuple[str, str] | None = None, origin: str | None = None
) -> dict[str, str]:
    """The environment every git command runs with: no prompts, and git's own protocol policy allowing only https
    and ssh (and ``file`` when ``allow_file``), so a transport the URL check missed (``ext::``, ``fd::``, plain
    http) is still refused by git. ``credentials`` (user, password) are answered, for ``origin``
    (``https://host[:port]``) only, by a credential helper that reads them from this environment."""
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true", LC_ALL="C")
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o ConnectTimeout=30")
    protocols = ["https", "ssh", *(["file"] if allow_file else [])]
    env["GIT_ALLOW_PROTOCOL"] = ":".join(protocols)
    config = [("protocol.allow", "never"), *((f"protocol.{p}.allow", "always") for p in protocols)]
    for name in ("DSJOBS_GIT_USERNAME", "DSJOBS_GIT_PASSWORD"):
        env.pop(name, None)
    if credentials is not None and origin:
        config += [("credential.helper", ""), (f"credential.{origin}.helper", _CREDENTIAL_HELPER)]
        env["DSJOBS_GIT_USERNAME"], env["DSJOBS_GIT_PASSWORD"] = credentials
    try:
        start = int(env.get("GIT_CONFIG_COUNT") or 0)
    except ValueError:
        start = 0
    for index, (key, value) in enumerate(config, start):
        env[f"GIT_CONFIG_KEY_{index}"], env[f"GIT_CONFIG_VALUE_{index}"] = key, value
    env["GIT_CONFIG_COUNT"] = str(start + len(config))
    return env


def _git(args: list[str], cwd: Path, what: str, env: dict[str, str], timeout: float = GIT_TIMEOUT) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise LabError(f"{what}: git is not installed on this machine (it fetches EXECUTE_CODE repositories)") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"{what}: git {args[0]} did not finish in {timeout:.0f} s") from None
    if done.returncode != 0:
        lines = [ln.strip() for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
        raise _GitFailed(lines[-1] if lines else f"git {args[0]} exited with code {done.returncode}")
    return done.stdout.strip()


class _GitFailed(Exception):
    pass


def checkout(url: str, ref: str | None, dest: Path, text: str, *, credentials: tuple[str, str] | None = None) -> str:
    """The tree of ``ref`` at ``url`` into ``dest`` (created; no ``.git``); the commit id. ``url`` and ``ref`` were
    checked (``lab/git_url.py``) and still reach git after ``--``, never where an option could be; ``credentials``
    (user, password) for an https ``url`` reach git through its environment. ``text`` names the code in messages."""
    parts = urlsplit(url) if "://" in url else None
    origin = f"{parts.scheme}://{parts.netloc}" if parts is not None and parts.scheme == "https" else None
    env = git_environment(allow_file=url.startswith("file://"), credentials=credentials, origin=origin)
    repo = dest.parent / (dest.name + ".git")
    repo.mkdir(parents=True)
    try:
        _git(["init", "-q", "--bare", str(repo)], dest.parent, text, env)
        commit = _fetch(repo, url, ref, text, env)
        dest.mkdir()
        _git(["--git-dir", str(repo), "--work-tree", str(dest), "checkout", "-q", commit, "--", "."], dest, text, env)
    except _GitFailed as exc:
        raise LabError(f"EXECUTE_CODE {text}: {exc}") from None
    finally:
        shutil.rmtree(repo, ignore_errors=True)
    return commit


def _fetch(repo: Path, url: str, ref: str | None, text: str, env: dict[str, str]) -> str:
    gd = ["--git-dir", str(repo)]
    wanted = ref or "HEAD"
    try:
        _git([*gd, "fetch", "-q", "--depth", "1", "--no-tags", "--", url, wanted], repo, text, env)
        return _git([*gd, "rev-parse", "--verify", "FETCH_HEAD^{commit}"], repo, text, env)
    except _GitFailed as exc:
        reason = str(exc)
        if ref is None or not _HEX.fullmatch(ref) or _unreachable(reason):
            raise _GitFailed(_explain(reason, url, ref)) from None
    # An abbreviated (or unadvertised) commit: fetch everything once and look it up.
    refspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
    try:
        _git([*gd, "fetch", "-q", "--no-tags", "--", url, *refspecs], repo, text, env)
    except _GitFailed as exc:
        raise _GitFailed(_explain(str(exc), url, ref)) from None
    try:
        return _git([*gd, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"], repo, text, env)
    except _GitFailed:
        raise _GitFailed(f"no branch, tag or commit {ref!r} in {url}") from None


def _unreachable(reason: str) -> bool:
    lowered = reason.lower()
    return any(
        s in lowered
        for s in (
            "does not appear to be a git repository",
            "could not read",
            "could not resolve",
            "connection",
            "denied",
        )
    )


def _explain(reason: str, url: str, ref: str | None) -> str:
    lowered = reason.lower()
    if ref and ("couldn't find remote ref" in lowered or "not our ref" in lowered or "invalid refspec" in lowered):
        return f"no branch, tag or commit {ref!r} in {url}"
    return f"cannot fetch {url}: {reason}"
