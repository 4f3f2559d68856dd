"""Keep secret-looking env values written literally in config.yaml out of job records.

A config may say ``env: {vars: [{HF_TOKEN: hf_abc...}]}``. The container needs the value, but the job record
(``config`` and ``raw_config``, kept for ``get`` and ``fork`` and readable by anyone with access to the store)
must not hold it. An env var counts as secret when its name contains one of Airflow's sensitive field names
(``token``, ``password``, ``secret``, ``api_key``, ...; the same rule Airflow's secret masker uses for
connection extras and variables), compared without case.

The record keeps :data:`REDACTED` in its place. ``fork`` then takes the value from the environment of whoever
forks, or from an explicit override, and says so when neither has it.

The raw text is redacted in place (comments and layout kept): each secret value's span, found with PyYAML's
node marks, is replaced by a quoted :data:`REDACTED`. If the result does not parse back to the redacted values
(an alias shared with another key, say), the text is rebuilt from the config instead; a secret never stays.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import yaml

from .model import JobConfig
from .serialize import config_document, config_json
from .yaml_source import LOADER

REDACTED = "***"

#: Lower-case parts of names whose values are secret (Airflow's ``DEFAULT_SENSITIVE_FIELDS``).
SENSITIVE_NAME_PARTS = frozenset(
    {
        "access_key",
        "access_token",
        "api_key",
        "apikey",
        "auth_header",
        "authorization",
        "bearer",
        "connection_string",
        "dsn",
        "passphrase",
        "passwd",
        "password",
        "private_key",
        "proxy",
        "secret",
        "service_account",
        "service_key",
        "token",
        "keyfile_dict",
        "webhook_url",
    }
)


#: Names that contain a sensitive part without being secret (``TOKENIZERS_PARALLELISM`` is set by most
#: Hugging Face jobs and would otherwise count as a token).
NOT_SENSITIVE_PARTS = ("tokenizer",)


def is_sensitive_name(name: str) -> bool:
    """Whether an env var called ``name`` holds a secret, by its name alone."""
    lowered = name.lower()
    for part in NOT_SENSITIVE_PARTS:
        lowered = lowered.replace(part, "")
    return any(part in lowered for part in SENSITIVE_NAME_PARTS)


def redacted_config_json(config: JobConfig) -> dict[str, Any]:
    """The config's long form (``serialize.config_json``, as job records keep it) with every secret literal env
    value replaced by :data:`REDACTED`."""
    data = config_json(config)
    data["env"]["vars"] = [
        {**var, "value": REDACTED} if _secret_pair(var["name"], var.get("value")) else var
        for var in data["env"]["vars"]
    ]
    return data


def redacted_env_names(config: JobConfig) -> list[str]:
    """Env vars of a config re-loaded from a job record whose values the record does not hold."""
    return [var.name for var in config.env.vars if var.value == REDACTED and is_sensitive_name(var.name)]


def redacted_raw_config(config: JobConfig) -> str | None:
    """The config's text as written (``config.raw_text``) with every secret literal env value replaced by
    ``'***'``; the text rebuilt from the config when it cannot be redacted in place. ``None`` without text."""
    text = config.raw_text
    if text is None:
        return None
    if not any(_secret_pair(var.name, var.value) for var in config.env.vars):
        return text
    redacted = _redact_in_place(text)
    if redacted is not None:
        return redacted
    data = config_document(config)
    data["env"]["vars"] = [
        {name: REDACTED} if isinstance(var, Mapping) and _secret_pair(name := next(iter(var)), var[name]) else var
        for var in data["env"]["vars"]
    ]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _redact_in_place(text: str) -> str | None:
    """``text`` with the secret value spans replaced (comments and layout kept), or ``None`` if that fails."""
    try:
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=LOADER)):
            return None  # a value span may be shared with other keys: replacing it would change them too
        root = yaml.compose(text, Loader=LOADER)
    except yaml.YAMLError:
        return None
    spans = sorted(
        {(node.start_mark.index, node.end_mark.index, node.style) for node in _secret_value_nodes(root)},
        reverse=True,
    )
    out = text
    for start, end, style in spans:
        replacement = f"'{REDACTED}'"
        if style in ("|", ">") and out[start:end].endswith("\n"):
            replacement += "\n"  # a block scalar's span runs to the start of the next line
        out = out[:start] + replacement + out[end:]
    try:
        check = yaml.compose(out, Loader=LOADER)
    except yaml.YAMLError:
        return None
    if any(node.value != REDACTED for node in _secret_value_nodes(check)):
        return None
    return out


def _secret_value_nodes(root: yaml.Node | None) -> Iterator[yaml.ScalarNode]:
    """Scalar value nodes of env vars whose names are sensitive (every form ``env.vars`` allows)."""
    env = _mapping_value(root, "env")
    entries = _mapping_value(env, "vars")
    pairs: list[tuple[yaml.Node, yaml.Node]] = []
    if isinstance(entries, yaml.MappingNode):
        pairs.extend(entries.value)
    elif isinstance(entries, yaml.SequenceNode):
        for item in entries.value:
            if isinstance(item, yaml.MappingNode):
                pairs.extend(item.value)
    for key, value in pairs:
        if (
            isinstance(key, yaml.ScalarNode)
            and isinstance(value, yaml.ScalarNode)
            and value.tag != "tag:yaml.org,2002:null"
            and _secret_pair(key.value, value.value)
        ):
            yield value


def _secret_pair(name: object, value: object) -> bool:
    """An env var with a literal, non-empty value under a sensitive name."""
    return isinstance(name, str) and value not in (None, "") and is_sensitive_name(name)


def _mapping_value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v if isinstance(v, yaml.Node) else None
    return None


def value_masker(values: Iterable[str]) -> Callable[[str], str] | None:
    """A function replacing each of ``values`` in a text by :data:`REDACTED` (the longest first, so a value that
    contains another goes whole); ``None`` when there is nothing to mask."""
    ordered = sorted({v for v in values if v}, key=len, reverse=True)
    if not ordered:
        return None
    pattern = re.compile("|".join(re.escape(v) for v in ordered))
    return lambda text: pattern.sub(REDACTED, text)
