"""``dsjobs env ls|clear`` (the Python environment cache), ``dsjobs generate-requirements``; ``env build`` (warm an
ML Lab code directory's environment) lives with the lab commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from airflow_provider_dsjobs.cli.main import EXIT_USAGE, CommandError
from airflow_provider_dsjobs.pyenv.entrypoints import EntryPoint
from airflow_provider_dsjobs.pyenv.errors import PyEnvError
from airflow_provider_dsjobs.pyenv.imports import analyze_imports
from airflow_provider_dsjobs.pyenv.resolve import DistributionIndex, resolve_imports
from airflow_provider_dsjobs.settings import Settings


def docker_client_from_settings(settings: Settings) -> Any:
    """A docker SDK client for the engine the settings name (local socket / DOCKER_HOST by default)."""
    import docker
    import docker.tls

    if not settings.docker_url:
        return docker.from_env()
    tls: docker.tls.TLSConfig | bool = False
    if settings.docker_tls_client_cert or settings.docker_tls_ca_cert:
        client_cert = None
        if settings.docker_tls_client_cert and settings.docker_tls_client_key:
            client_cert = (settings.docker_tls_client_cert, settings.docker_tls_client_key)
        tls = docker.tls.TLSConfig(
            client_cert=client_cert,
            ca_cert=settings.docker_tls_ca_cert,
            verify=settings.docker_tls_verify,
        )
    return docker.DockerClient(base_url=settings.docker_url, tls=tls)


def _engine() -> Any:
    try:
        client = docker_client_from_settings(Settings.from_env())
        client.ping()
    except Exception as exc:  # any failure to reach the engine is one line for the user
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CommandError(f"cannot reach the Docker engine: {first}") from None
    return client


def _human(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _env_ls(args: argparse.Namespace) -> int:
    from airflow_provider_dsjobs.pyenv.cache import list_env_volumes

    envs = list_env_volumes(_engine(), with_size=args.size)
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


def _env_clear(args: argparse.Namespace) -> int:
    from airflow_provider_dsjobs.pyenv.cache import clear_env_volumes

    if not args.hash and not args.all:
        raise CommandError("name the environment to remove with --hash H, or remove all with --all", EXIT_USAGE)
    if args.hash and args.all:
        raise CommandError("--hash and --all cannot be used together", EXIT_USAGE)
    report = clear_env_volumes(_engine(), env_hash=args.hash, clear_all=args.all)
    for name in report.removed:
        print(f"removed {name}")
    for name, reason in report.kept:
        print(f"kept {name}: {reason}", file=sys.stderr)
    if args.hash and not report.removed and not report.kept:
        raise CommandError(f"no cached Python environment has a hash starting with {args.hash}")
    return 1 if report.kept else 0


def _generate_requirements(args: argparse.Namespace) -> int:
    base = Path.cwd()
    entries = [EntryPoint("file", str(Path(s))) for s in args.scripts]
    try:
        index = DistributionIndex()
        analysis = analyze_imports(entries, base, is_installed=index.is_installed)
        resolution = resolve_imports(analysis.third_party, index=index, base_dir=base.resolve())
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


def register(subparsers: Any) -> None:
    env = subparsers.add_parser("env", help="manage cached Python environments (Docker volumes)")
    env_sub = env.add_subparsers(dest="env_command", metavar="COMMAND", required=True)
    ls = env_sub.add_parser("ls", help="list cached Python environments")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    ls.add_argument("--size", action="store_true", help="also show disk usage (measures every volume; slower)")
    ls.set_defaults(func=_env_ls)
    clear = env_sub.add_parser("clear", help="remove cached Python environments")
    clear.add_argument("--hash", metavar="H", help="remove the environment whose hash starts with H")
    clear.add_argument("--all", action="store_true", help="remove every cached environment not in use")
    clear.set_defaults(func=_env_clear)
    from airflow_provider_dsjobs.cli.lab_commands import register_env_build

    register_env_build(env_sub)

    gen = subparsers.add_parser(
        "generate-requirements",
        help="print the pinned requirements auto mode would install for SCRIPT...",
        description="Analyse the imports of the scripts statically (nothing is run) and print pinned "
        "requirements from this Python environment, as env.python: auto would install them.",
    )
    gen.add_argument("scripts", nargs="+", metavar="SCRIPT")
    gen.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    gen.set_defaults(func=_generate_requirements)
