"""``LabJobConfig``: an ML Lab job as the seed's Python client describes it (seed 004).

``LabJobConfig(image=..., name=..., params={...})``: the image is the job (its own ENTRYPOINT/CMD run), ``params``
become environment variables over the image's ``ENV`` defaults, ``name`` is optional (one is generated from the
image). ``EXECUTE_CODE`` — as a param, as in the seed, or as ``execute_code`` — names code the image runs instead
(``lab/code.py``); as a param it is a run-time value, which names local code only under configured roots.
Everything is checked here, before anything is stored: a bad value is a one-line ``LabError``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_dsjobs.jobs.errors import JobError

#: The param the seed's workspace image reads its code location from.
EXECUTE_CODE = "EXECUTE_CODE"
#: Environment variable names a param may use (POSIX-ish, as Docker passes them).
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,255}")
MAX_NAME = 200


class LabError(JobError):
    """An ML Lab job cannot be planned: bad config, unknown code, unreachable git ref. One line, nothing stored."""


@dataclass(frozen=True)
class LabJobConfig:
    """One ML Lab job. ``params`` values may be str, int, float or bool (turned into text as written)."""

    image: str
    name: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    execute_code: str | None = None
    #: install the code's dependencies (environment.yml, setup.sh, requirements.txt) and stop: warms the cache
    requirements_only: bool = False
    #: instance types in priority order, as a config's ``cloud-instance-types`` (none: the engine's resources)
    cloud_instance_types: Sequence[str] = ()
    #: the code location was set when the run was triggered, not written by the DAG author or CLI user: it may name
    #: local code only under ``Settings.lab_code_roots``. Always so for an ``EXECUTE_CODE`` param; ``LabJobOperator``
    #: sets it for an ``execute_code`` rendered from a template.
    code_is_runtime: bool = False
    #: run the code without its dependency steps (environment.yml, setup.sh, requirements.txt): the seed's
    #: ``--code-only``, for code whose dependencies are baked into the image
    code_only: bool = False
    #: let params set variables the image's ENV marks internal (names starting with ``_``, the ML Lab convention)
    allow_internal_params: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.image, str) or not self.image.strip() or any(c.isspace() for c in self.image.strip()):
            raise LabError(f"image: {self.image!r} is not an image reference (like python:3.11-slim)")
        object.__setattr__(self, "image", self.image.strip())
        if self.name is not None:
            if not isinstance(self.name, str) or not self.name.strip():
                object.__setattr__(self, "name", None)
            elif len(self.name) > MAX_NAME or any(ord(c) < 32 for c in self.name):
                raise LabError(f"name: {self.name[:60]!r} is not a job name (1-{MAX_NAME} printable characters)")
        object.__setattr__(self, "params", _params(self.params))
        code = self.execute_code
        if code is not None and not isinstance(code, str):
            raise LabError(f"execute_code: expected a string, got {type(code).__name__}")
        from_param = self.params.get(EXECUTE_CODE)
        if code and from_param and code.strip() != from_param.strip():
            raise LabError("execute_code and the EXECUTE_CODE param differ: give the code location once")
        object.__setattr__(self, "execute_code", (code or from_param or "").strip() or None)
        object.__setattr__(self, "cloud_instance_types", _instance_types(self.cloud_instance_types))
        if not (code and code.strip()) and from_param:
            object.__setattr__(self, "code_is_runtime", True)
        if self.requirements_only and self.code_only:
            raise LabError("requirements_only and code_only exclude each other: install the dependencies, or skip them")
        if self.requirements_only and not self.execute_code:
            raise LabError("requirements_only needs EXECUTE_CODE: a code directory whose dependencies to install")

    @property
    def job_name(self) -> str:
        """``name``, or one generated from the image: ``<image basename>-<6 hex>``."""
        if self.name:
            return self.name
        base = self.image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
        base = re.sub(r"[^A-Za-z0-9_.-]", "-", base).strip("-.") or "job"
        return f"{base}-{secrets.token_hex(3)}"

    @property
    def env_params(self) -> dict[str, str]:
        """The params the container sees as they are (``EXECUTE_CODE`` is replaced by the staged code's path)."""
        return {k: v for k, v in self.params.items() if k != EXECUTE_CODE}


def _instance_types(types: Any) -> tuple[str, ...]:
    """Names in priority order (one name alone is fine); whether they exist is checked against the catalog when the
    job is planned."""
    listed = [types] if isinstance(types, str) else list(types or ())
    if not all(isinstance(t, str) and t.strip() for t in listed):
        raise LabError(f"cloud_instance_types: expected instance type names, got {listed!r:.80}")
    names = tuple(dict.fromkeys(t.strip() for t in listed))
    if len(names) != len(listed):
        raise LabError("cloud_instance_types: a name is listed twice")
    return names


def _params(params: Any) -> dict[str, str]:
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise LabError(f"params: expected a mapping of names to values, got {type(params).__name__}")
    result: dict[str, str] = {}
    for name, value in params.items():
        if not isinstance(name, str) or not _PARAM_NAME.fullmatch(name):
            raise LabError(f"params: {name!r} is not an environment variable name (letters, digits, _ . -)")
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif value is None:
            value = ""
        elif isinstance(value, (int, float)):
            value = str(value)
        elif not isinstance(value, str):
            raise LabError(f"params.{name}: expected a string or number, got {type(value).__name__}")
        if "\x00" in value:
            raise LabError(f"params.{name}: a NUL character cannot be passed in an environment variable")
        result[name] = value
    return result
