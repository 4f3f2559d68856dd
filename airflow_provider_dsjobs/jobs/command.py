"""``cmd`` becomes the job's shell script: each ``${NAME}`` is replaced, and run-time values stay data.

* An ``args`` value (config default, ``fork --arg``, the operator's ``args``, Airflow Params rendered into them)
  is never written into the script. It travels in the container's environment as ``DSJOBS_ARG_<NAME>`` (a
  name with ``-`` as ``DSJOBS_ARGX_<n>``, ``n`` its position in ``args``) and ``${NAME}`` becomes
  ``${DSJOBS_ARG_<NAME>}``, so the shell expands it as it expands any variable: unquoted it splits into words
  at blanks, inside ``"..."`` it stays one argument, inside ``'...'`` it is left to a nested shell
  (``sh -c '...'``, which inherits the variable), and ``;``, ``|``, quotes, ``$(...)`` and backquotes in it
  are characters, never code.
* An arg inside ``$((...))`` (or a ``((...))`` command) must hold a whole number: bash evaluates the text it
  expands there as an expression, and ``a[$(cmd)]`` runs ``cmd``.
* When an arg is expanded unquoted and ``cmd`` has no glob pattern of its own (and sources or ``eval``-s
  nothing, whose globs it would turn off as well), the script starts with ``set -f``, so a ``*`` in a value
  stays a ``*``; a ``cmd`` that globs (``cat parts/*.csv``) keeps pathname expansion on, and there a value
  with ``*`` must be quoted (``"${NAME}"``) to stay literal.
* A path (inputs, outputs, datasets, s3-mounts, output datasets, ``DS_PROJECT_HOME``) is computed here; one
  made only of characters no shell treats specially is written as is (as before). Any other (a file name
  with a space, a quote, ``$``...) travels as ``DSJOBS_PATH_<n>`` in the environment and is expanded
  ``"${DSJOBS_PATH_<n>}"`` where ``cmd`` has it unquoted, so it stays one word and is never parsed.

Where a reference stands (unquoted, ``"..."``, ``'...'``, a here-document, ``$((...))``) is found by
:func:`references`, a small reader of the shell's quoting rules. The quoting of unusual paths, the ``set -f``
decision and the whole-number check depend on it; whether a value can be parsed as shell code does not (it
never is). The reader reads the text of ``'...'`` and of here-documents as a nested shell would, so an arg in
``bash -c 'echo $(( ${N} ))'`` is checked too.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

#: Where a ``${NAME}`` stands: unquoted, inside ``"..."``, inside ``'...'``, in a here-document body that
#: expands (``<<EOF``), in one that does not (``<<'EOF'``) or a comment, inside ``$((...))``/``((...))``.
Context = Literal["plain", "double", "single", "heredoc", "literal", "arith"]

ARG_PREFIX = "DSJOBS_ARG_"
_ARG_INDEX_PREFIX = "DSJOBS_ARGX_"
PATH_PREFIX = "DSJOBS_PATH_"
NOGLOB = "set -f\n"

_IDENT_RE = re.compile(r"[A-Za-z0-9_]+")
_INTEGER_RE = re.compile(r"\s*[+-]?[0-9]+\s*")
_HEREDOC_RE = re.compile(r"<<(-?)[ \t]*(?:'([^'\n]*)'|\"([^\"\n]*)\"|\\?([A-Za-z0-9_.-]+))")
_WORD_END = frozenset(" \t\n;&|()<>")
#: Commands that run more code in this same shell, whose globs ``set -f`` would turn off too.
_SAME_SHELL_RE = re.compile(r"(?:^|[;&|(`\n]|\$\()[ \t]*(?:\.|source|eval)[ \t]", re.MULTILINE)


class CommandError(Exception):
    """``cmd`` cannot become a script because of ``${name}``."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class UnknownVariable(CommandError):
    """A ``${NAME}`` that names neither a path nor an argument."""


class ArithmeticArg(CommandError):
    """An argument inside ``$((...))`` whose value is not a whole number: bash evaluates ``a[$(cmd)]`` there."""


@dataclass(frozen=True)
class Reference:
    start: int
    end: int
    name: str
    context: Context
    #: inside ``$((...))``/``((...))``, here or in the text a nested shell or a here-document expands
    arith: bool = False


@dataclass
class _Reader:
    """One pass over ``cmd`` (see :func:`references`)."""

    text: str
    refs: list[Reference] = field(default_factory=list)
    globs: bool = False
    #: open frames: "plain" (top level), "double", "paren" (``$(``), "arith" (``$((``), "tick" (a backquote)
    stack: list[str] = field(default_factory=lambda: ["plain"])
    depth: list[int] = field(default_factory=lambda: [0])
    heredocs: list[tuple[str, bool, bool]] = field(default_factory=list)  # (delimiter, strip tabs, expands)

    def run(self) -> None:
        i, text = 0, self.text
        while i < len(text):
            if text.startswith("${", i):
                top = self.stack[-1]
                i = self.reference(i, "double" if top == "double" else "arith" if top == "arith" else "plain")
            elif self.stack[-1] == "double":
                i = self.in_double(i)
            else:
                i = self.unquoted(i)

    def reference(self, i: int, context: Context) -> int:
        end = self.text.find("}", i + 2)
        if end < 0:
            return len(self.text)
        self.refs.append(Reference(i, end + 1, self.text[i + 2 : end], context, context == "arith"))
        return end + 1

    def literal_span(self, start: int, end: int, context: Context, *, runs: bool = True) -> None:
        """References inside text not expanded as plain code here (``'...'``, a here-document, a comment); read
        as the script a nested shell would run (unless it never ``runs``), to know which stand in arithmetic."""
        nested = _Reader(self.text[start:end])
        if runs:
            nested.run()
        arith = {r.start for r in nested.refs if r.arith}
        for m in re.finditer(r"\$\{([^}]*)\}", nested.text):
            self.refs.append(Reference(start + m.start(), start + m.end(), m.group(1), context, m.start() in arith))

    def push(self, kind: str, depth: int = 0) -> None:
        self.stack.append(kind)
        self.depth.append(depth)

    def open_substitution(self, i: int) -> int | None:
        """``$((`` or ``$(`` at ``i``: the frame is pushed and the index after it returned."""
        if self.text.startswith("$((", i):
            self.push("arith", 2)
            return i + 3
        if self.text.startswith("$(", i):
            self.push("paren", 1)
            return i + 2
        return None

    def in_double(self, i: int) -> int:
        c = self.text[i]
        if c == "\\":
            return i + 2
        if c == '"':
            self.stack.pop()
            self.depth.pop()
        elif (after := self.open_substitution(i)) is not None:
            return after
        elif c == "`":
            self.push("tick")
        return i + 1

    def unquoted(self, i: int) -> int:
        text, c, top = self.text, self.text[i], self.stack[-1]
        if c == "\\":
            return i + 2
        if c == "'":
            end = text.find("'", i + 1)
            end = len(text) if end < 0 else end
            self.literal_span(i + 1, end, "single")
            return end + 1
        if c == '"':
            self.push("double")
        elif c == "`":
            if top == "tick":
                self.stack.pop()
                self.depth.pop()
            else:
                self.push("tick")
        elif (after := self.open_substitution(i)) is not None:
            return after
        elif text.startswith("((", i) and text[:i].rstrip(" \t")[-1:] in ("", ";", "&", "|", "\n"):
            self.push("arith", 2)  # an arithmetic command
            return i + 2
        elif c == "(" and top in ("paren", "arith"):
            self.depth[-1] += 1
        elif c == ")" and top in ("paren", "arith"):
            self.depth[-1] -= 1
            if self.depth[-1] == 0:
                self.stack.pop()
                self.depth.pop()
        elif c == "#" and (i == 0 or text[i - 1] in _WORD_END):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            self.literal_span(i, end, "literal", runs=False)  # a comment: replaced, never run
            return end
        elif text.startswith("<<<", i):  # a here-string is one word, not a here-document
            return i + 3
        elif c == "<" and top != "arith" and (m := _HEREDOC_RE.match(text, i)):  # $((1<<2)) shifts
            quoted = m.group(2) is not None or m.group(3) is not None or m.group(0).find("\\") >= 0
            delimiter = next(g for g in (m.group(2), m.group(3), m.group(4)) if g is not None)
            self.heredocs.append((delimiter, m.group(1) == "-", not quoted))
            return m.end()
        elif c == "\n" and self.heredocs:
            return self.heredoc_bodies(i + 1)
        elif top != "arith" and self.glob_at(i):
            self.globs = True
        return i + 1

    def glob_at(self, i: int) -> bool:
        """An unquoted ``*``, ``?`` (not ``$*``, ``$?``) or a ``[`` closed by a ``]`` within the same word."""
        c = self.text[i]
        if c in "*?":
            return not (i > 0 and self.text[i - 1] == "$")
        return c == "[" and self.bracket_pattern(i)

    def bracket_pattern(self, i: int) -> bool:
        """``[`` opens a glob bracket when a ``]`` closes it within the same word (``[ -f x ]`` is a command)."""
        j = i + 1
        while j < len(self.text) and self.text[j] not in _WORD_END:
            if self.text[j] == "]":
                return j > i + 1
            j += 1
        return False

    def heredoc_bodies(self, i: int) -> int:
        """Skip the bodies of the here-documents opened on the line that just ended; returns where code resumes."""
        text = self.text
        for delimiter, strip_tabs, expands in self.heredocs:
            start = i
            while i < len(text):
                end = text.find("\n", i)
                end = len(text) if end < 0 else end
                line = text[i:end].lstrip("\t") if strip_tabs else text[i:end]
                if line == delimiter:
                    self.body(start, i, expands)
                    i = end + 1
                    break
                i = end + 1
            else:
                self.body(start, len(text), expands)
        self.heredocs.clear()
        return i

    def body(self, start: int, end: int, expands: bool) -> None:
        self.literal_span(start, end, "heredoc" if expands else "literal")


def references(cmd: str) -> tuple[list[Reference], bool]:
    """Every ``${NAME}`` in ``cmd`` with where it stands, and whether ``cmd`` has an unquoted glob pattern of
    its own (``*``, ``?``, ``[...]``; conservative: ``$((2*3))`` counts too)."""
    reader = _Reader(cmd)
    reader.run()
    return sorted(reader.refs, key=lambda r: r.start), reader.globs


def arg_env_names(names: list[str]) -> dict[str, str]:
    """The environment variable each argument travels in (identifiers only, so every ``sh`` keeps it)."""
    return {
        name: (ARG_PREFIX + name) if _IDENT_RE.fullmatch(name) else f"{_ARG_INDEX_PREFIX}{i}"
        for i, name in enumerate(names)
    }


@dataclass(frozen=True)
class Script:
    """The script ``cmd`` became, and the environment variables it expands (arg values, unusual paths)."""

    text: str
    env: Mapping[str, str]


def render(cmd: str, paths: Mapping[str, str], args: Mapping[str, str]) -> Script:
    """``cmd`` with every ``${NAME}`` replaced (see the module doc). ``paths`` are in-container paths by
    variable, ``args`` the argument values. Raises :class:`UnknownVariable`, :class:`ArithmeticArg`."""
    refs, own_globs = references(cmd)
    arg_vars = arg_env_names(list(args))
    env = {arg_vars[name]: str(value) for name, value in args.items()}
    path_vars: dict[str, str] = {}
    out: list[str] = []
    at = 0
    unquoted_arg = False
    for ref in refs:
        out.append(cmd[at : ref.start])
        at = ref.end
        if ref.name in args:
            if ref.arith and not _INTEGER_RE.fullmatch(str(args[ref.name])):
                raise ArithmeticArg(ref.name)
            out.append("${" + arg_vars[ref.name] + "}")
            unquoted_arg = unquoted_arg or ref.context == "plain"
        elif ref.name in paths:
            out.append(_path_text(ref, paths[ref.name], path_vars, env))
        else:
            raise UnknownVariable(ref.name)
    out.append(cmd[at:])
    text = "".join(out)
    noglob = unquoted_arg and not own_globs and not _SAME_SHELL_RE.search(cmd)
    return Script(NOGLOB + text if noglob else text, env)


def _path_text(ref: Reference, path: str, path_vars: dict[str, str], env: dict[str, str]) -> str:
    if shlex.quote(path) == path:
        return path
    var = path_vars.setdefault(ref.name, f"{PATH_PREFIX}{len(path_vars)}")
    env[var] = path
    return f'"${{{var}}}"' if ref.context == "plain" else f"${{{var}}}"
