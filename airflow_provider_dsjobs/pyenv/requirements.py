"""``requirements-file`` parsing: what pip accepts, minus what cannot work in a container.

Accepted: PEP 508 requirements (specifiers, extras, environment markers — pip evaluates them in the
container, so they are not rejected as the official CLI does), remote URL requirements (``name @ https://``),
``--hash`` per requirement, comments, line continuations, ``-i/--index-url``, ``--extra-index-url``,
``--trusted-host``, ``--no-deps``, ``--pre``, ``--prefer-binary``, ``--only-binary``, ``--no-binary``,
``--no-index``, ``-f/--find-links`` with an http(s) URL, and ``-r`` of another file next to this one.

Rejected with ``file:line``: ``-e``/``--editable``, local paths and ``file:`` URLs (nothing on the submitting
machine's disk exists in the container — ship sources through ``local-paths``), ``-c`` constraints and any
option pip would not accept in a requirements file.

Index options become :class:`~airflow_provider_dsjobs.config.model.PipOptions` fields; the requirement and
pass-through option lines are kept verbatim, in order, and written to a requirements file in the container.
An index option whose value holds ``${VAR}`` (``--extra-index-url https://${TOKEN}@host/simple``) stays a line
of that file, because pip expands variables from the container's environment only there.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from airflow_provider_dsjobs.pyenv.errors import PyEnvError

_COMMENT = re.compile(r"(^|\s+)#.*$")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_REMOTE = re.compile(r"^(https?|git\+https?|git\+ssh|hg\+https?|svn\+https?|bzr\+https?)://", re.IGNORECASE)
_ARCHIVE = (".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tar.xz")
#: Options kept as lines in the container's requirements file (flag → takes a value).
_PASSTHROUGH = {
    "--pre": False,
    "--prefer-binary": False,
    "--no-index": False,
    "--only-binary": True,
    "--no-binary": True,
}
_PER_REQUIREMENT = ("--hash",)
_INDEX_OPTIONS = {
    "-i": "--index-url",
    "--index-url": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "--trusted-host": "--trusted-host",
}


@dataclass
class RequirementsFile:
    """A parsed requirements file: requirement/pass-through lines and the index options it sets."""

    path: Path
    lines: list[str] = field(default_factory=list)
    index_url: str | None = None
    #: where index_url was set, for conflict messages
    index_url_at: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    trusted_hosts: list[str] = field(default_factory=list)
    no_deps: bool = False


def _logical_lines(path: Path) -> list[tuple[int, str]]:
    """(first physical line number, text) with comments removed and ``\\`` continuations joined."""
    result: list[tuple[int, str]] = []
    pending = ""
    start = 0
    with open(path, encoding="utf-8") as fh:
        for number, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not pending:
                start = number
            if line.endswith("\\") and not _COMMENT.search(line):
                pending += line[:-1] + " "
                continue
            text = _COMMENT.sub("", pending + line).strip()
            pending = ""
            if text:
                result.append((start, text))
    if pending.strip():
        result.append((start, pending.strip()))
    return result


def _is_local_path(text: str) -> bool:
    if text.lower().startswith("file:"):
        return True
    if _URL.match(text):
        return False
    return text.startswith((".", "/", "~", "\\")) or "/" in text or "\\" in text or text.lower().endswith(_ARCHIVE)


class _Parser:
    def __init__(self, display_base: Path) -> None:
        self.display_base = display_base
        self.stack: list[Path] = []

    def where(self, path: Path, line: int) -> str:
        try:
            shown = path.relative_to(self.display_base).as_posix()
        except ValueError:
            shown = str(path)
        return f"{shown}:{line}"

    def parse(self, path: Path, into: RequirementsFile) -> None:
        resolved = path.resolve()
        if resolved in self.stack:
            raise PyEnvError(f"{self.where(path, 1)}: requirements files include each other (-r loop)")
        self.stack.append(resolved)
        try:
            lines = _logical_lines(path)
        except FileNotFoundError:
            raise PyEnvError(f"requirements file '{path}' was not found") from None
        except UnicodeDecodeError:
            raise PyEnvError(f"{self.where(path, 1)}: requirements file is not UTF-8 text") from None
        for number, text in lines:
            where = self.where(path, number)
            if text.startswith("-"):
                self._option(path, where, text, into)
            else:
                self._requirement(where, text, into)
        self.stack.pop()

    def _option(self, path: Path, where: str, text: str, into: RequirementsFile) -> None:
        for name, value in _option_words(where, text):
            self._apply_option(path, where, name, value, into)

    def _apply_option(self, path: Path, where: str, name: str, value: str | None, into: RequirementsFile) -> None:
        """Record one option (``name``, its value or None) of a requirements file line in ``into``."""
        if name in ("-e", "--editable"):
            raise PyEnvError(
                f"{where}: editable requirements (-e) are not supported: the container cannot see local "
                "directories; add the sources to env.python.local-paths or install the package from an index"
            )
        if name in ("-c", "--constraint"):
            raise PyEnvError(f"{where}: constraint files (-c) are not supported; pin versions in this file")
        if value is not None and "${" in value and name in _INDEX_OPTIONS:
            # pip expands ${VAR} from the container's environment (env.vars) only inside a requirements
            # file: keep the line there, so a token never reaches the plan, its hash or a label
            into.lines.append(f"{_INDEX_OPTIONS[name]} {value}")
        elif name in ("-i", "--index-url"):
            assert value is not None
            if into.index_url and into.index_url != value:
                raise PyEnvError(f"{where}: a second --index-url (first at {into.index_url_at})")
            into.index_url, into.index_url_at = value, where
        elif name == "--extra-index-url":
            assert value is not None
            if value not in into.extra_index_urls:
                into.extra_index_urls.append(value)
        elif name == "--trusted-host":
            assert value is not None
            if value not in into.trusted_hosts:
                into.trusted_hosts.append(value)
        elif name == "--no-deps":
            into.no_deps = True
        elif name in ("-r", "--requirement"):
            assert value is not None
            self._include(path, where, value, into)
        elif name in ("-f", "--find-links"):
            assert value is not None
            if not _REMOTE.match(value):
                raise PyEnvError(f"{where}: --find-links must be an http(s) URL, not a local path ({value})")
            into.lines.append(f"--find-links {value}")
        elif name in _PASSTHROUGH:
            into.lines.append(f"{name} {value}" if value is not None else name)
        else:
            raise PyEnvError(
                f"{where}: unsupported option {name} (allowed: -i/--index-url, --extra-index-url, "
                "--trusted-host, --no-deps, --pre, --prefer-binary, --only-binary, --no-binary, --no-index, "
                "-f/--find-links URL, -r FILE)"
            )

    def _include(self, path: Path, where: str, value: str, into: RequirementsFile) -> None:
        target = Path(value)
        if target.is_absolute() or ".." in target.parts:
            raise PyEnvError(f"{where}: -r must name a file next to this one (relative, without ..): {value}")
        included = path.parent / target
        if not included.is_file():
            raise PyEnvError(f"{where}: included requirements file '{value}' was not found")
        self.parse(included, into)

    def _requirement(self, where: str, text: str, into: RequirementsFile) -> None:
        spec, _, rest = text.partition(" --")
        spec = spec.strip()
        if rest:
            option = "--" + rest.split("=", 1)[0].split()[0]
            if option not in _PER_REQUIREMENT:
                raise PyEnvError(f"{where}: unsupported per-requirement option {option} (only --hash is allowed)")
        if _REMOTE.match(spec):
            into.lines.append(text)
            return
        if _is_local_path(spec) and "@" not in spec:
            raise PyEnvError(
                f"{where}: local path requirements are not supported ({spec}): the container cannot see the "
                "submitting machine's disk; add the sources to env.python.local-paths or publish the package"
            )
        try:
            req = Requirement(spec)
        except InvalidRequirement as exc:
            message = str(exc).splitlines()[0]
            raise PyEnvError(f"{where}: invalid requirement '{spec}': {message}") from None
        if req.url and not _REMOTE.match(req.url):
            raise PyEnvError(
                f"{where}: requirement {req.name} points to a local path ({req.url}); only http(s) and VCS URLs "
                "reachable from the container are allowed"
            )
        into.lines.append(text)


def parse_requirements_file(path: Path, *, display_base: Path | None = None) -> RequirementsFile:
    """Parse ``path``. Messages name files relative to ``display_base`` (the job directory)."""
    result = RequirementsFile(path)
    _Parser(display_base or path.parent).parse(path, result)
    return result


def _option_words(where: str, text: str) -> Iterator[tuple[str, str | None]]:
    """``(option, value or None)`` for each option on a requirements file line (``-ihttps://…``, ``--opt=v`` and
    ``--opt v`` alike); ``PyEnvError`` for a line that cannot be split or an option missing its value."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise PyEnvError(f"{where}: cannot parse '{text}': {exc}") from None
    i = 0
    while i < len(words):
        word = words[i]
        name, eq, inline = word.partition("=")
        if name.startswith("-") and not name.startswith("--") and len(name) > 2:  # -ihttps://... / -rfile
            name, inline, eq = name[:2], name[2:] + eq + inline, "="
        takes_value = name in ("-i", "--index-url", "--extra-index-url", "--trusted-host", "-r", "--requirement")
        takes_value = takes_value or name in ("-f", "--find-links", "-c", "--constraint", "-e", "--editable")
        takes_value = takes_value or _PASSTHROUGH.get(name, False)
        value = inline if eq else None
        if takes_value and value is None:
            if i + 1 >= len(words):
                raise PyEnvError(f"{where}: option {name} needs a value")
            value = words[i + 1]
            i += 1
        i += 1
        yield name, value
