"""Validate OpenLineage events with jsonschema, against the schema files the installed packages ship.

openlineage-python (1.54) ships no ``OpenLineage.json``, the core spec the events' ``schemaURL`` names (only its
generated classes); the installed packages ship facet schemas that build on it: the OpenLineage provider's
``facets/Airflow*.json`` and this provider's ``lineage/facets.schema.json``. So each event is validated

* against ``CORE``, the rules of the core spec's 2-0-2 ``RunEvent`` an event must keep (required keys, formats,
  the ``_producer``/``_schemaURL`` of every facet), under the spec's own ``$id`` so the installed facet schemas'
  ``$ref`` to ``OpenLineage.json#/$defs/RunFacet`` (etc.) resolve to it;
* and its facets against the facet schemas this provider ships (``{"properties": {<facet key>: ...}}``).

The OpenLineage provider's own schema files are not applied: its ``airflow`` run facet, as the provider 2.20.3 emits
it from the Airflow 3 task runner, lacks ``taskInstance.pool``, which its ``AirflowRunFacet.json`` requires (an
upstream mismatch, not ours).
"""

from __future__ import annotations

import json
import urllib.parse
from importlib.resources import files
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

CORE_ID = "https://openlineage.io/spec/2-0-2/OpenLineage.json"


def _facet(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "_producer": {"type": "string", "format": "uri"},
            "_schemaURL": {"type": "string", "format": "uri"},
            **(extra or {}),
        },
        "required": ["_producer", "_schemaURL"],
        "additionalProperties": True,
    }


def _facets(kind: str) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": {"$ref": f"#/$defs/{kind}"}}


CORE: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": CORE_ID,
    "$defs": {
        "BaseFacet": _facet(),
        "RunFacet": _facet(),
        "JobFacet": _facet({"_deleted": {"type": "boolean"}}),
        "DatasetFacet": _facet({"_deleted": {"type": "boolean"}}),
        "InputDatasetFacet": _facet(),
        "OutputDatasetFacet": _facet(),
        "Run": {
            "type": "object",
            "properties": {"runId": {"type": "string", "format": "uuid"}, "facets": _facets("RunFacet")},
            "required": ["runId"],
        },
        "Job": {
            "type": "object",
            "properties": {"namespace": {"type": "string"}, "name": {"type": "string"}, "facets": _facets("JobFacet")},
            "required": ["namespace", "name"],
        },
        "Dataset": {
            "type": "object",
            "properties": {
                "namespace": {"type": "string"},
                "name": {"type": "string"},
                "facets": _facets("DatasetFacet"),
            },
            "required": ["namespace", "name"],
        },
        "InputDataset": {
            "allOf": [
                {"$ref": "#/$defs/Dataset"},
                {"type": "object", "properties": {"inputFacets": _facets("InputDatasetFacet")}},
            ]
        },
        "OutputDataset": {
            "allOf": [
                {"$ref": "#/$defs/Dataset"},
                {"type": "object", "properties": {"outputFacets": _facets("OutputDatasetFacet")}},
            ]
        },
        "RunEvent": {
            "type": "object",
            "properties": {
                "eventTime": {"type": "string", "format": "date-time"},
                "producer": {"type": "string", "format": "uri"},
                "schemaURL": {"type": "string", "format": "uri"},
                "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
                "run": {"$ref": "#/$defs/Run"},
                "job": {"$ref": "#/$defs/Job"},
                "inputs": {"type": "array", "items": {"$ref": "#/$defs/InputDataset"}},
                "outputs": {"type": "array", "items": {"$ref": "#/$defs/OutputDataset"}},
            },
            "required": ["eventTime", "producer", "schemaURL", "run", "job"],
        },
    },
    "$ref": "#/$defs/RunEvent",
}


def installed_facet_schemas(package: str, folder: str) -> dict[str, dict[str, Any]]:
    """The facet schema files an installed package ships in ``folder``, by file name."""
    found: dict[str, dict[str, Any]] = {}
    for entry in files(package).joinpath(folder).iterdir():
        if entry.name.endswith(".json"):
            found[entry.name] = json.loads(entry.read_text())
    return found


def _format_checker() -> jsonschema.FormatChecker:
    """jsonschema's checker (date-time, uuid) plus ``uri`` (its own needs a package not installed here)."""
    checker = jsonschema.FormatChecker()

    @checker.checks("uri")
    def is_uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urllib.parse.urlsplit(value)
        return bool(parts.scheme) and bool(parts.netloc or parts.path) and " " not in value

    return checker


def _registry() -> Registry:
    return Registry().with_resource(CORE_ID, Resource.from_contents(CORE, default_specification=DRAFT202012))


def validate_event(event: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``event`` keeps the core rules and every installed facet
    schema that defines one of its facets."""
    registry = _registry()
    checker = _format_checker()
    jsonschema.Draft202012Validator(CORE, registry=registry, format_checker=checker).validate(event)
    facet_sets = {
        "Run": [event["run"].get("facets", {})],
        "Job": [event["job"].get("facets", {})],
        "Dataset": [d.get("facets", {}) for d in event.get("inputs", []) + event.get("outputs", [])],
    }
    for name, schema in installed_facet_schemas("airflow_provider_dsjobs", "lineage").items():
        validator = jsonschema.Draft202012Validator(schema, registry=registry, format_checker=checker)
        # A file of one kind of facet (AirflowRunFacet.json) is for that kind: the provider's run and job facets
        # share the key "airflow". Ours (facets.schema.json) names each of its facets apart.
        kinds = [kind for kind in facet_sets if name.endswith(f"{kind}Facet.json")] or list(facet_sets)
        for kind in kinds:
            for facets in facet_sets[kind]:
                validator.validate(facets)
