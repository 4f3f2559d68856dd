"""Third-party import names → pinned distributions of the submitting environment.

The mapping comes from the installed distributions' metadata (``importlib.metadata``, the same data as
``packages_distributions()``: ``top_level.txt``, else the first path part of each file in ``RECORD``), so an
import name that differs from its distribution's name (``yaml`` → ``PyYAML``) resolves correctly without a
hand-kept table. Each requirement is pinned to the installed version: the job gets what was tested locally.

When several distributions share a top-level name (``google`` → ``protobuf``, ``google-auth`` ...; ``airflow`` →
core and every provider), the full dotted names imported (``google.protobuf``) pick the ones that ship them.

A short alias table covers the common cases where the package is *not* installed locally but its name is
well known; those requirements are unpinned. Anything else that cannot be resolved is one clear error.
Only top-level requirements are pinned; pip resolves their dependencies in the container.
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from airflow_provider_dsjobs.pyenv.errors import PyEnvError
from airflow_provider_dsjobs.pyenv.imports import ThirdPartyImport
from airflow_provider_dsjobs.pyenv.interpreter import HOW_TO_NAME

#: Import names whose distribution has another name, used only when metadata cannot resolve them.
ALIASES: Mapping[str, str] = {
    "sklearn": "scikit-learn",
    "cv2": "opencv-python",
    "PIL": "Pillow",
    "yaml": "PyYAML",
    "bs4": "beautifulsoup4",
    "skimage": "scikit-image",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
}


def canonical_name(name: str) -> str:
    """PEP 503 normalized distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class InstalledDistribution:
    """One installed distribution: its name, version, and why it cannot come from an index (if so)."""

    name: str
    version: str
    dist: metadata.Distribution = field(repr=False)
    local_reason: str | None = None
    _files: frozenset[str] | None = field(default=None, repr=False)

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}" if self.version else self.name

    def _file_set(self) -> frozenset[str]:
        if self._files is None:
            self._files = frozenset(PurePosixPath(str(f)).as_posix() for f in self.dist.files or ())
        return self._files

    def defines(self, module: str) -> bool:
        """Whether this distribution ships the module itself (``a/b.py``, ``a/b/__init__.py``, an extension)."""
        prefix = module.replace(".", "/")
        files = self._file_set()
        if f"{prefix}.py" in files or f"{prefix}/__init__.py" in files:
            return True
        return any(f.startswith(prefix + ".") and f.endswith((".so", ".pyd")) for f in files)

    def contains(self, module: str) -> bool:
        """Whether any of this distribution's files lie under the package ``module``."""
        prefix = module.replace(".", "/") + "/"
        return any(f.startswith(prefix) for f in self._file_set())


def _top_levels(dist: metadata.Distribution) -> set[str]:
    declared = dist.read_text("top_level.txt")
    if declared:
        return {line.strip().replace("/", ".").split(".")[0] for line in declared.splitlines() if line.strip()}
    tops: set[str] = set()
    for f in dist.files or ():
        parts = PurePosixPath(str(f)).parts
        if not parts or parts[0] in ("..", "__pycache__") or parts[0].endswith((".dist-info", ".egg-info", ".data")):
            continue
        name = parts[0] if len(parts) > 1 else parts[0].split(".")[0] if parts[0].endswith(".py") else ""
        if name and name.isidentifier():
            tops.add(name)
    return tops


def _local_reason(dist: metadata.Distribution) -> str | None:
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    try:
        info = json.loads(text)
    except ValueError:
        return None
    if info.get("dir_info", {}).get("editable"):
        return "installed in editable mode from a local directory"
    if str(info.get("url", "")).startswith("file:"):
        return "installed from a local path"
    return None


class DistributionIndex:
    """The distributions installed in an environment, by the top-level import names they provide.

    ``path`` is the list of directories to search (``sys.path`` of this interpreter when omitted); tests pass
    a site directory of their own. The first distribution of a name on the path wins, as for imports.
    """

    def __init__(self, path: Sequence[str | Path] | None = None) -> None:
        search = [str(p) for p in path] if path is not None else list(sys.path)
        self._by_top: dict[str, list[InstalledDistribution]] = {}
        seen: set[str] = set()
        for dist in metadata.distributions(path=search):
            name = dist.metadata["Name"]
            if not name or canonical_name(name) in seen:
                continue
            seen.add(canonical_name(name))
            installed = InstalledDistribution(name, dist.version or "", dist, _local_reason(dist))
            for top in _top_levels(dist):
                self._by_top.setdefault(top, []).append(installed)

    def is_installed(self, top_level: str) -> bool:
        return top_level in self._by_top

    def providers(self, top_level: str, modules: Iterable[str] = ()) -> list[InstalledDistribution]:
        """Distributions providing ``top_level``. When several do (namespace packages such as ``google`` or
        ``airflow``), for each module imported, the distributions that ship it (``google.protobuf`` →
        protobuf) or its nearest package; all of them when nothing matches."""
        candidates = self._by_top.get(top_level, [])
        if len(candidates) <= 1:
            return list(candidates)
        chosen: dict[str, InstalledDistribution] = {}
        for module in set(modules) or {top_level}:
            parts = module.split(".")
            for depth in range(len(parts), 0, -1):  # the module itself, else its nearest package
                name = ".".join(parts[:depth])
                found = [d for d in candidates if d.defines(name)]
                if not found and depth > 1:
                    found = [d for d in candidates if d.contains(name)]
                if found:
                    chosen.update((d.name, d) for d in found)
                    break
        return list(chosen.values()) or list(candidates)


@dataclass
class Resolution:
    """Pinned requirements for a set of third-party imports."""

    requirements: list[str] = field(default_factory=list)
    #: import name → the requirement lines it produced
    by_import: dict[str, list[str]] = field(default_factory=dict)
    #: optional imports that could not be resolved and were left out
    skipped_optional: list[str] = field(default_factory=list)
    #: import names resolved through :data:`ALIASES` (unpinned)
    aliased: list[str] = field(default_factory=list)


def resolve_imports(
    imports: Mapping[str, ThirdPartyImport],
    *,
    index: DistributionIndex,
    base_dir: Path,
    interpreter: str | None = None,
) -> Resolution:
    """Map each third-party import to pinned requirements. Raises one :class:`PyEnvError` listing every
    required name that cannot be resolved (with where it is imported), naming ``interpreter`` (the Python
    installation whose packages were looked at; this process's when None) and how to name another."""
    result = Resolution()
    unresolved: list[str] = []
    requirements: dict[str, str] = {}
    for name in sorted(imports):
        imp = imports[name]
        providers = index.providers(name, imp.modules)
        usable = [d for d in providers if d.local_reason is None]
        lines: list[str] = []
        if usable:
            lines = [d.requirement for d in usable]
        elif not providers and name in ALIASES:
            lines = [ALIASES[name]]
            result.aliased.append(name)
        if lines:
            for line in lines:
                requirements.setdefault(canonical_name(re.split(r"[=<>!~ ]", line)[0]), line)
            result.by_import[name] = lines
            continue
        if imp.optional:
            result.skipped_optional.append(name)
            continue
        where = ", ".join(s.describe(base_dir) for s in imp.sites[:3]) + (", ..." if len(imp.sites) > 3 else "")
        why = f"; {providers[0].name} is {providers[0].local_reason}" if providers else ""
        unresolved.append(f"{name} (imported at {where}{why})")
    if unresolved:
        looked_at = interpreter or sys.executable or "python"
        raise PyEnvError(
            "cannot determine the pip packages for these imports: "
            + "; ".join(unresolved)
            + f". Looked at the packages installed for {looked_at}: install them there, or {HOW_TO_NAME}, "
            "or list the packages in a requirements file and set env.python to type: manual with requirements-file"
        )
    result.requirements = sorted(requirements.values(), key=str.lower)
    return result
