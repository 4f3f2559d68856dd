"""Re-run a validated config with changes, the way ``datasphere project job fork`` does.

Only what a fork may change is accepted: argument values (the argument must exist in ``args``), the paths
behind existing input/output variables, environment variables (replaced or added by name), instance types, the
image, name and description. ``cmd`` and the Python environment stay as they are. The result goes through the same
schema and semantic checks as a freshly loaded config; problems with the overrides themselves have key paths
like ``overrides.args.FOO``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from .errors import ConfigError, Problem
from .loader import config_from_mapping
from .model import DockerImage, JobConfig, PathEntry, PythonEnv, ResourceEntry


def _entry(e: PathEntry | ResourceEntry) -> Any:
    target = e.path if isinstance(e, PathEntry) else e.id
    return {target: e.var} if e.var else target


def _docker_mapping(docker: DockerImage) -> Any:
    if docker.username is None and docker.password is None:
        return docker.image
    d: dict[str, Any] = {"image": docker.image}
    if docker.username is not None:
        d["username"] = docker.username
    if docker.password is not None:
        d["password"] = {"secret-id": docker.password.secret_id}
    return d


def _python_mapping(py: PythonEnv) -> dict[str, Any]:
    p: dict[str, Any] = {"type": py.type}
    if py.version_given:
        p["version"] = py.version
    if py.requirements_file is not None:
        p["requirements-file"] = py.requirements_file
    if py.local_paths is not None:
        p["local-paths"] = list(py.local_paths)
    if py.root_paths:
        p["root-paths"] = list(py.root_paths)
    pip: dict[str, Any] = {}
    if py.pip.index_url:
        pip["index-url"] = py.pip.index_url
    if py.pip.extra_index_urls:
        pip["extra-index-urls"] = list(py.pip.extra_index_urls)
    if py.pip.trusted_hosts:
        pip["trusted-hosts"] = list(py.pip.trusted_hosts)
    if py.pip.no_deps:
        pip["no-deps"] = True
    if pip:
        p["pip"] = pip
    return p


def _env_mapping(config: JobConfig) -> dict[str, Any]:
    env: dict[str, Any] = {}
    if config.env.vars:
        env["vars"] = [v.name if v.from_env else {v.name: v.value} for v in config.env.vars]
    if config.env.docker is not None:
        env["docker"] = _docker_mapping(config.env.docker)
    if config.env.python is not None:
        env["python"] = _python_mapping(config.env.python)
    return env


def _sections_mapping(config: JobConfig) -> dict[str, Any]:
    """The optional sections after ``flags``, in ``config.yaml`` form."""
    data: dict[str, Any] = {}
    if config.working_storage is not None:
        data["working-storage"] = {"type": config.working_storage.type, "size": config.working_storage.size_bytes}
    if config.graceful_shutdown is not None:
        g: dict[str, Any] = {"signal": config.graceful_shutdown.signal}
        if config.graceful_shutdown.timeout_seconds:
            g["timeout"] = f"{round(config.graceful_shutdown.timeout_seconds * 1000)}ms"
        data["graceful-shutdown"] = g
    if config.output_datasets:
        data["output-datasets"] = [
            {
                "name": ds.name,
                "var": ds.var,
                "size": ds.size_bytes,
                "description": ds.description,
                "labels": dict(ds.labels),
            }
            for ds in config.output_datasets
        ]
    if config.spark is not None:
        data["spark"] = {"connector": config.spark.connector}
    return data


def config_to_mapping(config: JobConfig) -> dict[str, Any]:
    """The config in ``config.yaml`` form (short forms, as a user would write it), for re-validation."""
    data: dict[str, Any] = {"cmd": config.cmd}
    if config.name is not None:
        data["name"] = config.name
    if config.desc is not None:
        data["desc"] = config.desc
    if config.args:
        data["args"] = dict(config.args)
    for key, entries in (
        ("inputs", config.inputs),
        ("outputs", config.outputs),
        ("s3-mounts", config.s3_mounts),
        ("datasets", config.datasets),
    ):
        if entries:
            data[key] = [_entry(e) for e in entries]
    env = _env_mapping(config)
    if env:
        data["env"] = env
    if config.flags:
        data["flags"] = list(config.flags)
    data["cloud-instance-types"] = list(config.cloud_instance_types)
    data.update(_sections_mapping(config))
    return data


def env_from_environ(config: JobConfig, names: Collection[str], *, check_files: bool = True) -> JobConfig:
    """The same config with the literal env vars ``names`` turned into ``- NAME`` entries, whose values are
    copied from the submitter's environment at submit (so they never reach a job record)."""
    data = config_to_mapping(config)
    env_vars = data.get("env", {}).get("vars", [])
    if not env_vars:
        return config
    data["env"]["vars"] = [
        name if isinstance(var, Mapping) and (name := next(iter(var))) in names else var for var in env_vars
    ]
    return config_from_mapping(data, base_dir=config.base_dir, source=config.source, check_files=check_files)


@dataclass(frozen=True)
class Overrides:
    """Fork-style changes to a config, as one value: the operator's parameters, ``dsjobs fork``'s options and
    ``JobService.fork`` all build one and hand it on.

    ``vars`` is ``dsjobs fork --var``: the path of an input variable when the config declares one by that
    name, else of an output variable (``resolve_vars`` sorts them into ``input_vars``/``output_vars``).

    Env-var secrecy is decided here, once: a value given in ``env_vars`` reaches the job through the
    submitter's environment (``environ``) and the config keeps a ``- NAME`` entry (``submitted_config``), so no
    job record, stored config or plan ever holds it."""

    args: Mapping[str, Any] | None = None
    input_vars: Mapping[str, str] | None = None
    output_vars: Mapping[str, str] | None = None
    vars: Mapping[str, str] | None = None
    env_vars: Mapping[str, Any] | None = None
    cloud_instance_types: str | Sequence[str] | None = None
    name: str | None = None
    desc: str | None = None
    #: Replaces ``env.docker``'s image (its registry credentials, if any, stay).
    image: str | None = None

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))

    @property
    def environ(self) -> dict[str, str]:
        """The env-var overrides as the submitter's environment passes them to the job."""
        return {name: "" if value is None else str(value) for name, value in (self.env_vars or {}).items()}

    def resolve_vars(self, config: JobConfig) -> Overrides:
        """The same overrides with ``vars`` sorted into input and output variables of ``config``."""
        if not self.vars:
            return self
        inputs = {e.var for e in config.inputs if e.var}
        input_vars = {**(self.input_vars or {}), **{k: v for k, v in self.vars.items() if k in inputs}}
        output_vars = {**(self.output_vars or {}), **{k: v for k, v in self.vars.items() if k not in inputs}}
        return replace(self, vars=None, input_vars=input_vars or None, output_vars=output_vars or None)

    def submitted_config(self, config: JobConfig, *, check_files: bool = True) -> JobConfig:
        """``config`` with these overrides, as it is submitted: env-var overrides become ``- NAME`` entries
        (their values travel in ``environ``). ``check_files=False`` does not look for local files (a fork: its
        unchanged inputs are in the store). Raises :class:`ConfigError`."""
        applied = apply_overrides(config, self, check_files=check_files) if self else config
        if not self.env_vars:
            return applied
        return env_from_environ(applied, set(self.env_vars), check_files=check_files)


def apply_overrides(config: JobConfig, overrides: Overrides | None = None, *, check_files: bool = True) -> JobConfig:
    """A copy of ``config`` with the overrides applied and re-validated. Raises :class:`ConfigError`.
    ``check_files=False`` does not look for local files (see ``Overrides.submitted_config``)."""
    over = (overrides or Overrides()).resolve_vars(config)
    args, input_vars, output_vars, env_vars = over.args, over.input_vars, over.output_vars, over.env_vars
    cloud_instance_types, name, desc, image = over.cloud_instance_types, over.name, over.desc, over.image
    source = config.source
    problems: list[Problem] = []
    data = config_to_mapping(config)
    renamed: dict[str, str] = {}  # key path in the re-validated config -> the override that set it

    def bad(path: str, message: str) -> None:
        problems.append(Problem(source, None, None, path, message))

    if args:
        declared = data.get("args", {})
        for key, value in args.items():
            if key not in declared:
                known = ", ".join(declared) or "none"
                bad(f"overrides.args.{key}", f"no argument `{key}` in the config's `args` (declared: {known})")
            elif value is None or isinstance(value, (dict, list, tuple)):
                bad(f"overrides.args.{key}", "the value must be a text or a number")
            else:
                declared[key] = value
                renamed[f"args.{key}"] = f"overrides.args.{key}"
    for section, param, paths in (("inputs", "input_vars", input_vars), ("outputs", "output_vars", output_vars)):
        if not paths:
            continue
        entries: list[Any] = data.get(section, [])
        by_var = {next(iter(e.values())): i for i, e in enumerate(entries) if isinstance(e, dict)}
        for var, path in paths.items():
            kind = section[:-1]
            if var not in by_var:
                known = ", ".join(by_var) or "none"
                bad(f"overrides.{param}.{var}", f"no {kind} variable `{var}` in the config (declared: {known})")
            elif not isinstance(path, str) or not path:
                bad(f"overrides.{param}.{var}", "the value must be a non-empty path")
            else:
                entries[by_var[var]] = {path: var}
                renamed[f"{section}[{by_var[var]}]"] = f"overrides.{param}.{var}"
    if env_vars:
        env = data.setdefault("env", {})
        current: list[Any] = env.get("vars", [])
        index = {(e if isinstance(e, str) else next(iter(e))): i for i, e in enumerate(current)}
        for key, value in env_vars.items():
            item: Any = {key: value if value is not None else ""}
            if isinstance(value, (dict, list, tuple)):
                bad(f"overrides.env_vars.{key}", "the value must be a text or a number")
                continue
            if key in index:
                current[index[key]] = item
                renamed[f"env.vars[{index[key]}]"] = f"overrides.env_vars.{key}"
            else:
                index[key] = len(current)
                renamed[f"env.vars[{len(current)}]"] = f"overrides.env_vars.{key}"
                current.append(item)
        env["vars"] = current
    if cloud_instance_types is not None:
        types = [cloud_instance_types] if isinstance(cloud_instance_types, str) else list(cloud_instance_types)
        if not types:
            bad("overrides.cloud_instance_types", "give at least one instance type")
        data["cloud-instance-types"] = types
        renamed["cloud-instance-types"] = "overrides.cloud_instance_types"
    if image is not None:
        env = data.setdefault("env", {})
        docker = env.get("docker")
        if isinstance(docker, dict):
            docker["image"] = image
            renamed["env.docker.image"] = "overrides.image"
        else:
            env["docker"] = image
            renamed["env.docker"] = "overrides.image"
    if name is not None:
        data["name"] = name
        renamed["name"] = "overrides.name"
    if desc is not None:
        data["desc"] = desc
        renamed["desc"] = "overrides.desc"
    if problems:
        raise ConfigError(problems)
    try:
        return config_from_mapping(data, base_dir=config.base_dir, source=source, check_files=check_files)
    except ConfigError as exc:
        raise ConfigError([_blame_override(p, renamed) for p in exc.problems]) from None


def _blame_override(problem: Problem, renamed: dict[str, str]) -> Problem:
    """A re-validation problem reported at the override that caused it, when there is one."""
    for prefix, override_path in renamed.items():
        if problem.key_path == prefix or problem.key_path.startswith((prefix + ".", prefix + "[")):
            return Problem(problem.source, None, None, override_path, problem.message)
    return problem
