"""Semantic checks and the build of :class:`~..model.JobConfig` from a located YAML tree.

The JSON schema has already judged the shape; these checks read values *as written* (``Node.raw``) and
check what a schema cannot: one namespace for variables and resource IDs, ``${VAR}`` references in ``cmd``,
paths inside the job directory, files that must exist, sizes and durations, exclusive options. Each config
section has its own module; they are defensive: a node of the wrong type (already reported by the schema) is
skipped, never trusted.
"""

from __future__ import annotations

from pathlib import Path

from ..instance_types import InstanceCatalog, default_catalog
from ..model import Env, JobConfig
from ..yaml_source import Document
from .checker import Checker, Path_
from .command import read_args, read_cmd
from .env import read_docker, read_env_vars
from .output_datasets import read_output_datasets
from .paths import read_path_entries, read_resource_entries
from .python_env import read_python
from .resources import read_flags, read_graceful_shutdown, read_instance_types, read_working_storage
from .spark import read_spark

__all__ = ["Checker", "build_config"]


def build_config(
    doc: Document,
    base_dir: Path,
    blocked: tuple[Path_, ...] = (),
    *,
    check_files: bool = True,
    catalog: InstanceCatalog | None = None,
) -> tuple[JobConfig | None, Checker]:
    """Check ``doc`` and build the model; the checker holds problems (the model is None when there are any).
    Costly checks below a key path in ``blocked`` (already rejected by the schema) are skipped;
    ``check_files=False`` skips looking for local files (a fork, whose unchanged files are in the store)."""
    c = Checker(doc, base_dir, blocked=blocked, check_files=check_files, catalog=catalog or default_catalog())
    root = doc.root
    if root.kind != "map":
        return None, c
    name_node, desc_node = root.child("name"), root.child("desc")
    inputs = read_path_entries(c, "inputs")
    outputs = read_path_entries(c, "outputs")
    s3_mounts = read_resource_entries(c, "s3-mounts")
    datasets = read_resource_entries(c, "datasets")
    args = read_args(c)
    output_datasets = read_output_datasets(c)
    flags = read_flags(c)
    cmd = read_cmd(c, flags)
    env_node = root.child("env")
    env = Env()
    if env_node is not None and env_node.kind == "map":
        env = Env(vars=read_env_vars(c), docker=read_docker(c), python=read_python(c))
    instance_types = read_instance_types(c)
    working_storage = read_working_storage(c)
    graceful = read_graceful_shutdown(c)
    spark = read_spark(c)
    if cmd is None or c.problems:
        return None, c
    config = JobConfig(
        cmd=cmd,
        name=c.text(name_node),
        desc=c.text(desc_node),
        args=args,
        inputs=inputs,
        outputs=outputs,
        s3_mounts=s3_mounts,
        datasets=datasets,
        env=env,
        flags=flags,
        cloud_instance_types=instance_types,
        working_storage=working_storage,
        graceful_shutdown=graceful,
        output_datasets=output_datasets,
        spark=spark,
        base_dir=base_dir,
        source=doc.source,
        raw_text=doc.text,
    )
    return config, c
