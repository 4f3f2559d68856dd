#!/usr/bin/env bash
# A second virtualenv with another Airflow release, for running the Airflow tests and the example DAGs on it:
#   scripts/ensure-airflow-venv.sh 3.0.6      -> prints the venv's path, _work/venv-airflow-3.0.6
# Installs apache-airflow==<version>, the providers this package needs at releases that still install on that
# Airflow, and this package in editable mode with its test, amazon and openlineage extras. Idempotent: a stamp keyed on the
# version, pyproject.toml, this script and the Python version makes a second run take well under a second.
# Only PyPI is reachable (Airflow's constraint files live on GitHub), so the pins below stand in for them.
# Override the interpreter with PYTHON=...; log: $DSJOBS_WORK/logs/venv-airflow-<version>.log.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "$#" -eq 1 ] || die "usage: $(basename "$0") <airflow version>, e.g. 3.0.6"
version="$1"
[[ "$version" =~ ^3\.[0-9]+\.[0-9]+$ ]] || die "airflow version '$version' is not a 3.x.y release number (e.g. 3.0.6)"

PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found: install Python 3.10 or newer"
venv="$WORK/venv-airflow-$version"

# Pins for an Airflow 3.0 install, where the newest release of a dependency no longer works with it.
pins=()
case "$version" in
    3.0.*)
        # The execution API of 3.0 answers its own task runner 422 with cadwyn 6+ and the FastAPI/Starlette/
        # pydantic releases newer than it (the ranges of its time; its constraints file is not reachable).
        pins=(
            "cadwyn>=5.2.1,<5.5"
            "fastapi[standard]>=0.115,<0.117"
            "starlette<0.48"
            "pydantic>=2.11,<2.12"
            "structlog>=25.4,<25.5"
            # 3.0's get_fernet sets an attribute on MultiFernet, which newer cryptography refuses (51 does, 45
            # works): every connection read with a fernet key set fails.
            "cryptography>=41,<46"
            # 3.0 signs its JWTs with iss=None unless [api_auth] jwt_issuer is set; newer PyJWT (2.15) refuses that.
            "pyjwt>=2.10,<2.11"
        )
        ;;
esac

if [ ! -x "$venv/bin/python" ]; then
    log "creating virtualenv $venv"
    "$PYTHON" -m venv "$venv" || die "could not create a virtualenv with $PYTHON"
fi

stamp="$venv/.dsjobs-airflow-venv"
want="$(cat "$REPO/pyproject.toml" "${BASH_SOURCE[0]}" <(echo "$version") <("$venv/bin/python" -VV) \
    | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "$venv"
    exit 0
fi

mkdir -p "$WORK/logs"
pip_log="$WORK/logs/venv-airflow-$version.log"
log "installing apache-airflow==$version and the project's test extras into $venv (log: $pip_log)"
start=$(now)
if ! "$venv/bin/python" -m pip install --disable-pip-version-check \
    "apache-airflow==$version" "${pins[@]}" -e "$REPO[amazon,openlineage,test]" >"$pip_log" 2>&1; then
    tail -n 20 "$pip_log" >&2
    die "pip install failed; full log: $pip_log"
fi
got="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("apache-airflow-core"))')"
[ "$got" = "$version" ] || die "pip installed apache-airflow-core $got, not $version; see $pip_log"
echo "$want" >"$stamp"
log "installed in $(($(now) - start)) s"
echo "$venv"
