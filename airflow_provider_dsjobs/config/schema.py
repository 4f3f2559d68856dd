"""The JSON schema of ``config.yaml`` (Draft 2020-12, shipped as ``schema.json``) and friendly messages for it.

The schema describes the shape of a config for editors (yaml-language-server reads the descriptions and
examples) and for the loader. What a schema cannot say (variables declared once, paths inside the job
directory, sizes in range...) lives in :mod:`.checks`.

jsonschema's own messages echo whole values and, for ``oneOf``, say only that nothing matched. Here each error
becomes a :class:`~.errors.Problem` at the node it is about, worded for a person: an unknown key suggests the
closest known key; for ``oneOf`` the branch whose type fits the value is the one explained.

Two annotation keywords of our own (ignored by validators and editors) shape the messages:
``x-allowed`` says in words what a ``pattern``/``enum`` allows, and ``x-message`` replaces the whole message
when a value has the wrong type or number of keys (e.g. a plain-text registry password).
``schema.json`` is edited by hand; every property needs a ``description`` (a test walks the schema).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .errors import PathPart, Problem, format_key_path
from .yaml_source import Document, Node

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true/false",
    "null": "nothing",
}


@lru_cache(maxsize=1)
def _schema_text() -> str:
    return resources.files(__package__).joinpath("schema.json").read_text(encoding="utf-8")


def load_schema() -> dict[str, Any]:
    """The config.yaml JSON schema as a fresh dict."""
    result: dict[str, Any] = json.loads(_schema_text())
    return result


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    """The schema, parsed once, for internal read-only use."""
    return load_schema()


def schema_text(catalog: Iterable[str] | None = None) -> str:
    """The schema as shipped (what ``dsjobs schema`` prints); with ``catalog``, its instance type names are the
    examples an editor offers (the built-in names plus a team's, see ``instance_types.py``)."""
    if catalog is None:
        return _schema_text()
    schema = load_schema()
    names = list(catalog)
    for key in ("cloud-instance-types", "cloud-instance-type"):
        for form in schema["properties"][key]["oneOf"]:
            target = form.get("items", form)
            if "examples" in target:
                target["examples"] = names
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    """A validator of the schema with every bare ``{"$ref": "#/$defs/x"}`` replaced by the definition itself: the
    same rules, but no reference lookup per list entry (40 % of validating a long list)."""
    schema = _schema()
    return Draft202012Validator(_inline_refs(schema, schema.get("$defs", {}), 0))


def _inline_refs(node: Any, defs: dict[str, Any], depth: int) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if set(node) == {"$ref"} and isinstance(ref, str) and ref.startswith("#/$defs/") and depth < 16:
            return _inline_refs(defs[ref.rsplit("/", 1)[1]], defs, depth + 1)
        return {k: v if k == "$defs" else _inline_refs(v, defs, depth) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_refs(item, defs, depth) for item in node]
    return node


@dataclass(frozen=True)
class SchemaProblem:
    """A translated schema error and the key path below which semantic checks should stay silent."""

    problem: Problem
    blocks: tuple[PathPart, ...]


def validate_document(doc: Document) -> list[SchemaProblem]:
    """Every schema error in ``doc``, translated."""
    instance = doc.root.to_json()
    out = _trim_long_lists(doc, instance)
    for error in _validator().iter_errors(instance):
        out.extend(_translate(error, doc))
    return out


def _trim_long_lists(doc: Document, instance: Any) -> list[SchemaProblem]:
    """A top-level list over its ``maxItems`` is reported here and cut to that length before the validator sees
    it: checking thousands of entries against their ``oneOf`` costs seconds and says nothing more."""
    out: list[SchemaProblem] = []
    if not isinstance(instance, dict):
        return out
    for key, prop in _schema().get("properties", {}).items():
        limit = prop.get("maxItems") if isinstance(prop, dict) else None
        value = instance.get(key)
        if isinstance(limit, int) and isinstance(value, list) and len(value) > limit:
            out.append(_too_many(doc, [key], len(value), limit))
            instance[key] = value[:limit]
    return out


def _too_many(doc: Document, path: list[PathPart], n: int, limit: int) -> SchemaProblem:
    message = f"has {n} entries; at most {limit} are allowed"
    return SchemaProblem(_problem(doc, path, message), tuple(path))


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _show(node: Node | None, path: Sequence[PathPart]) -> str:
    """The value as the user wrote it, short; never a password."""
    if any(isinstance(p, str) and "password" in p.lower() for p in path):
        return "the value"
    if node is None or node.kind != "scalar":
        return "the value"
    raw = node.raw if node.raw is not None else ""
    if len(raw) > 40:
        raw = raw[:37] + "..."
    return f"`{raw}`"


def _short_text(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _types_of(schema: Any) -> list[str]:
    if not isinstance(schema, dict):
        return []
    t = schema.get("type")
    if isinstance(t, str):
        return [t]
    if isinstance(t, list):
        return [x for x in t if isinstance(x, str)]
    if "enum" in schema:
        return ["string"]
    return []


def _allowed_types(schema: Any) -> str:
    names = []
    for t in _types_of(schema):
        name = _TYPE_NAMES.get(t, t)
        if name not in names and not (t == "integer" and "number" in _types_of(schema)):
            names.append(name)
    return _either(names)


def _either(names: list[str]) -> str:
    if not names:
        return "another form"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _problem(doc: Document, path: Sequence[PathPart], message: str, *, key: str | None = None) -> Problem:
    """A problem at ``path`` (or at the key ``key`` of the mapping at ``path``)."""
    node = doc.root.find(path)
    line = column = None
    if key is not None and node is not None:
        key_node = node.key_node(key)
        if key_node is not None:
            line, column = key_node.line, key_node.column
    elif node is not None:
        line, column = node.line, node.column
    else:  # the closest existing ancestor
        for i in range(len(path) - 1, -1, -1):
            parent = doc.root.find(path[:i])
            if parent is not None:
                line, column = parent.line, parent.column
                break
    full = [*path, key] if key is not None else list(path)
    return Problem(doc.source, line, column, format_key_path(full), message)


def _resolve(schema: Any) -> Any:
    """Follow a local ``$ref`` (``#/$defs/x``) so its keywords are visible."""
    if isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/$defs/"):
        target = _schema()["$defs"].get(schema["$ref"].split("/")[-1], {})
        return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _translate(error: ValidationError, doc: Document) -> list[SchemaProblem]:
    path = list(error.absolute_path)
    keyword = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if "propertyNames" in error.absolute_schema_path:
        # The instance is a key of the mapping at ``path``.
        key = str(error.instance)
        allowed = schema.get("x-allowed") or f"must match `{schema.get('pattern')}`"
        message = f"`{_short_text(key)}` is not a valid name ({allowed})"
        return [SchemaProblem(_problem(doc, path, message, key=key), tuple(path))]
    if keyword in ("oneOf", "anyOf"):
        return _translate_alternatives(error, doc)
    if keyword == "additionalProperties":
        return _unknown_keys(error, doc, path, schema)
    if keyword == "required":
        return _missing_keys(error, doc, path, schema)
    if keyword == "maxItems":
        n = len(error.instance) if isinstance(error.instance, list) else 0
        return [_too_many(doc, path, n, int(error.validator_value))]
    message = _message(error, schema, _show(doc.root.find(path), path))
    return [SchemaProblem(_problem(doc, path, message), tuple(path))]


def _unknown_keys(
    error: ValidationError, doc: Document, path: list[PathPart], schema: dict[str, Any]
) -> list[SchemaProblem]:
    """One problem per key the schema does not know, with the closest known key when there is one."""
    props = schema.get("properties", {})
    out = []
    for key in (k for k in (error.instance or {}) if k not in props):
        close = (
            difflib.get_close_matches(key, list(props), n=1, cutoff=0.6)
            or [k for k in props if key.startswith(k) or k.startswith(key)][:1]
        )
        if close:
            message = f"unknown key `{key}` (did you mean `{close[0]}`?)"
        else:
            message = f"unknown key `{key}` (allowed here: {', '.join(props)})"
        out.append(SchemaProblem(_problem(doc, path, message, key=key), (*path, key)))
    return out


def _missing_keys(
    error: ValidationError, doc: Document, path: list[PathPart], schema: dict[str, Any]
) -> list[SchemaProblem]:
    """One problem per required key that is missing, saying what the key is for."""
    present = error.instance if isinstance(error.instance, dict) else {}
    out = []
    for key in error.validator_value:
        if key not in present:
            desc = _resolve(schema.get("properties", {}).get(key, {})).get("description", "")
            message = f"`{key}` is required" + (f" ({_first_sentence(desc)})" if desc else "")
            out.append(SchemaProblem(_problem(doc, path, message), (*path, key)))
    return out


def _message(error: ValidationError, schema: dict[str, Any], shown: str) -> str:
    """The message of a problem with the value itself (``shown``: how messages quote it)."""
    keyword = error.validator
    if keyword == "type":
        return _type_message(error, schema)
    if keyword in ("minProperties", "maxProperties"):
        return str(schema.get("x-message") or "has the wrong number of keys")
    if keyword == "enum":
        allowed = schema.get("x-allowed") or ", ".join(str(v) for v in error.validator_value)
        return f"{shown} is not allowed (allowed: {allowed})"
    if keyword == "pattern":
        allowed = schema.get("x-allowed") or f"must match `{error.validator_value}`"
        return f"{shown} is not valid ({allowed})"
    if keyword == "minLength":
        return "is empty (write a value)"
    if keyword == "minItems":
        return f"needs at least {error.validator_value} entry (an empty list means nothing; remove the key instead)"
    # Anything else: jsonschema's own wording, without echoing the value.
    return f"is not valid ({keyword}: {error.validator_value})"


def _type_message(error: ValidationError, schema: dict[str, Any]) -> str:
    if "x-message" in schema:
        return f"is empty: {schema['x-message']}" if error.instance is None else f"{schema['x-message']}"
    if error.instance is None:
        return f"is empty (expected {_allowed_types(schema)})"
    message = f"expected {_allowed_types(schema)}, not {_kind(error.instance)}"
    return message + (f" ({schema['x-allowed']})" if "x-allowed" in schema else "")


def _first_sentence(text: str) -> str:
    head = re.split(r"(?<!e\.g)(?<!i\.e)\.\s", text)[0].rstrip(".")
    return head[0].lower() + head[1:] if head else head


def _branch_errors(error: ValidationError) -> dict[int, list[ValidationError]]:
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        index = sub.relative_schema_path[0] if sub.relative_schema_path else 0
        if isinstance(index, int):
            branches.setdefault(index, []).append(sub)
    return branches


def _rejects_type(errors: Iterable[ValidationError]) -> bool:
    """The branch failed because the value itself has the wrong type (not something inside it)."""
    return any(e.validator == "type" and len(e.relative_path) == 0 for e in errors)


def _translate_alternatives(error: ValidationError, doc: Document) -> list[SchemaProblem]:
    path = list(error.absolute_path)
    branches = _branch_errors(error)
    options = error.validator_value if isinstance(error.validator_value, list) else []
    fitting = {i: errs for i, errs in branches.items() if not _rejects_type(errs)}
    if not error.context:  # oneOf: more than one form matched
        message = "matches more than one form; write it unambiguously"
        return [SchemaProblem(_problem(doc, path, message), tuple(path))]
    if fitting:
        # The branch whose deepest error goes furthest into the value explains best.
        best = max(fitting.values(), key=lambda errs: max(len(e.absolute_path) for e in errs))
        out: list[SchemaProblem] = []
        for sub in best:
            out.extend(_translate(sub, doc))
        return out
    schema = error.schema if isinstance(error.schema, dict) else {}
    kinds: list[str] = []
    for option in options:
        for t in _types_of(_resolve(option)):
            name = _TYPE_NAMES.get(t, t)
            if name not in kinds:
                kinds.append(name)
    expected = _either(kinds)
    message = f"expected {expected}, not {_kind(error.instance)}"
    if schema.get("description"):
        message += f" ({_first_sentence(schema['description'])})"
    if error.instance is None:
        message = f"is empty (expected {expected})"
    return [SchemaProblem(_problem(doc, path, message), tuple(path))]
