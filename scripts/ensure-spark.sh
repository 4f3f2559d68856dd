#!/usr/bin/env bash
# Everything the Spark Connect tests need, from PyPI and Debian only (no Maven, no Spark download site):
#   * Java (Debian's openjdk-17-jre-headless when `java` is missing);
#   * the Spark Connect server: the `pyspark` package from PyPI, whose jars include spark-connect, installed into
#     $DSJOBS_WORK/spark/venv (its bin/spark-submit runs org.apache.spark.sql.connect.service.SparkConnectServer);
#   * a job image with a pyspark Connect client, IMAGE (default dsjobs-test/pyspark-client:<version>): the test
#     image plus a virtualenv /opt/pyspark installed from a local wheelhouse of `pyspark-client` and its
#     dependencies (grpcio, pyarrow, pandas < 3 as pyspark asks, ...; about 100 MB), since a job's container
#     reaches no index.
# Idempotent: each part is skipped when it is there (a stamp names the version). Prints `SPARK_HOME IMAGE`.
# Usage: scripts/ensure-spark.sh [IMAGE]. DSJOBS_SPARK_VERSION overrides the version (default 4.2.0).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

version="${DSJOBS_SPARK_VERSION:-4.2.0}"
image="${1:-dsjobs-test/pyspark-client:$version}"
base_image="${DSJOBS_TEST_IMAGE:-dsjobs-test/python:3.11}"
root="$WORK/spark"
venv="$root/venv"
wheels="$root/wheels-$version"
mkdir -p "$root" "$WORK/logs"
pip_log="$WORK/logs/spark-pip.log"
exec 9>"$root/ensure.lock"
flock 9

command -v java >/dev/null 2>&1 || apt_install openjdk-17-jre-headless
java -version >/dev/null 2>&1 || die "java does not run; see $WORK/logs/apt.log"

if [ "$(cat "$venv/.dsjobs-pyspark" 2>/dev/null)" != "$version" ]; then
    log "installing pyspark $version (the Spark Connect server; ~450 MB, built once, then from the pip cache) into $venv"
    start=$(now)
    rm -rf "$venv"
    python3 -m venv "$venv" || die "could not create $venv (python3-venv missing?)"
    "$venv/bin/python" -m pip install --no-deps "pyspark==$version" >"$pip_log" 2>&1 \
        || die "pip install pyspark==$version failed; see $pip_log"
    echo "$version" >"$venv/.dsjobs-pyspark"
    log "pyspark installed in $(($(now) - start)) s"
fi
spark_home="$("$venv/bin/python" -c 'import importlib.util as u, os; print(os.path.dirname(u.find_spec("pyspark").origin))')"
ls "$spark_home"/jars/spark-connect_*.jar >/dev/null 2>&1 || die "pyspark $version ships no spark-connect jar"

"$REPO/scripts/ensure-docker.sh"
if ! docker image inspect "$image" >/dev/null 2>&1; then
    docker image inspect "$base_image" >/dev/null 2>&1 || die "no $base_image: run scripts/build-test-image.sh"
    start=$(now)
    if [ ! -f "$wheels/.complete" ]; then
        log "building a wheelhouse of pyspark-client $version for the job image in $wheels"
        rm -rf "$wheels"
        "$venv/bin/python" -m pip wheel --no-deps -w "$wheels" "pyspark-client==$version" >>"$pip_log" 2>&1 \
            || die "could not build pyspark-client $version; see $pip_log"
        py="$(docker run --rm "$base_image" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        "$venv/bin/python" -m pip download --only-binary=:all: --implementation cp --python-version "$py" \
            --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
            -d "$wheels" "$wheels"/pyspark_client-*.whl "pandas<3" >>"$pip_log" 2>&1 \
            || die "could not download pyspark-client's dependencies for Python $py; see $pip_log"
        touch "$wheels/.complete"
    fi
    log "building $image from $base_image with pyspark-client $version"
    builder="dsjobs-spark-build-$$"
    trap 'docker rm -f "$builder" >/dev/null 2>&1 || true' EXIT
    docker run --name "$builder" -v "$wheels:/wheels:ro" "$base_image" sh -c \
        "python3 -m venv /opt/pyspark && /opt/pyspark/bin/pip install -q --no-index --find-links /wheels pyspark-client" \
        >>"$pip_log" 2>&1 || die "installing pyspark-client into $base_image failed; see $pip_log"
    docker commit --change 'ENV PATH=/opt/pyspark/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'LABEL dsjobs.test=pyspark-client' "$builder" "$image" >/dev/null
    log "built $image in $(($(now) - start)) s"
fi
echo "$spark_home $image"
