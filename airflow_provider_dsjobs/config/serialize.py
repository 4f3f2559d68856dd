"""How a :class:`~.model.JobConfig` becomes a mapping: the one place that decides it, section by section.

One walk, two renderings, side by side so a new field gets both:

- :func:`config_json` is the long form: ``config.yaml``'s key names, every key present (``None``/``[]`` when
  absent), every value canonical (sizes in bytes, durations in seconds, entries as ``{"path", "var"}``, env vars as
  ``{"name", "value"}``). ``dsjobs validate --format json`` prints it and a job record's ``config`` keeps it (read by
  ``dsjobs get``, the dataset catalog and the asset events).
- :func:`config_document` is the ``config.yaml`` form, short forms as a user would write them and absent keys left
  out: it loads back to an equal config (``version`` only when the user wrote it), so overrides and forks edit it
  and re-validate, and redaction rebuilds a config's text from it.

Readers of a stored long form get typed values from :func:`datasets_of` and :func:`output_datasets_of` rather than
reading its keys themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import DockerImage, EnvVar, JobConfig, OutputDataset, PathEntry, PipOptions, PythonEnv, ResourceEntry


def config_json(config: JobConfig) -> dict[str, Any]:
    """The long form (see the module docstring)."""
    return _config(config, long=True)


def config_document(config: JobConfig) -> dict[str, Any]:
    """The ``config.yaml`` form (see the module docstring)."""
    return _config(config, long=False)


def _config(config: JobConfig, *, long: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": config.name,
        "desc": config.desc,
        "cmd": config.cmd,
        "args": dict(config.args),
        "inputs": [_entry(e, long) for e in config.inputs],
        "outputs": [_entry(e, long) for e in config.outputs],
        "s3-mounts": [_entry(e, long) for e in config.s3_mounts],
        "datasets": [_entry(e, long) for e in config.datasets],
        "env": _env(config, long),
        "flags": list(config.flags),
        "cloud-instance-types": list(config.cloud_instance_types),
        "working-storage": None,
        "graceful-shutdown": None,
        "output-datasets": [
            {"name": d.name, "var": d.var, "size": d.size_bytes, "description": d.description, "labels": dict(d.labels)}
            for d in config.output_datasets
        ],
        "spark": {"connector": config.spark.connector} if config.spark else None,
    }
    if config.working_storage is not None:
        data["working-storage"] = {"type": config.working_storage.type, "size": config.working_storage.size_bytes}
    if (shutdown := config.graceful_shutdown) is not None:
        timeout: Any = shutdown.timeout_seconds
        if not long:
            timeout = f"{round(timeout * 1000)}ms" if timeout else None
        data["graceful-shutdown"] = _keep({"signal": shutdown.signal, "timeout": timeout}, long)
    return data if long else {"cmd": config.cmd, **_present(data)}  # ``cmd`` first, as users write it


def _present(data: dict[str, Any], keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """The keys of ``data`` with a value: not ``None``, not an empty list or mapping (unless in ``keep``)."""
    return {k: v for k, v in data.items() if v is not None and (k in keep or v not in ([], {}))}


def _keep(data: dict[str, Any], long: bool) -> dict[str, Any]:
    """``data`` in the long form, its present keys in the ``config.yaml`` form."""
    return data if long else _present(data)


def _entry(e: PathEntry | ResourceEntry, long: bool) -> Any:
    key, target = ("path", e.path) if isinstance(e, PathEntry) else ("id", e.id)
    if long:
        return {key: target, "var": e.var}
    return {target: e.var} if e.var else target


def _env(config: JobConfig, long: bool) -> dict[str, Any] | None:
    env = {
        "vars": [_env_var(v, long) for v in config.env.vars],
        "docker": _docker(config.env.docker, long) if config.env.docker else None,
        "python": _python(config.env.python, long) if config.env.python else None,
    }
    return _keep(env, long) or None


def _env_var(var: EnvVar, long: bool) -> Any:
    if long:
        return {"name": var.name, "from-env": True} if var.from_env else {"name": var.name, "value": var.value}
    return var.name if var.from_env else {var.name: var.value}


def _docker(docker: DockerImage, long: bool) -> Any:
    password = {"secret-id": docker.password.secret_id} if docker.password else None
    if not long and docker.username is None and password is None:
        return docker.image
    return _keep({"image": docker.image, "username": docker.username, "password": password}, long)


def pip_options_json(pip: PipOptions) -> dict[str, Any]:
    """``env.python.pip`` in the long form (also what names a built Python environment, ``pyenv.plan``)."""
    return {
        "index-url": pip.index_url,
        "extra-index-urls": list(pip.extra_index_urls),
        "trusted-hosts": list(pip.trusted_hosts),
        "no-deps": pip.no_deps,
    }


def _python(py: PythonEnv, long: bool) -> dict[str, Any]:
    pip = pip_options_json(py.pip)
    local_paths = None if py.local_paths is None else list(py.local_paths)
    if long:
        return {
            "type": py.type,
            "version": py.version,
            "requirements-file": py.requirements_file,
            "local-paths": local_paths,
            "root-paths": list(py.root_paths),
            "pip": pip,
        }
    document = {
        "type": py.type,
        "version": py.version if py.version_given else None,
        "requirements-file": py.requirements_file,
        "local-paths": local_paths,
        "root-paths": list(py.root_paths),
        "pip": {k: v for k, v in pip.items() if v},
    }
    # ``local-paths: []`` is meaningful (ship no local modules): kept when given
    return _present(document, keep=("local-paths",))  # ``local-paths: []`` means: ship no local modules


def datasets_of(data: Mapping[str, Any]) -> tuple[ResourceEntry, ...]:
    """The ``datasets`` a config's long form names (a job record's ``config``; none in a lab job's)."""
    return tuple(
        ResourceEntry(str(e["id"]), e.get("var"))
        for e in _listed(data, "datasets")
        if isinstance(e, Mapping) and "id" in e
    )


def output_datasets_of(data: Mapping[str, Any]) -> tuple[OutputDataset, ...]:
    """The ``output-datasets`` a config's long form declares (entries not in that form are left out)."""
    return tuple(
        OutputDataset(str(e["name"]), str(e["var"]), e["size"], str(e.get("description") or ""), _labels(e))
        for e in _listed(data, "output-datasets")
        if isinstance(e, Mapping) and isinstance(e.get("size"), int) and "name" in e and "var" in e
    )


def _labels(entry: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    labels = entry.get("labels")
    return tuple((str(k), str(v)) for k, v in labels.items()) if isinstance(labels, Mapping) else ()


def _listed(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return value if isinstance(value, list) else []
