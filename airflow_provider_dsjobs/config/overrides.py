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
from .instance_types import InstanceCatalog
from .loader import config_from_mapping
from .model import JobConfig
from .serialize import config_document


def env_from_environ(
    config: JobConfig, names: Collection[str], *, check_files: bool = True, catalog: InstanceCatalog | None = None
) -> JobConfig:
    """The same config with the literal env vars ``names`` turned into ``- NAME`` entries, whose values are
    copied from the submitter's environment at submit (so they never reach a job record)."""
    data = config_document(config)
    env_vars = data.get("env", {}).get("vars", [])
    if not env_vars:
        return config
    data["env"]["vars"] = [
        name if isinstance(var, Mapping) and (name := next(iter(var))) in names else var for var in env_vars
    ]
    source, base = config.source, config.base_dir
    return config_from_mapping(data, base_dir=base, source=source, check_files=check_files, catalog=catalog)


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
    #: Replaces ``env.docker``'s image (its registry credentials, if any, stay, unless given below).
    image: str | None = None
    #: Registry credentials for ``image`` (the password only as a secret's ID), replacing the config's.
    registry_username: str | None = None
    registry_password_secret_id: str | None = None
    #: ``working-storage`` as the config writes it: ``{"size": "150Gb", "type": "SSD"}``.
    working_storage: Mapping[str, str] | None = None

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

    def submitted_config(
        self, config: JobConfig, *, check_files: bool = True, catalog: InstanceCatalog | None = None
    ) -> JobConfig:
        """``config`` with these overrides, as it is submitted: env-var overrides become ``- NAME`` entries
        (their values travel in ``environ``). ``check_files=False`` does not look for local files (a fork: its
        unchanged inputs are in the store). Raises :class:`ConfigError`."""
        applied = apply_overrides(config, self, check_files=check_files, catalog=catalog) if self else config
        if not self.env_vars:
            return applied
        return env_from_environ(applied, set(self.env_vars), check_files=check_files, catalog=catalog)


def apply_overrides(
    config: JobConfig,
    overrides: Overrides | None = None,
    *,
    check_files: bool = True,
    catalog: InstanceCatalog | None = None,
) -> JobConfig:
    """A copy of ``config`` with the overrides applied and re-validated. Raises :class:`ConfigError`.
    ``check_files=False`` does not look for local files (see ``Overrides.submitted_config``)."""
    over = (overrides or Overrides()).resolve_vars(config)
    edit = _Edit(config.source, config_document(config))
    if over.args:
        edit.args(over.args)
    edit.paths("inputs", "input_vars", over.input_vars)
    edit.paths("outputs", "output_vars", over.output_vars)
    if over.env_vars:
        edit.env_vars(over.env_vars)
    if over.cloud_instance_types is not None:
        edit.instance_types(over.cloud_instance_types)
    if over.image is not None or over.registry_username is not None or over.registry_password_secret_id is not None:
        edit.docker(over.image, over.registry_username, over.registry_password_secret_id)
    if over.working_storage is not None:
        edit.set("working-storage", dict(over.working_storage), "overrides.working_storage")
    for key, value in (("name", over.name), ("desc", over.desc)):
        if value is not None:
            edit.set(key, value, f"overrides.{key}")
    if edit.problems:
        raise ConfigError(edit.problems)
    try:
        source, base = config.source, config.base_dir
        return config_from_mapping(edit.data, base_dir=base, source=source, check_files=check_files, catalog=catalog)
    except ConfigError as exc:
        raise ConfigError([_blame_override(p, edit.renamed) for p in exc.problems]) from None


class _Edit:
    """A config's ``config.yaml`` form being changed by overrides: the problems with the overrides themselves, and
    which override set each changed key path (a re-validation problem there is reported at the override)."""

    def __init__(self, source: str, data: dict[str, Any]) -> None:
        self.source = source
        self.data = data
        self.problems: list[Problem] = []
        self.renamed: dict[str, str] = {}  # key path in the re-validated config -> the override that set it

    def bad(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.source, None, None, path, message))

    def set(self, key: str, value: Any, override_path: str) -> None:
        self.data[key] = value
        self.renamed[key] = override_path

    def args(self, args: Mapping[str, Any]) -> None:
        declared = self.data.get("args", {})
        for key, value in args.items():
            if key not in declared:
                known = ", ".join(declared) or "none"
                self.bad(f"overrides.args.{key}", f"no argument `{key}` in the config's `args` (declared: {known})")
            elif value is None or isinstance(value, (dict, list, tuple)):
                self.bad(f"overrides.args.{key}", "the value must be a text or a number")
            else:
                declared[key] = value
                self.renamed[f"args.{key}"] = f"overrides.args.{key}"

    def paths(self, section: str, param: str, paths: Mapping[str, str] | None) -> None:
        """The paths behind the variables of ``inputs`` or ``outputs`` (``param`` names the override)."""
        entries: list[Any] = self.data.get(section, [])
        by_var = {next(iter(e.values())): i for i, e in enumerate(entries) if isinstance(e, dict)}
        for var, path in (paths or {}).items():
            if var not in by_var:
                known = ", ".join(by_var) or "none"
                self.bad(
                    f"overrides.{param}.{var}", f"no {section[:-1]} variable `{var}` in the config (declared: {known})"
                )
            elif not isinstance(path, str) or not path:
                self.bad(f"overrides.{param}.{var}", "the value must be a non-empty path")
            else:
                entries[by_var[var]] = {path: var}
                self.renamed[f"{section}[{by_var[var]}]"] = f"overrides.{param}.{var}"

    def env_vars(self, env_vars: Mapping[str, Any]) -> None:
        """Replaced by name, or added after the config's own."""
        env = self.data.setdefault("env", {})
        current: list[Any] = env.get("vars", [])
        index = {(e if isinstance(e, str) else next(iter(e))): i for i, e in enumerate(current)}
        for key, value in env_vars.items():
            if isinstance(value, (dict, list, tuple)):
                self.bad(f"overrides.env_vars.{key}", "the value must be a text or a number")
                continue
            at = index.setdefault(key, len(current))
            item = {key: value if value is not None else ""}
            if at == len(current):
                current.append(item)
            else:
                current[at] = item
            self.renamed[f"env.vars[{at}]"] = f"overrides.env_vars.{key}"
        env["vars"] = current

    def instance_types(self, types: str | Sequence[str]) -> None:
        listed = [types] if isinstance(types, str) else list(types)
        if not listed:
            self.bad("overrides.cloud_instance_types", "give at least one instance type")
        self.set("cloud-instance-types", listed, "overrides.cloud_instance_types")

    def docker(self, image: str | None, username: str | None, password_secret_id: str | None) -> None:
        """``env.docker``: the image alone keeps the config's credentials; credentials replace them (and need it)."""
        if image is None:
            self.bad("overrides.image", "registry credentials need the image they are for")
            return
        if username is None and password_secret_id is None:
            self.image(image)
            return
        docker: dict[str, Any] = {"image": image}
        if username is not None:
            docker["username"] = username
        if password_secret_id is not None:
            docker["password"] = {"secret-id": password_secret_id}
        self.data.setdefault("env", {})["docker"] = docker
        self.renamed["env.docker"] = "overrides.image"

    def image(self, image: str) -> None:
        """``env.docker``'s image; its registry credentials, if any, stay."""
        env = self.data.setdefault("env", {})
        docker = env.get("docker")
        if isinstance(docker, dict):
            docker["image"] = image
            self.renamed["env.docker.image"] = "overrides.image"
        else:
            env["docker"] = image
            self.renamed["env.docker"] = "overrides.image"


def _blame_override(problem: Problem, renamed: dict[str, str]) -> Problem:
    """A re-validation problem reported at the override that caused it, when there is one."""
    for prefix, override_path in renamed.items():
        if problem.key_path == prefix or problem.key_path.startswith((prefix + ".", prefix + "[")):
            return Problem(problem.source, None, None, override_path, problem.message)
    return problem
