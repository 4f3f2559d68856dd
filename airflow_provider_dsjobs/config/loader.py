"""Load a ``config.yaml`` (a file, a text or a mapping) into a validated :class:`~.model.JobConfig`.

Steps: parse into a located tree (:mod:`.yaml_source`), validate against the JSON schema (:mod:`.schema`),
then the semantic checks (:mod:`.checks`). Every problem found is collected; if there is any, one
:class:`~.errors.ConfigError` carries them all, sorted by position. Warnings (nothing wrong, but worth
knowing, e.g. a Python patch version that is dropped) are logged on ``airflow_provider_dsjobs.config`` and
returned by the ``*_with_warnings`` variants.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .checks import build_config
from .errors import ConfigError, Problem, format_key_path
from .instance_types import InstanceCatalog
from .model import JobConfig
from .schema import validate_document
from .yaml_source import MAX_TEXT_CHARS, Document, _BadKey, decode_text, node_from_value, parse_document

if TYPE_CHECKING:
    import logging


def config_logger() -> logging.Logger:
    """The ``airflow_provider_dsjobs.config`` logger, with a ``NullHandler``: a library does not print, its warnings
    reach the application's handlers only (Airflow's task log, the CLI). ``logging`` is imported on the first
    warning, not with the package: ``dsjobs validate`` of a config without warnings starts faster."""
    import logging

    log = logging.getLogger("airflow_provider_dsjobs.config")
    if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
        log.addHandler(logging.NullHandler())
    return log


def check_document(
    doc: Document, base_dir: Path, *, check_files: bool = True, catalog: InstanceCatalog | None = None
) -> tuple[JobConfig, list[Problem]]:
    """Validate a parsed document; returns the config and its warnings or raises :class:`ConfigError`.
    ``check_files=False``: local files are not looked for (see ``build_config``)."""
    schema_problems = validate_document(doc)
    blocks = [sp.blocks for sp in schema_problems]
    try:
        config, checker = build_config(doc, base_dir, tuple(blocks), check_files=check_files, catalog=catalog)
    except Exception:
        if not schema_problems:
            raise
        # The value is malformed in a way the schema already explains; its messages are what the user needs.
        raise ConfigError([sp.problem for sp in schema_problems]) from None
    problems = [sp.problem for sp in schema_problems]
    problems += [p for path, p in checker.problems if not checker.is_blocked(path)]
    if problems or config is None:
        if not problems:  # pragma: no cover - build_config returns None only with problems or a schema error
            problems = [Problem(doc.source, None, None, "", "the config is not valid")]
        raise ConfigError(problems)
    if checker.warnings:
        log = config_logger()
        for warning in checker.warnings:
            log.warning("%s", warning)
    return config, checker.warnings


def load_config_text_with_warnings(
    text: str,
    *,
    source: str = "<string>",
    base_dir: Path | None = None,
    check_files: bool = True,
    catalog: InstanceCatalog | None = None,
) -> tuple[JobConfig, list[Problem]]:
    doc = parse_document(text, source)
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    return check_document(doc, base, check_files=check_files, catalog=catalog)


def load_config_text(
    text: str,
    *,
    source: str = "<string>",
    base_dir: Path | None = None,
    check_files: bool = True,
    catalog: InstanceCatalog | None = None,
) -> JobConfig:
    """A config from YAML text; relative paths resolve against ``base_dir`` (default: the current directory).
    ``check_files=False``: local files are not looked for (a fork of a stored job)."""
    return load_config_text_with_warnings(
        text, source=source, base_dir=base_dir, check_files=check_files, catalog=catalog
    )[0]


def read_config_file(path: str | Path) -> str:
    """The text of a config file, refusing huge, binary or non-UTF-8 files (raises ConfigError or OSError)."""
    path = Path(path)
    with path.open("rb") as fh:
        data = fh.read(MAX_TEXT_CHARS * 4 + 1)
    if len(data) > MAX_TEXT_CHARS * 4:
        raise ConfigError([Problem(str(path), None, None, "", "the file is too large to be a config.yaml")])
    return decode_text(data, str(path))


def load_config_with_warnings(
    path: str | Path, *, catalog: InstanceCatalog | None = None
) -> tuple[JobConfig, list[Problem]]:
    path = Path(path)
    text = read_config_file(path)
    # abspath, not resolve(): a symlinked config keeps the directory it is linked from
    base = Path(os.path.abspath(path)).parent
    return load_config_text_with_warnings(text, source=str(path), base_dir=base, catalog=catalog)


def load_config(path: str | Path, *, catalog: InstanceCatalog | None = None) -> JobConfig:
    """A config from a file; relative paths resolve against the file's directory.

    Raises :class:`ConfigError` for an invalid config and :class:`OSError` when the file cannot be read.
    """
    return load_config_with_warnings(path, catalog=catalog)[0]


def config_from_mapping_with_warnings(
    data: Mapping[str, Any],
    *,
    base_dir: Path | None = None,
    source: str = "<dict>",
    check_files: bool = True,
    catalog: InstanceCatalog | None = None,
) -> tuple[JobConfig, list[Problem]]:
    if not isinstance(data, Mapping):
        raise ConfigError([Problem(source, None, None, "", f"a config must be a mapping, not {type(data).__name__}")])
    try:
        root = node_from_value(data, source=source)
    except _BadKey as exc:
        message = f"keys must be text, not {type(exc.key).__name__}"
        raise ConfigError([Problem(source, None, None, format_key_path(exc.path), message)]) from None
    except RecursionError:
        raise ConfigError([Problem(source, None, None, "", "the config is nested too deeply")]) from None
    try:
        raw_text = yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True)
    except (yaml.YAMLError, TypeError, ValueError, RecursionError):
        raw_text = None
    doc = Document(root=root, source=source, text=None)
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    config, warnings = check_document(doc, base, check_files=check_files, catalog=catalog)
    return config.with_changes(raw_text=raw_text), warnings


def config_from_mapping(
    data: Mapping[str, Any],
    *,
    base_dir: Path | None = None,
    source: str = "<dict>",
    check_files: bool = True,
    catalog: InstanceCatalog | None = None,
) -> JobConfig:
    """A config from a Python mapping (as an Airflow operator receives it); problems have key paths, no lines."""
    return config_from_mapping_with_warnings(
        data, base_dir=base_dir, source=source, check_files=check_files, catalog=catalog
    )[0]
