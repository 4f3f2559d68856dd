#!/usr/bin/env bash
# Run every bench/bench_*.py (or only those named: bench/run.sh docker), writing bench/results/<name>.md.
# Sets up like scripts/test.sh: virtualenv, Docker engine, test image. Exit 1 if any benchmark failed.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO"

"$REPO/scripts/bootstrap.sh"
use_venv
"$REPO/scripts/ensure-docker.sh"
"$REPO/scripts/build-test-image.sh" bookworm
export DSJOBS_TEST_IMAGE="${DSJOBS_TEST_IMAGE:-dsjobs-test/python:3.11}"

if [ "$#" -gt 0 ]; then
    names=("$@")
else
    names=()
    for file in bench/bench_*.py; do
        name="${file#bench/bench_}"
        names+=("${name%.py}")
    done
fi

failed=()
for name in "${names[@]}"; do
    echo "== bench_$name"
    python -m "bench.bench_$name" || failed+=("$name")
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "bench/run.sh: FAILED: ${failed[*]}"
    exit 1
fi
echo "bench/run.sh: done; results in bench/results/"
