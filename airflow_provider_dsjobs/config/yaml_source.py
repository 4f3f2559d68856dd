"""YAML text -> a tree of located nodes that keeps every value as the user wrote it.

PyYAML's composer gives nodes with positions; this module turns them into :class:`Node` objects that keep

* ``raw``: the scalar text exactly as written (``3.10`` stays ``"3.10"``, ``Yes`` stays ``"Yes"``), which
  the semantic checks read;
* ``typed``: the value under the YAML 1.2 core schema (what an editor sees: ``3.10`` is a number,
  ``true`` a boolean, ``Yes`` a string), which the JSON schema validates;
* line and column (1-based) of the node and of each mapping key.

It refuses what would be dangerous or silently wrong: non-UTF-8 or binary text, more than one document,
duplicate keys (YAML keeps the last one silently), keys that are not scalars, nesting deeper than
:data:`MAX_DEPTH` and alias expansion beyond :data:`MAX_NODES` nodes (a "billion laughs" bomb).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import ConfigError, PathPart, Problem

MAX_DEPTH = 64
MAX_NODES = 2_000  # values, aliases expanded: the seed examples have 6 to 40; checking one costs ~0.1 ms
MAX_TEXT_CHARS = 1 << 20  # a config.yaml is small; 1 MiB of text is already absurd

_MERGE_TAG = "tag:yaml.org,2002:merge"
#: LibYAML's parser when PyYAML was built with it (the wheels are): 30 times faster than the pure-Python one,
#: so a file at the size cap is parsed in well under a second. Same nodes, marks and errors (worded by LibYAML).
LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# YAML 1.2 core schema, plain scalars only.
_NULL_RE = re.compile(r"~|null|Null|NULL|")
_TRUE_RE = re.compile(r"true|True|TRUE")
_FALSE_RE = re.compile(r"false|False|FALSE")
_INT10_RE = re.compile(r"[-+]?[0-9]+")
_INT8_RE = re.compile(r"0o[0-7]+")
_INT16_RE = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT_RE = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF_RE = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NAN_RE = re.compile(r"\.(nan|NaN|NAN)")


def core_schema_value(text: str) -> Any:
    """The YAML 1.2 core-schema value of a plain scalar."""
    if _NULL_RE.fullmatch(text):
        return None
    if _TRUE_RE.fullmatch(text):
        return True
    if _FALSE_RE.fullmatch(text):
        return False
    if _INT10_RE.fullmatch(text):
        return int(text)
    if _INT8_RE.fullmatch(text):
        return int(text[2:], 8)
    if _INT16_RE.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT_RE.fullmatch(text):
        value = float(text)
        return value if math.isfinite(value) else text
    if _INF_RE.fullmatch(text) or _NAN_RE.fullmatch(text):
        # JSON has no infinities; validate them as the text they are.
        return text
    return text


@dataclass
class Node:
    """One YAML node with its position; ``kind`` is ``"map"``, ``"seq"`` or ``"scalar"``."""

    kind: str
    line: int | None = None
    column: int | None = None
    start: int | None = None  # character offsets into the source text
    end: int | None = None
    raw: str | None = None  # scalars: text as written; None for a null (empty, ``~``, ``null``)
    typed: Any = None  # scalars: YAML 1.2 core value
    items: list[Node] = field(default_factory=list)  # seq
    entries: dict[str, Node] = field(default_factory=dict)  # map: key text -> value
    keys: dict[str, Node] = field(default_factory=dict)  # map: key text -> the key's own node

    @property
    def is_null(self) -> bool:
        return self.kind == "scalar" and self.typed is None

    def to_json(self) -> Any:
        """The typed (JSON-like) value, for schema validation."""
        if self.kind == "map":
            return {k: v.to_json() for k, v in self.entries.items()}
        if self.kind == "seq":
            return [i.to_json() for i in self.items]
        return self.typed

    def child(self, part: PathPart) -> Node | None:
        if isinstance(part, int):
            if self.kind == "seq" and 0 <= part < len(self.items):
                return self.items[part]
            return None
        if self.kind == "map":
            return self.entries.get(part)
        return None

    def find(self, path: Sequence[PathPart]) -> Node | None:
        node: Node | None = self
        for part in path:
            if node is None:
                return None
            node = node.child(part)
        return node

    def key_node(self, key: str) -> Node | None:
        return self.keys.get(key) if self.kind == "map" else None


@dataclass
class Document:
    """A parsed config: the root node, the source name and text."""

    root: Node
    source: str
    text: str | None

    def position_of_text(self, node: Node, needle: str) -> tuple[int | None, int | None]:
        """Line/column of ``needle`` inside ``node``'s source span (falls back to the node's own position)."""
        if self.text is not None and node.start is not None and node.end is not None:
            index = self.text.find(needle, node.start, max(node.end, node.start + len(needle)))
            if index >= 0:
                line = self.text.count("\n", 0, index) + 1
                column = index - (self.text.rfind("\n", 0, index) + 1) + 1
                return line, column
        return node.line, node.column


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.count = 0
        self.problems: list[Problem] = []

    def problem(self, node: yaml.Node, message: str, key_path: str = "") -> None:
        mark = node.start_mark
        self.problems.append(Problem(self.source, mark.line + 1, mark.column + 1, key_path, message))

    def build(self, node: yaml.Node, depth: int, path: list[PathPart]) -> Node:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig(node)
        if depth > MAX_DEPTH:
            raise _TooDeep(node)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if isinstance(node, yaml.SequenceNode):
            seq = _located(node, "seq")
            for i, item in enumerate(node.value):
                seq.items.append(self.build(item, depth + 1, [*path, i]))
            return seq
        assert isinstance(node, yaml.MappingNode)
        return self._mapping(node, depth, path)

    def _scalar(self, node: yaml.ScalarNode) -> Node:
        text = str(node.value)
        plain = not node.style  # None from PyYAML's parser, "" from LibYAML's
        if plain and text == "" and node.tag != "tag:yaml.org,2002:str":
            return _located(node, "scalar")
        if plain and not _explicit_str(node):
            typed = core_schema_value(text)
            return _located(node, "scalar", None if typed is None else text, typed)
        return _located(node, "scalar", text, text)

    def _mapping(self, node: yaml.MappingNode, depth: int, path: list[PathPart]) -> Node:
        result = _located(node, "map")
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG and isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<":
                merges.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, "a key must be a plain text, not a list or mapping", _fmt(path))
                continue
            key = str(key_node.value)
            if key == "" and not key_node.style:
                self.problem(key_node, "a key is empty (write `name: value`)", _fmt(path))
                continue
            if key in result.entries:
                first = result.keys[key]
                self.problem(
                    key_node,
                    f"duplicate key `{key}` (first at line {first.line}); YAML would silently keep only the last one",
                    _fmt([*path, key]),
                )
                continue
            result.keys[key] = _located(key_node, "scalar", key, key)
            result.entries[key] = self.build(value_node, depth + 1, [*path, key])
        for merge in merges:
            self._merge(merge, result, depth, path)
        return result

    def _merge(self, merge: yaml.Node, result: Node, depth: int, path: list[PathPart]) -> None:
        """YAML 1.1 merge keys: explicit keys win, earlier merges win over later ones."""
        sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
        for src in sources:
            if not isinstance(src, yaml.MappingNode):
                self.problem(merge, "`<<` merges only mappings", _fmt(path))
                continue
            merged = self.build(src, depth + 1, path)
            for key, value in merged.entries.items():
                if key not in result.entries:
                    result.entries[key] = value
                    result.keys[key] = merged.keys[key]


def _located(node: yaml.Node, kind: str, raw: str | None = None, typed: Any = None) -> Node:
    """A ``Node`` of ``kind`` at ``node``'s place in the text (1-based line and column, character offsets)."""
    mark, end = node.start_mark, node.end_mark
    return Node(kind, mark.line + 1, mark.column + 1, mark.index, end.index, raw=raw, typed=typed)


_RESOLVER = yaml.resolver.Resolver()


def _explicit_str(node: yaml.ScalarNode) -> bool:
    """A plain scalar tagged ``!!str`` by the user (PyYAML would not resolve it to str by itself)."""
    if node.tag != "tag:yaml.org,2002:str":
        return False
    resolved: str = _RESOLVER.resolve(yaml.ScalarNode, node.value, (True, False))  # type: ignore[no-untyped-call]
    return resolved != node.tag


def _expanded_size(node: yaml.Node, memo: dict[int, int], active: set[int]) -> int:
    """Nodes after alias expansion, computed once per distinct node: refuses bombs before building anything."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise _Recursive(node)
    if len(active) > MAX_DEPTH:
        raise _TooDeep(node)
    active.add(key)
    size = 1
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            size += _expanded_size(item, memo, active)
            if size > MAX_NODES:
                raise _TooBig(node)
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            size += _expanded_size(k, memo, active) + _expanded_size(v, memo, active)
            if size > MAX_NODES:
                raise _TooBig(node)
    active.discard(key)
    memo[key] = size
    return size


class _Recursive(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


class _TooBig(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


class _TooDeep(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


def _fmt(path: Sequence[PathPart]) -> str:
    from .errors import format_key_path

    return format_key_path(path)


def decode_text(data: bytes, source: str) -> str:
    """Bytes of a config file -> text; refuses non-UTF-8 and binary data with a clear problem."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        head = data[: exc.start]
        line = head.count(b"\n") + 1
        column = exc.start - (head.rfind(b"\n") + 1) + 1
        raise ConfigError(
            [Problem(source, line, column, "", "the file is not UTF-8 text (save config.yaml as UTF-8)")]
        ) from None
    return text


def _check_text(text: str, source: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise ConfigError(
            [Problem(source, None, None, "", f"the config is too large (over {MAX_TEXT_CHARS} characters)")]
        )
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        column = nul - (text.rfind("\n", 0, nul) + 1) + 1
        raise ConfigError(
            [Problem(source, line, column, "", "the file contains binary data (a NUL byte), not YAML text")]
        )


def _mark_position(mark: Any) -> tuple[int | None, int | None]:
    if mark is None:
        return None, None
    return mark.line + 1, mark.column + 1


def _document_error(source: str, mark: Any, message: str) -> ConfigError:
    """An error about the whole document, placed at a parser mark."""
    line, column = _mark_position(mark)
    return ConfigError([Problem(source, line, column, "", message)])


def _check_events(text: str, source: str) -> None:
    """Walk the event stream (the parser is not recursive) to refuse, before composing anything, deep nesting,
    more than one document, and more than :data:`MAX_NODES` values (aliases are counted once expanded, later)."""
    depth = 0
    documents = 0
    nodes = 0
    for event in yaml.parse(text, Loader=LOADER):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent, yaml.ScalarEvent)):
            nodes += 1
            if nodes > MAX_NODES:
                raise _document_error(
                    source,
                    event.start_mark,
                    f"the YAML has more than {MAX_NODES} values (keys, items and scalars); a config is far smaller",
                )
            if isinstance(event, yaml.ScalarEvent):
                continue
            depth += 1
            if depth > MAX_DEPTH:
                raise _document_error(
                    source, event.start_mark, f"the YAML is nested too deeply (more than {MAX_DEPTH} levels)"
                )
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _document_error(
                    source,
                    event.start_mark,
                    "the file holds more than one YAML document (`---`); a config is one document",
                )


def parse_document(text: str, source: str = "<string>") -> Document:
    """Parse YAML text into a located tree. Raises :class:`ConfigError` for anything that is not one sane document."""
    _check_text(text, source)
    composed = _compose(text, source)
    if composed is None:
        raise ConfigError([Problem(source, None, None, "", "the config is empty (it needs at least `cmd`)")])
    builder = _Builder(source)
    root = _build(builder, composed, source)
    if builder.problems:
        raise ConfigError(builder.problems)
    return Document(root=root, source=source, text=text)


def _compose(text: str, source: str) -> yaml.Node | None:
    """PyYAML's node graph of one document (None when empty); every YAML error as a one-line problem."""
    try:
        _check_events(text, source)
        return yaml.compose(text, Loader=LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if "maximum nesting depth" in (exc.problem or ""):  # LibYAML's own limit, met while scanning ahead
            too_deep = f"the YAML is nested too deeply (more than {MAX_DEPTH} levels)"
            raise _document_error(source, mark, too_deep) from None
        raise _unclosed_error(text, source, exc) or _syntax_error(source, exc) from None
    except UnicodeEncodeError as exc:  # a lone surrogate, from text that did not come from a file
        line, column = _offset_position(text, exc.start)
        raise ConfigError([Problem(source, line, column, "", "invalid YAML: a lone surrogate character")]) from None
    except yaml.reader.ReaderError as exc:  # LibYAML reports a bad character by its offset in the text
        line, column = _offset_position(text, exc.position)
        what = f"character #x{exc.character:04x} is not allowed" if isinstance(exc.character, int) else exc.reason
        raise ConfigError([Problem(source, line, column, "", f"invalid YAML: {what}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(source, None, None, "", f"invalid YAML: {' '.join(str(exc).split())}")]) from None
    except RecursionError:
        raise ConfigError([Problem(source, None, None, "", "the YAML is nested too deeply")]) from None


def _syntax_error(source: str, exc: yaml.MarkedYAMLError) -> ConfigError:
    """A YAML syntax error at the parser's mark, with what it was parsing."""
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem:
        what = f"{exc.problem} ({exc.context})"
    line, column = _mark_position(mark)
    return ConfigError([Problem(source, line, column, "", f"invalid YAML: {what}")])


#: Openers whose missing close the parser only notices where the text ends or the next key starts.
_OPENERS = {yaml.FlowSequenceStartToken: "[", yaml.FlowMappingStartToken: "{"}
_CLOSERS = (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken)


def _unclosed_error(text: str, source: str, exc: yaml.MarkedYAMLError) -> ConfigError | None:
    """An error placed where an unclosed ``[``, ``{`` or quote opens, not where the parser gave up (often the
    end of the file); None when the error is not about one. The opener is found by scanning the tokens again up
    to the error: the scanner keeps no state beyond the open brackets, so this is linear and bounded."""
    context = exc.context or ""
    opener = None
    if context.startswith("while parsing a flow"):
        opener = _open_bracket(text)
    elif context.startswith("while scanning a quoted scalar") and exc.context_mark:
        opener = ('"' if text[exc.context_mark.index : exc.context_mark.index + 1] == '"' else "'", exc.context_mark)
    if opener is None:
        return None
    char, mark = opener
    line, column = _mark_position(mark)
    found_line, found_column = _mark_position(exc.problem_mark)
    why = exc.problem or "invalid YAML"
    where = f" at line {found_line}, column {found_column}" if found_line is not None else ""
    message = f"invalid YAML: the `{char}` opened here is never closed ({why}{where})"
    return ConfigError([Problem(source, line, column, "", message)])


def _open_bracket(text: str) -> tuple[str, Any] | None:
    """The innermost flow bracket still open where scanning ``text`` fails or ends, with its mark."""
    stack: list[tuple[str, Any]] = []
    try:
        for token in yaml.scan(text, Loader=LOADER):
            if isinstance(token, _CLOSERS) and stack:
                stack.pop()
            elif type(token) in _OPENERS:
                stack.append((_OPENERS[type(token)], token.start_mark))
    except yaml.YAMLError:
        pass
    return stack[-1] if stack else None


def _offset_position(text: str, offset: int) -> tuple[int, int]:
    """``(line, column)``, both from 1, of a character offset in ``text``."""
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _build(builder: _Builder, composed: yaml.Node, source: str) -> Node:
    """The located tree of ``composed``, refusing alias bombs, alias loops and too deep nesting."""
    try:
        _expanded_size(composed, {}, set())
        return builder.build(composed, 0, [])
    except _TooBig as exc:
        line, column = _mark_position(exc.node.start_mark)
        message = f"the YAML expands to more than {MAX_NODES} nodes (aliases `*name` repeated too often)"
        raise ConfigError([Problem(source, line, column, "", message)]) from None
    except _Recursive as exc:
        line, column = _mark_position(exc.node.start_mark)
        raise ConfigError(
            [Problem(source, line, column, "", "an alias (`*name`) refers to a node that contains it (a loop)")]
        ) from None
    except (_TooDeep, RecursionError) as exc:
        line = column = None
        if isinstance(exc, _TooDeep):
            line, column = _mark_position(exc.node.start_mark)
        raise ConfigError(
            [Problem(source, line, column, "", f"the YAML is nested too deeply (more than {MAX_DEPTH} levels)")]
        ) from None


def node_from_value(value: Any, path: Sequence[PathPart] = (), _depth: int = 0, *, source: str = "<dict>") -> Node:
    """A located-less tree from a Python value (a config passed as a mapping), typed as given."""
    if _depth > MAX_DEPTH:
        raise ConfigError(
            [Problem(source, None, None, _fmt(path), f"nested too deeply (more than {MAX_DEPTH} levels)")]
        )
    if isinstance(value, Mapping):
        node = Node("map")
        for k, v in value.items():
            if not isinstance(k, (str, int, float)) or isinstance(k, bool):
                raise _BadKey(list(path), k)
            key = str(k)
            node.keys[key] = Node("scalar", raw=key, typed=key)
            node.entries[key] = node_from_value(v, [*path, key], _depth + 1, source=source)
        return node
    if isinstance(value, (list, tuple)):
        return Node(
            "seq", items=[node_from_value(v, [*path, i], _depth + 1, source=source) for i, v in enumerate(value)]
        )
    if value is None:
        return Node("scalar", raw=None, typed=None)
    if isinstance(value, bool):
        return Node("scalar", raw="true" if value else "false", typed=value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return Node("scalar", raw=str(value), typed=str(value))
        return Node("scalar", raw=str(value), typed=value)
    if isinstance(value, str):
        return Node("scalar", raw=value, typed=value)
    # Anything else (a Path, a date...) is taken by its text.
    return Node("scalar", raw=str(value), typed=str(value))


class _BadKey(Exception):
    def __init__(self, path: list[PathPart], key: object) -> None:
        self.path = path
        self.key = key
