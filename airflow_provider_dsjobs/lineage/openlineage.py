"""``JobFacts`` as the OpenLineage provider's ``OperatorLineage``, with the provider's own facets.

Imported only by the operators' and the sensor's ``get_openlineage_facets_on_*`` methods, which the OpenLineage
provider calls (it is installed then); nothing else in the package imports OpenLineage.

Facets (each a proper custom facet: ``_producer`` is this provider, ``_schemaURL`` its definition in
``facets.schema.json``, shipped beside this module):

* job ``dsjobsJob``: what the job is — ``kind`` (``config`` or ``lab``), ``image``, ``instanceType``,
  ``configHash`` (``sha256:`` of the stored config);
* run ``dsjobsRun``: this run of it — ``jobId``, ``project``, ``url`` (the task's "DataSphere Job" link),
  ``status``, ``statusDetails``, ``returnCode``; the standard ``externalQuery`` facet carries the job ID too;
* run ``errorMessage`` (standard) when the job ended ERROR or CANCELLED: its reason;
* dataset ``dsjobsData``: how the job used it (``role``) and what the config said (``path``, ``var`` ...);
  datasets also get the standard ``version`` facet (the dataset ID).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define
from openlineage.client.facet_v2 import DatasetFacet, JobFacet, RunFacet
from openlineage.client.generated.base import InputDataset, OutputDataset
from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet
from openlineage.client.generated.error_message_run import ErrorMessageRunFacet
from openlineage.client.generated.external_query_run import ExternalQueryRunFacet

from airflow_provider_dsjobs import __version__
from airflow_provider_dsjobs.lineage.facts import DatasetFact, JobFacts, project_namespace

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

#: Who made the facets (OpenLineage's ``_producer``).
PRODUCER = f"https://github.com/airflow-provider-dsjobs/airflow-provider-dsjobs/tree/{__version__}"
#: The ``$id`` of ``facets.schema.json``; each facet's ``_schemaURL`` is one of its ``$defs``.
SCHEMA_URL = "https://github.com/airflow-provider-dsjobs/airflow-provider-dsjobs/openlineage-facets.schema.json"


@define
class DsjobsJobFacet(JobFacet):
    """What the job is: its kind, image, instance type and the hash of its config."""

    kind: str
    configHash: str
    image: str | None = None
    instanceType: str | None = None

    @staticmethod
    def _get_schema() -> str:
        return f"{SCHEMA_URL}#/$defs/DsjobsJobFacet"


@define
class DsjobsRunFacet(RunFacet):
    """This run of the job: its ID, project, link and outcome."""

    jobId: str
    project: str
    status: str
    url: str | None = None
    statusDetails: str | None = None
    returnCode: int | None = None

    @staticmethod
    def _get_schema() -> str:
        return f"{SCHEMA_URL}#/$defs/DsjobsRunFacet"


@define
class DsjobsDataDatasetFacet(DatasetFacet):
    """How the job used a dataset (``role``) and what its config said about it."""

    role: str
    path: str | None = None
    var: str | None = None
    kind: str | None = None
    size: int | None = None
    datasetId: str | None = None
    declaredSize: int | None = None
    mountId: str | None = None
    readWrite: bool | None = None
    uploadedFiles: int | None = None
    error: str | None = None
    output: str | None = None
    uri: str | None = None

    @staticmethod
    def _get_schema() -> str:
        return f"{SCHEMA_URL}#/$defs/DsjobsDataDatasetFacet"


def _dataset_facets(fact: DatasetFact) -> dict[str, Any]:
    facets: dict[str, Any] = {"dsjobsData": DsjobsDataDatasetFacet(role=fact.role, **fact.details, producer=PRODUCER)}
    if fact.version:
        facets["version"] = DatasetVersionDatasetFacet(datasetVersion=fact.version, producer=PRODUCER)
    return facets


def operator_lineage(facts: JobFacts, *, failed: bool = False) -> OperatorLineage:
    """The lineage of one job's task: its datasets, job and run facets; the job's error too when it ended ERROR or
    CANCELLED, or when the task ``failed`` without the job succeeding."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    run_facets: dict[str, Any] = {
        "dsjobsRun": DsjobsRunFacet(
            jobId=facts.job_id,
            project=facts.project,
            status=facts.status,
            url=facts.url,
            statusDetails=facts.status_details,
            returnCode=facts.return_code,
            producer=PRODUCER,
        ),
        "externalQuery": ExternalQueryRunFacet(
            externalQueryId=facts.job_id, source=project_namespace(facts.project), producer=PRODUCER
        ),
    }
    if facts.failed or (failed and facts.status != "SUCCESS"):
        reason = facts.status_details or "no reason recorded"
        run_facets["errorMessage"] = ErrorMessageRunFacet(
            message=f"job {facts.job_id} is {facts.status}: {reason}", programmingLanguage="shell", producer=PRODUCER
        )
    job = DsjobsJobFacet(
        kind=facts.kind,
        configHash=facts.config_hash,
        image=facts.image,
        instanceType=facts.instance_type,
        producer=PRODUCER,
    )
    return OperatorLineage(
        inputs=[InputDataset(f.namespace, f.name, facets=_dataset_facets(f)) for f in facts.inputs],
        outputs=[OutputDataset(f.namespace, f.name, facets=_dataset_facets(f)) for f in facts.outputs],
        run_facets=run_facets,
        job_facets={"dsjobsJob": job},
    )
