"""OpenLineage for the operators and the sensor: what a job read and wrote, told as OpenLineage datasets and facets.

``facts`` reads a job's documents (record, plan, dataset manifests) into plain values and is the one module of the
Airflow layer that knows those documents for lineage; ``openlineage`` turns the values into the OpenLineage
provider's ``OperatorLineage`` and is imported only when that provider asks (it is an optional dependency, the
``openlineage`` extra). ``facets.schema.json`` is the JSON Schema of the provider's own facets, the document their
``_schemaURL`` names.
"""
