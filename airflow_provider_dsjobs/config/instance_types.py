"""``cloud-instance-types``: the named resource profiles a job may ask for, in priority order.

The built-in names are DataSphere's configurations (``c1.4`` is 4 CPUs and 32 GB, ``g2.1`` an A100). A team's
own servers define their own: a YAML file named by ``DSJOBS_INSTANCE_TYPES`` (or, in Airflow, the ``dsjobs``
connection's extra ``instance_types``) maps names to ``cpus``, ``memory`` (``2Gi``, ``512Mi``, ``32G``),
``gpus``, ``gpu-model`` and ``shm``::

    cpu.small: {cpus: 2, memory: 4Gi}
    gpu.a100:  {cpus: 16, memory: 120Gi, gpus: 1, gpu-model: A100, shm: 32Gi}
    c1.4:      {cpus: 2, memory: 8Gi}          # a built-in name given again is replaced

The names add to the built-in ones; a name given again replaces the built-in profile. On a Docker engine a
profile becomes limits (CPUs, memory), a ``/dev/shm`` size (``shm``, else half the memory, as on a VM) and GPU
requests; the runtime takes the first profile in the config's order that the engine can satisfy.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .errors import ConfigError, Problem

#: The environment variable naming a catalog file.
CATALOG_ENV = "DSJOBS_INSTANCE_TYPES"
_GIB = 1 << 30
_MEMORY_RE = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[KMGTP]i?|[KMGTP]B|)", re.IGNORECASE)
_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
MEMORY_HELP = "a number of bytes or a quantity like `512Mi`, `2Gi`, `32G` (Ki/Mi/Gi/Ti binary, K/M/G/T decimal)"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_KEYS = ("cpus", "memory", "gpus", "gpu-model", "shm")
#: The most a catalog may hold, so a hostile file stays cheap to read.
MAX_TYPES = 500


@dataclass(frozen=True)
class InstanceType:
    """One profile. ``shm_bytes`` is ``/dev/shm``'s size (None: half the memory)."""

    name: str
    cpus: float
    memory_bytes: int
    gpus: int = 0
    gpu_model: str | None = None
    shm_bytes: int | None = None

    @property
    def shm_size(self) -> int:
        return self.shm_bytes if self.shm_bytes is not None else self.memory_bytes // 2

    def describe(self) -> str:
        gpu = f", {self.gpus} GPU" + (f" {self.gpu_model}" if self.gpu_model else "") if self.gpus else ""
        return f"{self.cpus:g} CPUs, {self.memory_bytes / _GIB:.1f} GiB{gpu}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cpus": self.cpus,
            "memory_bytes": self.memory_bytes,
            "gpus": self.gpus,
            "gpu_model": self.gpu_model,
            "shm_bytes": self.shm_size,
        }


def _builtin(name: str, cpus: int, memory_gb: int, gpus: int = 0, gpu_model: str | None = None) -> InstanceType:
    return InstanceType(name, cpus, memory_gb * _GIB, gpus, gpu_model)


BUILTIN_INSTANCE_TYPES: dict[str, InstanceType] = {
    t.name: t
    for t in (
        _builtin("c1.4", 4, 32),
        _builtin("c1.8", 8, 64),
        _builtin("c1.32", 32, 256),
        _builtin("c1.80", 80, 640),
        _builtin("g1.1", 8, 96, 1, "V100"),
        _builtin("g1.2", 16, 192, 2, "V100"),
        _builtin("g1.4", 32, 384, 4, "V100"),
        _builtin("g1.8", 64, 768, 8, "V100"),
        _builtin("g2.1", 28, 119, 1, "A100"),
        _builtin("g2.2", 56, 238, 2, "A100"),
        _builtin("g2.4", 112, 476, 4, "A100"),
        _builtin("g2.8", 224, 952, 8, "A100"),
        _builtin("gt4.1", 4, 16, 1, "T4"),
    )
}
#: The built-in catalog (kept under its old name for readers of earlier versions).
KNOWN_INSTANCE_TYPES = BUILTIN_INSTANCE_TYPES


@dataclass(frozen=True)
class InstanceCatalog(Mapping[str, InstanceType]):
    """The names a job may use: the built-in profiles plus (or replaced by) a team's own."""

    types: Mapping[str, InstanceType]
    #: where the team's names came from (a file path, ``connection extra instance_types``), for messages
    sources: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> InstanceType:
        return self.types[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.types)

    def __len__(self) -> int:
        return len(self.types)

    def __hash__(self) -> int:
        return hash((tuple(self.types.items()), self.sources))

    def names(self) -> str:
        return ", ".join(self.types)

    def merged(self, mapping: Any, source: str) -> InstanceCatalog:
        """This catalog with ``mapping``'s profiles added (a name given again is replaced); ``ConfigError`` naming
        ``source`` and the key path of each bad entry."""
        added = parse_catalog(mapping, source)
        return InstanceCatalog({**self.types, **added}, (*self.sources, source))


BUILTIN_CATALOG = InstanceCatalog(BUILTIN_INSTANCE_TYPES)


def parse_memory(value: Any) -> int:
    """Bytes in ``2Gi``, ``512Mi``, ``32G``, ``4GB`` or a whole number of bytes. Raises ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"`{value!r}` is not a memory size ({MEMORY_HELP})")
    match = _MEMORY_RE.fullmatch(str(value).strip())
    if match is None:
        raise ValueError(f"`{str(value)[:40]}` is not a memory size ({MEMORY_HELP})")
    unit = match.group("unit").upper().removesuffix("B")
    base = 1024 ** ("KMGTP".index(unit[0]) + 1) if unit.endswith("I") else _UNITS[unit]
    try:
        return int(Decimal(match.group("number")) * base)
    except InvalidOperation:  # pragma: no cover - the regex only lets decimals through
        raise ValueError(f"`{value}` is not a memory size ({MEMORY_HELP})") from None


def parse_catalog(mapping: Any, source: str) -> dict[str, InstanceType]:
    """``{name: {cpus, memory, gpus?, gpu-model?, shm?}}`` as profiles; every problem at once, as ``ConfigError``."""
    if not isinstance(mapping, Mapping):
        raise ConfigError([Problem(source, None, None, "", "expected a mapping of instance type names to profiles")])
    problems: list[Problem] = []
    out: dict[str, InstanceType] = {}
    if len(mapping) > MAX_TYPES:
        raise ConfigError([Problem(source, None, None, "", f"more than {MAX_TYPES} instance types")])
    for name, spec in mapping.items():
        try:
            out[str(name)] = _profile(name, spec)
        except ValueError as exc:
            key, _, message = str(exc).partition("\0")
            problems.append(Problem(source, None, None, f"{name}{key}" if isinstance(name, str) else "", message))
    if problems:
        raise ConfigError(problems)
    return out


def _bad(key: str, message: str) -> ValueError:
    return ValueError(f"{key}\0{message}")


def _profile(name: Any, spec: Any) -> InstanceType:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise _bad("", f"`{str(name)[:40]}` is not an instance type name (letters, digits, `_ . -`, at most 63)")
    if not isinstance(spec, Mapping):
        raise _bad("", "expected a mapping with `cpus` and `memory` (and optionally `gpus`, `gpu-model`, `shm`)")
    unknown = [str(k) for k in spec if k not in _KEYS]
    if unknown:
        raise _bad(f".{unknown[0]}", f"unknown key (allowed: {', '.join(_KEYS)})")
    for key in ("cpus", "memory"):
        if key not in spec:
            raise _bad("", f"`{key}` is required")
    cpus = spec["cpus"]
    if isinstance(cpus, bool) or not isinstance(cpus, (int, float)) or not 0 < cpus <= 4096:
        raise _bad(".cpus", "expected a number of CPUs above 0 (fractions are fine, e.g. 0.5)")
    gpus = spec.get("gpus", 0)
    if isinstance(gpus, bool) or not isinstance(gpus, int) or not 0 <= gpus <= 64:
        raise _bad(".gpus", "expected a whole number of GPUs from 0 to 64")
    model = spec.get("gpu-model")
    if model is not None and (not isinstance(model, str) or not model.strip() or len(model) > 64):
        raise _bad(".gpu-model", "expected a GPU model name such as `A100`")
    sizes: dict[str, int | None] = {}
    for key in ("memory", "shm"):
        if spec.get(key) is None:
            sizes[key] = None
            continue
        try:
            sizes[key] = parse_memory(spec[key])
        except ValueError as exc:
            raise _bad(f".{key}", str(exc)) from None
    memory = sizes["memory"] or 0
    if memory < 6 * (1 << 20):
        raise _bad(".memory", "at least 6Mi (Docker's smallest memory limit)")
    shm = sizes["shm"]
    if shm is not None and not 0 < shm <= memory:
        raise _bad(".shm", "expected a size above 0 and at most the type's memory (/dev/shm counts against it)")
    return InstanceType(name, float(cpus), memory, gpus, model.strip() if model else None, shm)


def catalog_from_file(path: str | Path, base: InstanceCatalog = BUILTIN_CATALOG) -> InstanceCatalog:
    """``base`` plus the profiles of a YAML file; ``ConfigError`` naming the file (and line, for bad YAML)."""
    from .yaml_source import parse_document  # the located YAML reader: bounded, and errors with lines

    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError([Problem(source, None, None, "", f"cannot read the instance types file: {reason}")]) from None
    return base.merged(parse_document(text, source).root.to_json(), source)


def default_catalog(environ: Mapping[str, str] | None = None) -> InstanceCatalog:
    """The built-in catalog plus the file ``DSJOBS_INSTANCE_TYPES`` names, if any."""
    path = (os.environ if environ is None else environ).get(CATALOG_ENV, "").strip()
    return catalog_from_file(path) if path else BUILTIN_CATALOG
