"""Plan a job's Python environment: version, image, requirements, local files, and how the container builds it.

The mode matrix (datasphere-cli.md §4.1):

=====================================  ==========  ===============  ===============================
config                                 version     requirements     local files
=====================================  ==========  ===============  ===============================
``python: auto``                       submitter   static analysis  entry scripts + local modules
manual, some of the three missing      given/auto  file/analysis    entry scripts + local-paths/analysis
manual with version, requirements-     given       file             local-paths only (nothing is
file and local-paths ("fully manual")                               analysed, not even ``cmd``)
=====================================  ==========  ===============  ===============================

The orchestrator puts ``local_files`` into the job's work directory. The environment is the project's own
(``pyenv/build_step.py``): unless ``ready_path`` exists in the Docker volume ``volume_name`` (created with
``volume_labels``), a build step runs ``build_command`` in a helper container with ``container_files()`` and the
volume mounted read-write at ``volume_mount``; the job mounts it read-only and runs ``setup_command`` before
``cmd`` in the same shell. An exit code of ``failed_exit_code`` with a file at ``failed_marker`` means the
environment could not be built; the marker holds pip's message.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.resources
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_dsjobs.config.model import JobConfig, PipOptions, PythonEnv
from airflow_provider_dsjobs.config.serialize import pip_options_json
from airflow_provider_dsjobs.pyenv.build_step import (
    activate_venv,
    build_command,
    env_volume_labels,
    env_volume_name,
    use_command,
)
from airflow_provider_dsjobs.pyenv.container_build import EXIT_ENV_FAILED
from airflow_provider_dsjobs.pyenv.entrypoints import EntryPoint, find_entry_points, scan_command
from airflow_provider_dsjobs.pyenv.errors import PyEnvError
from airflow_provider_dsjobs.pyenv.imports import ImportAnalysis, analyze_imports
from airflow_provider_dsjobs.pyenv.interpreter import PythonInstallation
from airflow_provider_dsjobs.pyenv.requirements import RequirementsFile, parse_requirements_file
from airflow_provider_dsjobs.pyenv.resolve import DistributionIndex, resolve_imports

#: Where env volumes are mounted in job containers.
DEFAULT_VOLUME_MOUNT = "/opt/dsjobs/envs"
#: The job's work directory in the container (the orchestrator's default).
DEFAULT_CONTAINER_WORKDIR = "/job"
#: Directory, relative to the work directory, for the builder, its spec and the failed marker.
SUPPORT_DIR = ".dsjobs"
#: Bumped when the builder's on-volume layout changes, so old environments are not reused.
BUILD_FORMAT = 1
#: Oldest Python the builder runs on.
MIN_MINOR = 8
#: Local files above this total get a note in the plan (a data directory mistaken for a package?).
LARGE_LOCAL_FILES_BYTES = 100 << 20
#: Names never shipped from local directories.
_SKIP_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
_SKIP_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class PythonEnvPlan:
    """Everything the orchestrator needs to give a job its Python environment (see the module docstring)."""

    #: ``"auto"``, ``"manual"`` or ``"fully-manual"``
    mode: str
    version: str
    image: str
    requirements: list[str]
    pip: PipOptions
    #: local file → path relative to the container work dir (layout preserved); entry scripts included
    local_files: list[tuple[Path, str]]
    entry_points: list[EntryPoint]
    env_hash: str
    volume_name: str
    volume_mount: str
    volume_labels: dict[str, str]
    venv_path: str
    builder_script: bytes
    builder_path: str
    spec_json: bytes
    spec_path: str
    setup_command: str
    failed_marker: str
    failed_exit_code: int
    #: what the build step runs (in the work directory, with the volume read-write)
    build_command: str = ""
    #: the file whose presence says the environment is complete (written last by the build)
    ready_path: str = ""
    #: where the launcher puts the build step's output for the job to show
    build_log: str = ""
    #: informational lines for the job log (skipped optional imports, unpinned aliases ...)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description for job records and ``--format json`` output (no file contents)."""
        return {
            "mode": self.mode,
            "version": self.version,
            "image": self.image,
            "requirements": list(self.requirements),
            "pip": pip_options_json(self.pip),
            "entry-points": [{"kind": e.kind, "value": e.value} for e in self.entry_points if not e.optional],
            "local-files": [rel for _, rel in self.local_files],
            "env-hash": self.env_hash,
            "volume": self.volume_name,
            "notes": list(self.notes),
        }

    def container_files(self) -> list[tuple[str, bytes]]:
        """``(absolute container path, content)`` of the builder and its spec."""
        return [(self.builder_path, self.builder_script), (self.spec_path, self.spec_json)]


def _check_version(version: str, source: str) -> None:
    match = re.fullmatch(r"3\.(\d+)", version)
    if not match:
        raise PyEnvError(f"{source}: env.python.version: '{version}' is not a Python version like 3.11")
    if int(match.group(1)) < MIN_MINOR:
        raise PyEnvError(f"{source}: env.python.version: Python {version} is not supported (3.{MIN_MINOR} or newer)")


def _image_for(version: str, image_template: str, explicit_image: str | None, source: str) -> str:
    if explicit_image:
        return explicit_image
    try:
        image = image_template.format(version=version).strip()
    except (KeyError, IndexError, ValueError) as exc:
        raise PyEnvError(
            f"the Python image template '{image_template}' is invalid ({exc}); it may use only {{version}}"
        ) from None
    if not image:
        raise PyEnvError(f"{source}: no image for Python {version}: the Python image template gives an empty name")
    return image


def _normal(path: Path) -> Path:
    """Absolute and without ``..``, but symlinks kept: a link inside the job directory ships as itself."""
    return Path(os.path.normpath(path))


def _relative_inside(path: Path, base: Path, what: str) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        raise PyEnvError(f"{what} '{path}' is outside the job directory {base}") from None


def _tree_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    found: list[Path] = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        found += [Path(directory, f) for f in sorted(files) if not f.endswith(_SKIP_SUFFIXES)]
    return found


def _local_paths_files(paths: Sequence[str], base: Path, source: str) -> list[Path]:
    files: list[Path] = []
    for entry in paths:
        path = _normal(base / entry)
        _relative_inside(path, base, f"{source}: env.python.local-paths entry")
        if not path.exists():
            raise PyEnvError(f"{source}: env.python.local-paths: '{entry}' was not found in {base}")
        files += _tree_files(path)
    return files


def _analysis_files(analysis: ImportAnalysis) -> list[Path]:
    """Local modules to ship: whole regular packages (their data files too), single modules, and of a
    namespace package only the files the analysis reached."""
    files = set(analysis.local_files)
    for top in analysis.local_tops.values():
        if top.kind == "package":
            files.update(_tree_files(top.path))
        elif top.kind == "module":
            files.add(top.path)
    return sorted(files)


def _merge_pip(config_pip: PipOptions, req: RequirementsFile | None, source: str) -> PipOptions:
    if req is None:
        return config_pip
    if config_pip.index_url and req.index_url and config_pip.index_url != req.index_url:
        raise PyEnvError(
            f"{req.index_url_at}: --index-url differs from env.python.pip.index-url in {source}; keep one of them"
        )
    return PipOptions(
        index_url=config_pip.index_url or req.index_url,
        extra_index_urls=tuple(dict.fromkeys([*config_pip.extra_index_urls, *req.extra_index_urls])),
        trusted_hosts=tuple(dict.fromkeys([*config_pip.trusted_hosts, *req.trusted_hosts])),
        no_deps=config_pip.no_deps or req.no_deps,
    )


def env_hash_for(image: str, version: str, requirements: Sequence[str], pip: PipOptions) -> str:
    """sha256 naming an environment: image, Python version, requirements, pip options (not local files)."""
    payload = {
        "format": BUILD_FORMAT,
        "image": image,
        "version": version,
        "requirements": list(requirements),
        "pip": pip_options_json(pip),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


def pip_spec(pip: PipOptions) -> dict[str, Any]:
    """The pip options as the in-container builder reads them (``container_build.pip_arguments``)."""
    return {key.replace("-", "_"): value for key, value in pip_options_json(pip).items()}


def builder_source() -> bytes:
    return importlib.resources.files("airflow_provider_dsjobs.pyenv").joinpath("container_build.py").read_bytes()


def _setup_command(env_hash: str, ready: str, marker: str, build_log: str, venv: str) -> str:
    """The job's lines before ``cmd``: the environment must be complete; then it is activated."""
    hit = f"dsjobs-pyenv: environment cache hit ({env_hash[:16]})"
    return (
        use_command(ready=ready, failed_marker=marker, build_log=build_log, hit_message=hit)
        + "; "
        + activate_venv(venv)
    )


def _entry_files(entries: Sequence[EntryPoint], source: str) -> tuple[list[EntryPoint], list[str]]:
    """Drop absolute script paths (they live in the image), each with a note; reject paths leaving the job dir."""
    kept: list[EntryPoint] = []
    notes: list[str] = []
    for entry in entries:
        if entry.kind == "file" and entry.value.startswith("/"):
            notes.append(f"entry script {entry.value} is an absolute path: taken from the image, not analysed")
            continue
        if entry.kind == "file" and (entry.value == ".." or entry.value.startswith("../")):
            raise PyEnvError(f"{source}: entry script '{entry.value}' is outside the job directory")
        kept.append(entry)
    return kept, notes


def plan_python_env(
    config: JobConfig,
    *,
    base_dir: Path,
    image_template: str,
    explicit_image: str | None,
    container_workdir: str = DEFAULT_CONTAINER_WORKDIR,
    volume_mount: str = DEFAULT_VOLUME_MOUNT,
    distributions_path: Sequence[str | Path] | None = None,
    installation: PythonInstallation | None = None,
    project: str = "",
) -> PythonEnvPlan:
    """Plan ``config.env.python`` (which must be set) for a job of ``project`` (the environment is the project's
    own: its volume is named and labelled for it). ``explicit_image`` (``env.docker``) wins over
    ``image_template.format(version=...)``. ``distributions_path`` is where installed distributions are
    looked up (this interpreter's ``sys.path`` by default); ``installation`` names another Python installation
    whose packages pin the imports and whose version an auto env gets when the config gives none. Raises
    :class:`PyEnvError` with a one-line message before anything runs."""
    py: PythonEnv | None = config.env.python
    if py is None:
        raise ValueError("plan_python_env needs a config with env.python")
    source = config.source
    base = base_dir.resolve()
    if installation is not None:
        if distributions_path is None:
            distributions_path = installation.search_path
        if not py.version_given:
            py = dataclasses.replace(py, version=installation.version)
    _check_version(py.version, source)
    image = _image_for(py.version, image_template, explicit_image, source)
    req_file = _requirements_file(py, base)
    if py.fully_manual:
        mode = "fully-manual"
        assert req_file is not None and py.local_paths is not None
        files = _local_paths_files(py.local_paths, base, source)
        found = _Found([], list(req_file.lines), files, unshipped_entry_scripts(config, base))
    else:
        mode = py.type
        found = _analysed(config, py, base, req_file, distributions_path, installation)
    entries, requirements = found.entries, found.requirements
    local_files, large = _local_files(found.files, base)
    notes = found.notes + large
    pip = _merge_pip(py.pip, req_file, source)
    env_hash = env_hash_for(image, py.version, requirements, pip)
    layout = _BuildLayout(container_workdir.rstrip("/"), volume_mount.rstrip("/"), env_hash)
    # a version the user wrote must match the image; one filled in from the submitter is advisory
    strict = py.version_given or explicit_image is None
    spec = _build_spec(layout, py.version, strict, image, requirements, pip)
    keyed = keyed_env(spec, project)
    return PythonEnvPlan(
        mode=mode,
        version=py.version,
        image=image,
        requirements=requirements,
        pip=pip,
        local_files=local_files,
        entry_points=entries,
        env_hash=env_hash,
        volume_name=keyed.volume_name,
        volume_mount=layout.mount,
        volume_labels=dict(keyed.volume_labels),
        venv_path=layout.venv_path,
        builder_script=builder_source(),
        builder_path=layout.builder_path,
        spec_json=spec,
        spec_path=layout.spec_path,
        setup_command=keyed.setup_command,
        failed_marker=layout.failed_marker,
        failed_exit_code=EXIT_ENV_FAILED,
        build_command=keyed.build_command,
        ready_path=layout.ready_path,
        build_log=layout.build_log,
        notes=notes,
    )


@dataclass(frozen=True)
class KeyedEnv:
    """An environment spec placed for one project: its volume and the build step's and the job's lines."""

    volume_name: str
    volume_labels: dict[str, str]
    build_command: str
    setup_command: str
    ready_path: str
    build_log: str


def keyed_env(spec_json: bytes, project: str) -> KeyedEnv:
    """The volume, labels, build and job lines of the environment ``spec_json`` (the builder's spec, whose builder
    and failure marker sit in the job's support directory) for ``project``. A fork whose stored plan predates
    per-project volumes is re-keyed with it."""
    spec = json.loads(spec_json)
    env_hash, version, image = str(spec["hash"]), str(spec.get("version", "")), str(spec.get("image", ""))
    marker = str(spec["failed_marker"])
    support = marker.rsplit("/", 1)[0]
    layout = _BuildLayout(support.removesuffix(f"/{SUPPORT_DIR}"), str(spec["env_root"]), env_hash)
    setup = _setup_command(env_hash, layout.ready_path, marker, layout.build_log, layout.venv_path)
    return KeyedEnv(
        volume_name=env_volume_name(project, env_hash),
        volume_labels=env_volume_labels(project, env_hash, image, version),
        build_command=build_command(version, layout.builder_path, layout.spec_path, marker),
        setup_command=setup,
        ready_path=layout.ready_path,
        build_log=layout.build_log,
    )


def _requirements_file(py: PythonEnv, base: Path) -> RequirementsFile | None:
    """``requirements-file`` parsed (a relative path is in the job directory), or None when not given."""
    if py.requirements_file is None:
        return None
    path = Path(py.requirements_file)
    return parse_requirements_file(path if path.is_absolute() else base / path, display_base=base)


@dataclass(frozen=True)
class _BuildLayout:
    """Where an environment's build puts things: the builder, its spec and the failure marker in the job's
    support directory; the environment itself under its hash in the volume."""

    workdir: str
    mount: str
    env_hash: str

    @property
    def support(self) -> str:
        return f"{self.workdir}/{SUPPORT_DIR}"

    @property
    def builder_path(self) -> str:
        return f"{self.support}/pyenv_build.py"

    @property
    def spec_path(self) -> str:
        return f"{self.support}/pyenv.json"

    @property
    def failed_marker(self) -> str:
        return f"{self.support}/pyenv-failed.txt"

    @property
    def build_log(self) -> str:
        return f"{self.support}/pyenv-build.log"

    @property
    def venv_path(self) -> str:
        return f"{self.mount}/{self.env_hash}/venv"

    @property
    def ready_path(self) -> str:
        return f"{self.mount}/{self.env_hash}/.complete"


def _build_spec(
    layout: _BuildLayout, version: str, strict: bool, image: str, requirements: list[str], pip: PipOptions
) -> bytes:
    """The JSON the in-container builder (``container_build``) reads."""
    spec = {
        "format": BUILD_FORMAT,
        "hash": layout.env_hash,
        "version": version,
        "version_strict": strict,
        "image": image,
        "env_root": layout.mount,
        "requirements": requirements,
        "pip": pip_spec(pip),
        "failed_marker": layout.failed_marker,
    }
    return json.dumps(spec, indent=1, sort_keys=True).encode("utf-8")


@dataclass(frozen=True)
class _Found:
    """What an environment holds: its entry points, requirements and local files, and notes on what was left out."""

    entries: list[EntryPoint]
    requirements: list[str]
    files: list[Path]
    notes: list[str]


def _analysed(
    config: JobConfig,
    py: PythonEnv,
    base: Path,
    req_file: RequirementsFile | None,
    distributions_path: Sequence[str | Path] | None,
    installation: PythonInstallation | None,
) -> _Found:
    """``auto``/``manual``: the entry points found in ``cmd``, the requirements (the file's, else resolved from
    the analysed imports) and the local files to ship (``local-paths``, else the analysis')."""
    source = config.source
    if py.local_paths is not None and py.root_paths:
        raise PyEnvError(f"{source}: env.python: root-paths and local-paths cannot be used together")
    scan = scan_command(config.cmd, base)
    entries, notes = _entry_files(find_entry_points(config.cmd, base, py.root_paths), source)
    if not any(not e.optional for e in entries):
        if scan.inline_code:
            raise PyEnvError(
                f"{source}: cmd runs inline code (python -c), which has no script to analyse: list the "
                "job's scripts in env.python.root-paths, or use env.python type: manual with version, "
                "requirements-file and local-paths"
            )
        raise PyEnvError(
            f"{source}: Python root module(-s) was not found automatically or set in config: cmd does not "
            "run a Python script of the job directory; list the scripts in env.python.root-paths"
        )
    index = DistributionIndex(distributions_path) if (req_file is None or py.local_paths is None) else None
    analysis: ImportAnalysis | None = None
    if index is not None:
        analysis = analyze_imports(entries, base, is_installed=index.is_installed, command_site=Path(source))
    else:
        for e in entries:
            if e.kind == "file" and not (base / e.value).is_file():
                raise PyEnvError(f"{source}: entry script '{e.value}' was not found in {base}")
    if req_file is not None:
        requirements = list(req_file.lines)
    else:
        assert analysis is not None and index is not None
        resolution = resolve_imports(
            analysis.third_party,
            index=index,
            base_dir=base,
            interpreter=installation.interpreter if installation is not None else None,
        )
        requirements = resolution.requirements
        if resolution.skipped_optional:
            notes.append("optional imports not installed locally, left out: " + ", ".join(resolution.skipped_optional))
        if resolution.aliased:
            notes.append("not installed locally, installed unpinned: " + ", ".join(resolution.aliased))
    entry_paths = [_normal(base / e.value) for e in entries if e.kind == "file"]
    if py.local_paths is not None:
        files = entry_paths + _local_paths_files(py.local_paths, base, source)
    else:
        assert analysis is not None
        files = entry_paths + _analysis_files(analysis)
    return _Found(entries, requirements, files, notes)


def unshipped_entry_scripts(config: JobConfig, base_dir: Path) -> list[str]:
    """A fully manual env ships only ``inputs`` and ``local-paths``, as the official CLI does, so an entry
    script of ``cmd`` listed in neither is missing in the container: one warning each (empty otherwise). The
    semantics stay; the warning tells before the job dies with ``can't open file``."""
    py = config.env.python
    if py is None or not py.fully_manual:
        return []
    base = base_dir.resolve()
    shipped = [_normal(base / e.path) for e in config.inputs if e.var is None]
    shipped += [_normal(base / p) for p in py.local_paths or ()]
    warnings = []
    for entry in scan_command(config.cmd, base).entry_points:
        if entry.kind != "file" or entry.optional or Path(entry.value).is_absolute():
            continue
        path = _normal(base / entry.value)
        if not any(path == s or s in path.parents for s in shipped):
            warnings.append(
                f"entry script '{entry.value}' of cmd is in neither `inputs` nor `env.python.local-paths`: with "
                "version, requirements-file and local-paths all given (a fully manual env) nothing else is shipped, "
                f"so the job would fail with \"can't open file '{entry.value}'\"; list it in one of the two"
            )
    return warnings


def _local_files(files: list[Path], base: Path) -> tuple[list[tuple[Path, str]], list[str]]:
    """``(file, path relative to the job directory)`` once each, sorted; and a note when they are large."""
    local_files: list[tuple[Path, str]] = []
    seen: set[str] = set()
    for path in files:
        rel = _relative_inside(path, base, "local file")
        if rel not in seen:
            seen.add(rel)
            local_files.append((path, rel))
    local_files.sort(key=lambda item: item[1])
    total = sum(path.stat().st_size for path, _ in local_files)
    if total <= LARGE_LOCAL_FILES_BYTES:
        return local_files, []
    note = f"local Python files total {total / (1 << 20):.0f} MiB in {len(local_files)} files; "
    return local_files, [note + "set env.python.local-paths to ship less"]
