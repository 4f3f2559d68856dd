"""Benchmarks: run with ``bench/run.sh`` (all) or ``python -m bench.bench_<name>`` (one)."""
