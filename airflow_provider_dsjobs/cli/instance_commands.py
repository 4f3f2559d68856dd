"""``dsjobs instance-types``: the instance type catalog (built-in names plus ``DSJOBS_INSTANCE_TYPES``'s) and
what the engine can give each one now."""

from __future__ import annotations

import argparse
import json

from airflow_provider_dsjobs.cli.errors import EXIT_OK, CommandError
from airflow_provider_dsjobs.cli.job_commands import settings_from_args


def cmd_instance_types(args: argparse.Namespace) -> int:
    from airflow_provider_dsjobs.runtime.containers import Runtime
    from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
    from airflow_provider_dsjobs.runtime.resources import place_instance_types

    settings = settings_from_args(args)
    try:
        runtime = Runtime.connect(settings)
        engine, load = runtime.engine_info(), runtime.engine_load()
    except RuntimeFailure as exc:
        raise CommandError(str(exc)) from None
    rows = []
    for profile in settings.instance_catalog.values():
        try:
            choice = place_instance_types([profile], engine, load).choices[0]
            now = "capped: " + choice.note.partition("(")[2].rstrip(")") if choice.note.startswith("no ") else "fits"
        except RuntimeFailure as exc:
            now = str(exc).partition("; tried ")[2].partition(": ")[2] or str(exc)
        rows.append({**profile.to_dict(), "now": now})
    free = {
        "cpus": engine.cpus,
        "memory_bytes": engine.memory_bytes,
        "gpu_support": engine.gpu_support,
        "gpu_models": list(engine.gpu_models),
        "running_containers": load.containers,
        "cpus_held": load.cpus,
        "memory_bytes_held": load.memory_bytes,
    }
    if args.format == "json":
        print(json.dumps({"engine": free, "instance_types": rows}, indent=2))
        return EXIT_OK
    print(
        f"engine: {engine.cpus} CPUs, {engine.memory_bytes / (1 << 30):.1f} GiB, "
        f"GPUs: {', '.join(engine.gpu_models) or ('yes' if engine.gpu_support else 'none')}; "
        f"{load.containers} container(s) running hold {load.cpus:g} CPUs, {load.memory_bytes / (1 << 30):.1f} GiB"
    )
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        gpu = f"{row['gpus']}x{row['gpu_model'] or 'GPU'}" if row["gpus"] else "-"
        memory, shm = row["memory_bytes"] / (1 << 30), row["shm_bytes"] / (1 << 30)
        print(
            f"{row['name']:<{width}}  {row['cpus']:>6g} CPUs  {memory:>7.1f} GiB  shm {shm:>6.1f} GiB  "
            f"{gpu:<8}  {row['now']}"
        )
    return EXIT_OK
