#!/usr/bin/env bash
# Run every benchmark (or only those named: bench/run.sh docker staging), writing bench/results/<name>.md.
# Sets up like scripts/test.sh: virtualenv, Docker engine, test image. Exit 1 if any benchmark failed.
# All of them take about 10 minutes on 2 cores. On a machine that is already set up, skip the set-up with
# DSJOBS_BENCH_NO_SETUP=1 and pick the interpreter with PYTHON=/path/to/python.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO"

if [ "${DSJOBS_BENCH_NO_SETUP:-0}" = "1" ]; then
    PYTHON="${PYTHON:-python3}"
else
    "$REPO/scripts/bootstrap.sh"
    use_venv
    "$REPO/scripts/ensure-docker.sh"
    "$REPO/scripts/build-test-image.sh" bookworm
    PYTHON="${PYTHON:-python}"
fi
export DSJOBS_TEST_IMAGE="${DSJOBS_TEST_IMAGE:-dsjobs-test/python:3.11}"

if [ "$#" -gt 0 ]; then
    names=("$@")
else
    # The floor first, then the rest; bench_staging.py also holds helpers the others import.
    names=(docker staging throughput job pyenv)
    for file in bench/bench_*.py; do
        name="${file#bench/bench_}"
        name="${name%.py}"
        case " ${names[*]} " in *" $name "*) ;; *) names+=("$name") ;; esac
    done
fi

failed=()
all_started=$SECONDS
for name in "${names[@]}"; do
    echo "== bench_$name"
    started=$SECONDS
    "$PYTHON" -m "bench.bench_$name" || failed+=("$name")
    echo "== bench_$name: $((SECONDS - started)) s"
done
echo "bench/run.sh: ${#names[@]} benchmark(s) in $((SECONDS - all_started)) s"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "bench/run.sh: FAILED: ${failed[*]}"
    exit 1
fi
echo "bench/run.sh: done; results in bench/results/"
