"""The shipped JSON schema: valid Draft 2020-12, documented everywhere, and accepting what editors type."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from airflow_provider_dsjobs.config.instance_types import KNOWN_INSTANCE_TYPES
from airflow_provider_dsjobs.config.model import GRACEFUL_SIGNALS
from airflow_provider_dsjobs.config.schema import load_schema

from .conftest import FIXTURES


def test_schema_is_valid_draft_2020_12() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def _walk_properties(node: Any, path: str = "#") -> list[str]:
    """Paths of properties that lack a description."""
    missing: list[str] = []
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            if not (isinstance(sub, dict) and sub.get("description")):
                missing.append(f"{path}/properties/{name}")
        for key, value in node.items():
            missing += _walk_properties(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            missing += _walk_properties(value, f"{path}/{i}")
    return missing


def test_every_property_has_a_description() -> None:
    schema = load_schema()
    assert _walk_properties(schema) == []
    # and the walk does look at nested sections
    assert (
        "description"
        in schema["properties"]["env"]["properties"]["python"]["oneOf"][1]["properties"]["pip"]["properties"]["no-deps"]
    )


def test_every_section_is_covered() -> None:
    assert set(load_schema()["properties"]) == {
        "name",
        "desc",
        "cmd",
        "args",
        "inputs",
        "outputs",
        "s3-mounts",
        "datasets",
        "env",
        "flags",
        "cloud-instance-types",
        "cloud-instance-type",
        "working-storage",
        "graceful-shutdown",
        "output-datasets",
        "spark",
    }


def test_graceful_signals_match_the_table() -> None:
    prop = load_schema()["properties"]["graceful-shutdown"]["properties"]["signal"]
    assert tuple(prop["enum"]) == GRACEFUL_SIGNALS


def test_instance_type_examples_match_the_table() -> None:
    prop = load_schema()["properties"]["cloud-instance-types"]
    assert set(prop["oneOf"][1]["examples"]) == set(KNOWN_INSTANCE_TYPES)


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("seed*.yaml")))
def test_editor_view_of_seed_examples_is_valid(fixture: str) -> None:
    """An editor parses YAML 1.2-ish (`version: 3.10` a number, `no-deps: true` a boolean): still valid."""
    data = yaml.safe_load((FIXTURES / fixture).read_text(encoding="utf-8").replace("@DIR@", "/tmp/x"))
    errors = list(Draft202012Validator(load_schema()).iter_errors(data))
    assert errors == []


@pytest.mark.parametrize(
    "snippet",
    [
        {"env": {"python": {"type": "manual", "version": 3.1}}},
        {"env": {"python": {"type": "auto", "pip": {"no-deps": True}}}},
        {"env": {"vars": {"N": 8, "B": True, "E": None}}},
        {"args": {"EPOCHS": 5, "LR": 0.1}},
        {"name": 2024},
        {"working-storage": {"size": 1099511627776}},
        {"outputs": [{"out.bin": None}]},
        {"output-datasets": [{"name": "d", "var": "D", "size": "1GB", "labels": {"v": 2}}]},
        {"spark": {"connector": {"id": "abc"}}},
    ],
)
def test_editor_types_accepted(snippet: dict[str, Any]) -> None:
    assert list(Draft202012Validator(load_schema()).iter_errors({"cmd": "x", **snippet})) == []


@pytest.mark.parametrize(
    "snippet",
    [
        {"ouputs": []},
        {"env": {"docker": {"image": "x", "password": "plain"}}},
        {"graceful-shutdown": {"signal": "SIGKILL"}},
        {"working-storage": {"type": "HDD", "size": "200GB"}},
        {"inputs": [{"a": "A", "b": "B"}]},
        {"env": {"python": "manual"}},
    ],
)
def test_editor_flags_mistakes(snippet: dict[str, Any]) -> None:
    assert list(Draft202012Validator(load_schema()).iter_errors({"cmd": "x", **snippet})) != []
