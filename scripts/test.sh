#!/usr/bin/env bash
# The test command (CI runs exactly this through .ci/run): set up, then lint, type-check, run the test suite
# against a real Docker engine and a real S3 endpoint, and run the opted-in example DAGs under `airflow dags test`.
# Every step runs even when an earlier one fails; the last line says which failed. Exit 0 only when all passed.
# Arguments are passed to pytest, e.g. `scripts/test.sh tests/config -x`.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"
started=$(now)

"$REPO/scripts/bootstrap.sh"
use_venv
"$REPO/scripts/ensure-docker.sh"
"$REPO/scripts/build-test-image.sh" bookworm

# Missing Docker or S3 is a failure here, never a skip.
export DSJOBS_REQUIRE_DOCKER=1 DSJOBS_REQUIRE_S3=1
export DSJOBS_TEST_IMAGE="${DSJOBS_TEST_IMAGE:-dsjobs-test/python:3.11}"

passed=()
failed=()
step() {
    local name="$1"
    shift
    printf "\n== %s: %s\n" "$name" "$*"
    local t0
    t0=$(now)
    if "$@"; then
        passed+=("$name")
        echo "test.sh: $name passed in $(($(now) - t0)) s"
    else
        failed+=("$name")
        echo "test.sh: $name FAILED in $(($(now) - t0)) s"
    fi
}

step "ruff check" ruff check .
step "ruff format" ruff format --check .
step "mypy" mypy
step "pytest" python -m pytest -q -p no:cacheprovider --durations=15 "$@"

# Example DAGs opted in by id, one per line, in scripts/example-dags.txt ('#' starts a comment).
mapfile -t dag_ids < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$REPO/scripts/example-dags.txt" | grep -v '^$' || true)
if [ "${#dag_ids[@]}" -gt 0 ]; then
    airflow_env
    # Hermetic examples: the locally built image, a store inside _work.
    export DSJOBS_HOME="${DSJOBS_HOME:-$WORK/example-dags-home}"
    export DSJOBS_DEFAULT_IMAGE="${DSJOBS_DEFAULT_IMAGE:-$DSJOBS_TEST_IMAGE}"
    export DSJOBS_PYTHON_IMAGE="${DSJOBS_PYTHON_IMAGE:-dsjobs-test/python:{version}}"
    for dag_id in "${dag_ids[@]}"; do
        step "dag $dag_id" airflow dags test "$dag_id"
    done
fi

join() {
    local text
    text="$(printf '%s, ' "$@")"
    text="${text%, }"
    echo "${text:-none}"
}
elapsed=$(($(now) - started))
if [ "${#failed[@]}" -eq 0 ]; then
    echo "test.sh: PASSED: $(join "${passed[@]}") (${elapsed} s)"
else
    echo "test.sh: FAILED: $(join "${failed[@]}") (passed: $(join "${passed[@]}"); ${elapsed} s)"
    exit 1
fi
