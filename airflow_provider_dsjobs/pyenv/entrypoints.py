"""Which Python programs a job's ``cmd`` runs: its entry points.

The command is tokenized like a shell would (``shlex``), split into simple commands at ``;``, ``&&``,
``||``, ``|`` and newlines, and each simple command is examined:

* ``python``/``python3``/``python3.X`` (also by absolute path): interpreter options are skipped
  (``-u``, ``-O``, ``-B``, ``-X opt``, ``-W arg``, combined ``-uB`` ...), then ``-m module`` gives a module
  entry point and the first other argument the script. ``-c code`` gives none (and is reported so that
  auto mode can say what to do). The official CLI takes ``-u`` in ``python -u main.py`` as the script;
  this module does not.
* launchers that take a script: ``torchrun``, ``deepspeed``, ``accelerate launch`` and their
  ``python -m torch.distributed.run``/``torch.distributed.launch``/``deepspeed.launcher.runner``/
  ``accelerate.commands.launch`` forms. Their options (``--nproc_per_node 2``, ``--nproc_per_node=2``)
  are skipped. A launcher run as a console script also implies an *optional* module entry point for its own
  package (``torchrun`` → ``torch.distributed.run``), so the package is pinned when it is installed locally.
* ``./run.py`` (any relative path): an entry point when its first line is a Python shebang.
* ``bash -c '...'``/``sh -c '...'`` are looked into; other commands (``bash run.sh``, binaries) are not Python.

Tokens holding ``$`` (``${VAR}``, ``$HOME``) are never taken as scripts: their value is known only in the
container. Nothing here runs or imports user code.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

EntryKind = Literal["file", "module"]

_PYTHON_NAME = re.compile(r"python(\d+(\.\d+)?)?[dmu]?(\.exe)?", re.IGNORECASE)
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.DOTALL)
_SEPARATORS = frozenset({";", "&&", "||", "|", "&", "(", ")", "|&", ";;"})
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh"})
#: Commands that run the rest of their arguments as a command.
_WRAPPERS = frozenset({"exec", "nohup", "time", "command", "builtin"})

#: Interpreter options that take a value (``-W ignore``, ``-Wignore``, ``-X dev``).
_PY_VALUE_OPTIONS = frozenset("WX")
_PY_LONG_VALUE_OPTIONS = frozenset({"--check-hash-based-pycs"})


@dataclass(frozen=True)
class EntryPoint:
    """A program the job runs: a script (``kind="file"``, a path relative to the job directory, POSIX
    separators) or a module run with ``-m`` (``kind="module"``, a dotted name). ``optional`` entry points are
    implied by a launcher and are not an error when they cannot be found."""

    kind: EntryKind
    value: str
    optional: bool = False


@dataclass(frozen=True)
class CommandScan:
    """What :func:`scan_command` found: entry points in order, and whether Python ran inline code
    (``python -c``), for which there is no script to analyse."""

    entry_points: list[EntryPoint] = field(default_factory=list)
    inline_code: bool = False


@dataclass(frozen=True)
class _Launcher:
    flags: frozenset[str]  # options that take no value
    module_flags: frozenset[str]  # options that make the program a module name
    no_python_flags: frozenset[str]  # options that make the program a non-Python executable


_TORCHRUN = _Launcher(
    flags=frozenset(
        {"--standalone", "--no-python", "--no_python", "--run-path", "--run_path", "-m", "--module", "--use-env"}
        | {"--use_env", "--virtual-local-rank", "--virtual_local_rank"}
    ),
    module_flags=frozenset({"-m", "--module"}),
    no_python_flags=frozenset({"--no-python", "--no_python"}),
)
_DEEPSPEED = _Launcher(
    flags=frozenset(
        {"--no_ssh_check", "--force_multi", "--save_pid", "--no_python", "--module", "--no_local_rank"}
        | {"--bind_cores_to_rank", "--elastic_training", "--use_node_local_storage", "--no_ssh"}
    ),
    module_flags=frozenset({"--module"}),
    no_python_flags=frozenset({"--no_python"}),
)
_ACCELERATE = _Launcher(
    flags=frozenset(
        {"--cpu", "--multi_gpu", "--tpu", "--ipex", "--use_xpu", "-m", "--module", "--no_python", "--debug"}
        | {"--use_deepspeed", "--use_fsdp", "--use_megatron_lm", "-q", "--quiet", "--same_network"}
        | {"--dynamo_use_fullgraph", "--dynamo_use_dynamic", "--downcast_bf16", "--tpu_use_cluster"}
        | {"--tpu_use_sudo", "--enable_cpu_affinity"}
    ),
    module_flags=frozenset({"-m", "--module"}),
    no_python_flags=frozenset({"--no_python"}),
)

#: ``python -m <module>`` forms of the launchers.
_LAUNCHER_MODULES = {
    "torch.distributed.run": _TORCHRUN,
    "torch.distributed.launch": _TORCHRUN,
    "deepspeed.launcher.runner": _DEEPSPEED,
    "accelerate.commands.launch": _ACCELERATE,
}


def is_python_executable(token: str) -> bool:
    """``python``, ``python3``, ``python3.11``, ``/usr/bin/python3`` ...: an interpreter by name."""
    return bool(_PYTHON_NAME.fullmatch(posixpath.basename(token)))


def _tokenize(cmd: str) -> list[str]:
    text = re.sub(r"\\\r?\n", " ", cmd).replace("\n", " ; ")
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:  # unbalanced quotes: fall back to whitespace, good enough to find a script
        return text.split()


def _simple_commands(tokens: Sequence[str]) -> list[list[str]]:
    commands: list[list[str]] = [[]]
    skip_next = False
    for token in tokens:
        if skip_next:  # the target of a redirection
            skip_next = False
            continue
        if token in _SEPARATORS:
            commands.append([])
        elif token and set(token) <= set("<>&"):
            skip_next = True
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def _strip_prefixes(words: list[str]) -> list[str]:
    """Drop ``VAR=value`` assignments and wrappers such as ``exec``/``env``/``nohup`` before the command."""
    i = 0
    while i < len(words):
        word = words[i]
        if _ASSIGNMENT.fullmatch(word) or word in _WRAPPERS:
            i += 1
        elif posixpath.basename(word) == "env":
            i += 1
            while i < len(words) and (words[i].startswith("-") or _ASSIGNMENT.fullmatch(words[i])):
                i += 2 if words[i] in ("-u", "--unset", "-C", "--chdir", "-S") else 1
        else:
            break
    return words[i:]


def _is_placeholder(token: str) -> bool:
    return "$" in token


def _file_entry(token: str, optional: bool = False) -> EntryPoint | None:
    if _is_placeholder(token) or not token:
        return None
    return EntryPoint("file", posixpath.normpath(token.replace(os.sep, "/")), optional)


def _launcher_program(args: Sequence[str], launcher: _Launcher) -> list[EntryPoint]:
    """The program a launcher runs: the first argument that is not one of the launcher's options."""
    as_module = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        if arg in launcher.no_python_flags:
            return []
        if arg in launcher.module_flags:
            as_module = True
        if "=" in arg or arg in launcher.flags:
            i += 1
        elif i + 1 < len(args) and not args[i + 1].startswith("-") and not args[i + 1].endswith(".py"):
            i += 2  # an option with its value: --nproc_per_node 2
        else:
            i += 1
    if i >= len(args) or _is_placeholder(args[i]):
        return []
    if as_module:
        return [EntryPoint("module", args[i])]
    entry = _file_entry(args[i])
    return [entry] if entry else []


def _python_program(args: Sequence[str]) -> tuple[list[EntryPoint], bool]:
    """Entry points of ``python ARGS``; the flag is True when the program is inline code (``-c``)."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if arg == "-" or not arg.startswith("-"):
            break
        if arg.startswith("--"):
            name = arg.split("=", 1)[0]
            if name in _PY_LONG_VALUE_OPTIONS and "=" not in arg:
                i += 1
            if name in ("--help", "--version", "--help-env", "--help-xoptions", "--help-all"):
                return [], False
            i += 1
            continue
        # a cluster of short options: -uB, -Wignore, -X dev, -m module, -c code
        j = 1
        consumed_next = False
        while j < len(arg):
            letter = arg[j]
            if letter in "cm":
                value = arg[j + 1 :]
                if not value:
                    value = args[i + 1] if i + 1 < len(args) else ""
                if letter == "c":
                    return [], True
                if not value or _is_placeholder(value):
                    return [], False
                entries = [EntryPoint("module", value)]
                launcher = _LAUNCHER_MODULES.get(value)
                if launcher is not None:
                    rest = args[i + 1 :] if arg[j + 1 :] else args[i + 2 :]
                    entries += _launcher_program(rest, launcher)
                return entries, False
            if letter in _PY_VALUE_OPTIONS:
                consumed_next = not arg[j + 1 :]
                break
            if letter in "hV?":
                return [], False
            j += 1
        i += 2 if consumed_next else 1
    if i >= len(args) or args[i] == "-":
        return [], False
    entry = _file_entry(args[i])
    return ([entry] if entry else []), False


def _shebang_is_python(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            first = fh.readline(1024)
    except OSError:
        return False
    if not first.startswith(b"#!"):
        return False
    try:
        words = shlex.split(first[2:].decode("utf-8").strip())
    except (UnicodeDecodeError, ValueError):
        return False
    words = _strip_prefixes(words) if words and posixpath.basename(words[0]) == "env" else words
    while words and words[0].startswith("-"):
        words = words[1:]
    return bool(words) and is_python_executable(words[0])


def _scan_simple_command(words: list[str], base_dir: Path, depth: int) -> tuple[list[EntryPoint], bool]:
    words = _strip_prefixes(words)
    if not words:
        return [], False
    program, args = words[0], words[1:]
    name = posixpath.basename(program)
    if is_python_executable(program):
        return _python_program(args)
    if name == "torchrun":
        return [
            EntryPoint("module", "torch.distributed.run", optional=True),
            *_launcher_program(args, _TORCHRUN),
        ], False
    if name == "deepspeed":
        return [EntryPoint("module", "deepspeed", optional=True), *_launcher_program(args, _DEEPSPEED)], False
    if name == "accelerate":
        if args[:1] == ["launch"]:
            return [EntryPoint("module", "accelerate", optional=True), *_launcher_program(args[1:], _ACCELERATE)], False
        return [], False
    if name in _SHELLS and depth < 3:
        for k, arg in enumerate(args):
            if arg == "-c" and k + 1 < len(args):
                scan = _scan(args[k + 1], base_dir, depth + 1)
                return scan.entry_points, scan.inline_code
            if not arg.startswith("-"):
                break
        return [], False
    relative = "/" in program and not program.startswith("/") and not _is_placeholder(program)
    if relative and _shebang_is_python(base_dir / program):
        entry = _file_entry(program)
        return ([entry] if entry else []), False
    return [], False


def _scan(cmd: str, base_dir: Path, depth: int) -> CommandScan:
    entries: list[EntryPoint] = []
    inline = False
    cwd = ""  # a `cd DIR` earlier in cmd moves where relative scripts are
    for words in _simple_commands(_tokenize(cmd)):
        if words[0] == "cd" and len(words) == 2 and not _is_placeholder(words[1]) and not words[1].startswith("/"):
            cwd = posixpath.normpath(posixpath.join(cwd, words[1]))
            continue
        found, inline_here = _scan_simple_command(words, base_dir / cwd if cwd else base_dir, depth)
        for entry in found:
            if cwd and entry.kind == "file" and not entry.value.startswith("/"):
                entry = EntryPoint("file", posixpath.normpath(posixpath.join(cwd, entry.value)), entry.optional)
            entries.append(entry)
        inline = inline or inline_here
    return CommandScan(_dedupe(entries), inline)


def _dedupe(entries: Iterable[EntryPoint]) -> list[EntryPoint]:
    seen: dict[tuple[str, str], EntryPoint] = {}
    for e in entries:
        key = (e.kind, e.value)
        if key not in seen or (seen[key].optional and not e.optional):
            seen[key] = e
    return list(seen.values())


def scan_command(cmd: str, base_dir: Path) -> CommandScan:
    """Entry points of ``cmd`` (no ``root-paths``), plus whether it runs ``python -c``. ``base_dir`` is the
    job directory, used only to read the first line of ``./script`` candidates."""
    return _scan(cmd, base_dir, 0)


def find_entry_points(cmd: str, base_dir: Path, root_paths: Sequence[str] = ()) -> list[EntryPoint]:
    """Entry points of ``cmd`` followed by ``root_paths`` (files relative to the job directory), deduplicated."""
    entries = list(scan_command(cmd, base_dir).entry_points)
    for root in root_paths:
        entry = _file_entry(root)
        if entry is not None:
            entries.append(entry)
    return _dedupe(entries)
