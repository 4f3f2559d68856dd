#!/usr/bin/env bash
# The test command (CI runs exactly this through .ci/run): set up, then lint, type-check, build the docs, run the
# test suite against a real Docker engine and a real S3 endpoint, and run the opted-in example DAGs under
# `airflow dags test`.
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
"$REPO/scripts/ensure-chromium.sh"
# The Spark Connect server (pyspark from PyPI) and the job image with its client, for tests/resources/test_spark.py.
spark="$("$REPO/scripts/ensure-spark.sh")"
read -r DSJOBS_TEST_SPARK_HOME DSJOBS_TEST_SPARK_IMAGE <<<"$spark"
export DSJOBS_TEST_SPARK_HOME DSJOBS_TEST_SPARK_IMAGE

# Missing Docker, S3, the browser, the Spark Connect server or the distributed deployment (tests/deployment:
# PostgreSQL, Redis, Celery workers, started by the tests through scripts/deployment/up.sh and stopped again) is a
# failure here, never a skip.
export DSJOBS_REQUIRE_DOCKER=1 DSJOBS_REQUIRE_S3=1 DSJOBS_REQUIRE_BROWSER=1 DSJOBS_REQUIRE_DEPLOYMENT=1
export DSJOBS_REQUIRE_SPARK=1
# A second Docker engine (own socket, roots and bridge) for the tests of jobs owned by another engine.
"$REPO/scripts/ensure-second-engine.sh" >/dev/null || log "the second Docker engine did not start: its tests fail"
export DSJOBS_REQUIRE_SECOND_ENGINE=1
# Lazy (FUSE) S3 mounts: the s3fs image and a shared mount root (tests/jobs/test_s3_lazy_mounts.py).
lazy="$("$REPO/scripts/ensure-lazy-mounts.sh")" || log "lazy S3 mounts cannot be prepared: their tests fail"
if [ -n "$lazy" ]; then
    read -r DSJOBS_S3FS_IMAGE DSJOBS_LAZY_MOUNT_ROOT <<<"$lazy"
    export DSJOBS_S3FS_IMAGE DSJOBS_LAZY_MOUNT_ROOT
fi
export DSJOBS_REQUIRE_FUSE=1
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
# The docs (mkdocs.yml, docs/): the CLI and config.yaml references are generated from the code here, and any
# warning (a broken link or anchor, a page missing from the nav) fails the step (never --quiet: it hides them and
# the build passes). Offline: the plain theme.
step "docs" mkdocs build --strict --site-dir "$WORK/site"
step "pytest" python -m pytest -q -p no:cacheprovider --durations=15 "$@"

# Example DAGs (ids in scripts/example-dags.txt) under `airflow dags test` on the real engine; the pipeline DAG
# runs against S3 (a moto server the script starts on 127.0.0.1).
step "example DAGs" "$REPO/scripts/run-example-dags.sh"

# The oldest Airflow the provider supports (docs/howto/airflow-versions.md), each in a venv of its own
# (scripts/ensure-airflow-venv.sh): the tests that import Airflow and the example DAGs again.
# DSJOBS_AIRFLOW_VERSIONS="" leaves them out; several versions are separated by spaces.
AIRFLOW_TESTS=(tests/airflow tests/test_packaging.py tests/test_sdk.py)
for version in ${DSJOBS_AIRFLOW_VERSIONS-3.0.6}; do
    printf "\n== venv (Airflow %s)\n" "$version"
    if ! venv="$("$REPO/scripts/ensure-airflow-venv.sh" "$version")"; then
        failed+=("venv (Airflow $version)")
        continue
    fi
    step "pytest (Airflow $version)" env VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" \
        "$venv/bin/python" -m pytest -q -p no:cacheprovider --durations=5 "${AIRFLOW_TESTS[@]}"
    step "example DAGs (Airflow $version)" "$REPO/scripts/run-example-dags.sh" --venv "$venv"
done

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
