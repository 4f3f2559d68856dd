"""``dsjobs env ls|clear`` (the Python environment cache), ``dsjobs generate-requirements``; ``env build`` (warm an
ML Lab code directory's environment) lives with the lab commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from airflow_provider_dsjobs.cli.errors import EXIT_USAGE, CommandError
from airflow_provider_dsjobs.cli.job_commands import settings_from_args
from airflow_provider_dsjobs.documents.sizes import human_size
from airflow_provider_dsjobs.pyenv.cache import clear_env_volumes, list_env_volumes
from airflow_provider_dsjobs.pyenv.entrypoints import EntryPoint
from airflow_provider_dsjobs.pyenv.errors import PyEnvError
from airflow_provider_dsjobs.pyenv.imports import analyze_imports
from airflow_provider_dsjobs.pyenv.interpreter import find_installation
from airflow_provider_dsjobs.pyenv.resolve import DistributionIndex, resolve_imports
from airflow_provider_dsjobs.runtime.engine import DockerEngine, InsecureEngine, connect_engine
from airflow_provider_dsjobs.runtime.errors import RuntimeFailure


def _engine(args: argparse.Namespace) -> DockerEngine:
    """The Docker engine the settings name, reached the way jobs reach it (``connect_engine``); a bad
    ``DSJOBS_*`` variable is one usage line, as for the job commands."""
    try:
        return connect_engine(settings_from_args(args))
    except InsecureEngine as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    except RuntimeFailure as exc:
        raise CommandError(str(exc)) from None


def _human(size: int | None) -> str:
    return "?" if size is None else human_size(size)


def env_ls(args: argparse.Namespace) -> int:
    with _engine(args) as engine:
        envs = list_env_volumes(engine, with_size=args.size)
    if args.format == "json":
        print(json.dumps([e.to_dict() for e in envs], indent=2))
        return 0
    rows = [("HASH", "PYTHON", "IMAGE", "CREATED", "VOLUME", *(("SIZE",) if args.size else ()))]
    for e in envs:
        size = (_human(e.size_bytes),) if args.size else ()
        rows.append((e.env_hash[:16], e.version, e.image, e.created_at[:19], e.name, *size))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if not envs:
        print("(no cached Python environments)")
    return 0


def env_clear(args: argparse.Namespace) -> int:
    if not args.hash and not args.all:
        raise CommandError("name the environment to remove with --hash H, or remove all with --all", EXIT_USAGE)
    if args.hash and args.all:
        raise CommandError("--hash and --all cannot be used together", EXIT_USAGE)
    with _engine(args) as engine:
        report = clear_env_volumes(engine, env_hash=args.hash, clear_all=args.all)
    for name in report.removed:
        print(f"removed {name}")
    for name, reason in report.kept:
        print(f"kept {name}: {reason}", file=sys.stderr)
    if args.hash and not report.removed and not report.kept:
        raise CommandError(f"no cached Python environment has a hash starting with {args.hash}")
    return 1 if report.kept else 0


def generate_requirements(args: argparse.Namespace) -> int:
    base = Path.cwd()
    entries = [EntryPoint("file", str(Path(s))) for s in args.scripts]
    try:
        installation = find_installation(args.python_interpreter or settings_from_args(args).python_interpreter)
        index = DistributionIndex(installation.search_path)
        analysis = analyze_imports(entries, base, is_installed=index.is_installed)
        resolution = resolve_imports(
            analysis.third_party, index=index, base_dir=base.resolve(), interpreter=installation.interpreter
        )
    except PyEnvError as exc:
        raise CommandError(str(exc)) from None
    if resolution.skipped_optional:
        print(
            "dsjobs: optional imports not installed here, left out: " + ", ".join(resolution.skipped_optional),
            file=sys.stderr,
        )
    text = "".join(f"{line}\n" for line in resolution.requirements)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {len(resolution.requirements)} requirement(s) to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
