"""Output datasets as Airflow assets.

URI scheme: ``dsjobs://<project>/datasets/<dataset name>``. The project is the store namespace from the
connection (``project`` extra, ``DSJOBS_PROJECT``, default ``default``); the name is the ``output-datasets[].name``
from the config. A name is stable across runs, so downstream DAGs can schedule on the asset; each run's dataset
ID travels in the asset event's ``extra`` (``dataset_id``, ``job_id``, ``size``).

The operator and the sensor declare an ``AssetAlias`` (default name ``dsjobs-output-datasets``) as an outlet
and add one event per published dataset to it when a job they finish succeeds. The default alias is shared by
every task that keeps it, so a downstream DAG should schedule on the concrete asset
(``schedule=[create_asset(project=..., name=...)]``, i.e. ``Asset("dsjobs://<project>/datasets/<name>")``),
which only the job publishing that dataset updates; scheduling on the alias fires on any task's datasets. A task
that wants its own alias passes ``dataset_alias="..."``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, MutableMapping
from typing import Any

from airflow.sdk import Asset, AssetAlias

from airflow_provider_dsjobs.config.serialize import output_datasets_of
from airflow_provider_dsjobs.documents.record import JobRecord

SCHEME = "dsjobs"
#: The alias operators add output dataset events to, unless given another name.
DEFAULT_ALIAS = "dsjobs-output-datasets"


def dataset_uri(project: str, name: str) -> str:
    return f"{SCHEME}://{urllib.parse.quote(project, safe='')}/datasets/{urllib.parse.quote(name, safe='')}"


def create_asset(*, project: str, name: str, extra: dict[str, Any] | None = None) -> Asset:
    """The asset for output dataset ``name`` of ``project`` (also the provider's ``asset-uris`` factory)."""
    return Asset(uri=dataset_uri(project, name), extra=extra or {})


def sanitize_uri(uri: urllib.parse.SplitResult) -> urllib.parse.SplitResult:
    """Validate a ``dsjobs://`` asset URI (registered in provider info): ``dsjobs://<project>/datasets/<name>``."""
    parts = [p for p in uri.path.split("/") if p]
    if not uri.netloc:
        raise ValueError(f"{SCHEME} asset URI must name a project: {SCHEME}://<project>/datasets/<name>")
    if len(parts) != 2 or parts[0] != "datasets":
        raise ValueError(f"{SCHEME} asset URI path must be /datasets/<name>, got {uri.path!r}")
    return uri


def convert_asset_to_openlineage(asset: Asset, lineage_context: Any) -> Any:
    """The OpenLineage dataset of a ``dsjobs://`` asset (registered in provider info as ``to_openlineage_converter``):
    namespace ``dsjobs://<project>``, name ``datasets/<name>`` — the dataset the operators report as the job's
    input or output (``lineage/facts.py``), so an asset and a job's data are one node of the lineage graph."""
    from openlineage.client.generated.base import Dataset

    uri = sanitize_uri(urllib.parse.urlsplit(asset.uri))
    return Dataset(namespace=f"{SCHEME}://{uri.netloc}", name=uri.path.lstrip("/"))


def _declared_sizes(record: JobRecord) -> dict[str, int]:
    """Each output dataset's declared ``size`` (bytes) from the config stored with the record."""
    return {d.name: d.size_bytes for d in output_datasets_of(record.config)}


def emit_output_datasets(context: Mapping[str, Any], alias_name: str, record: JobRecord) -> list[Asset]:
    """Add one asset event per output dataset of ``record`` to the alias ``alias_name``; returns the assets."""
    events = context.get("outlet_events")
    if events is None or not record.output_datasets:
        return []
    sizes = _declared_sizes(record)
    emitted = []
    for name, dataset_id in sorted(record.output_datasets.items()):
        asset = create_asset(project=record.project, name=name)
        extra: dict[str, Any] = {"dataset_id": dataset_id, "job_id": record.id, "size": sizes.get(name)}
        events[AssetAlias(alias_name)].add(asset, extra=extra)
        emitted.append(asset)
    return emitted


def add_alias_outlet(kwargs: MutableMapping[str, Any], alias_name: str | None) -> None:
    """Add ``AssetAlias(alias_name)`` to the ``outlets`` in an operator's ``kwargs`` (once; nothing if None)."""
    if not alias_name:
        return
    outlets = list(kwargs.pop("outlets", None) or [])
    if not any(isinstance(o, AssetAlias) and o.name == alias_name for o in outlets):
        outlets.append(AssetAlias(alias_name))
    kwargs["outlets"] = outlets
