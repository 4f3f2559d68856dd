"""A real api-server for the plugin's tests: one process per session, SQLite metadata database, the simple
auth manager with three users (``admin``; ``op``, who may read connections; ``viewer``, who may not), the provider
installed as it ships (its plugin comes in through the provider info). Jobs are submitted in the test process to
the same embedded store the server reads. The server knows the project's secrets, a ``secret-id`` and the
connection's ``LAB_API_TOKEN`` (``helpers.SECRETS``); a second, multi-team server (``teams_server``) has two teams.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.jobs.service import JobService
from tests.airflow.plugins.helpers import (
    FOLLOW_CAP,
    FOLLOW_SECONDS,
    LAB_TOKEN,
    PASSWORDS,
    PROJECT_SECRETS,
    SECRET_IDS,
    ApiServer,
    run_echo,
    with_resources,
)
from tests.helpers import free_port, unavailable
from tests.servers import stop_process

#: A second connection, to another project in the same store.
OTHER_CONN = {"conn_type": "dsjobs", "extra": {"project": "other"}}
#: A connection of another type, with a password and an address a dsjobs page must never use or show.
NOT_DSJOBS_CONN = {
    "conn_type": "aws",
    "login": "AKIANOTFORPAGES",
    "password": "aws-secret-not-for-pages",
    "extra": {"endpoint_url": "http://10.9.8.7:9000", "project": "default"},
}
#: A dsjobs connection whose store and engine cannot be reached (the page errors must not name them).
BROKEN_CONN = {
    "conn_type": "dsjobs",
    "extra": {
        "store_url": "s3://hidden-bucket-7c1/jobs-prefix",
        "endpoint_url": "http://127.0.0.1:9",
        "docker_url": "tcp://127.0.0.1:9",
        "docker_allow_insecure": True,  # the TLS rule aside: an engine that is simply not there
        "region_name": "us-east-1",
    },
    "login": "AKIABROKEN",
    "password": "broken-store-secret",
}
#: A dsjobs connection to the working local store whose Docker engine cannot be reached.
BROKEN_ENGINE_CONN = {
    "conn_type": "dsjobs",
    "extra": {"docker_url": "tcp://127.0.0.1:9", "docker_allow_insecure": True},
}


def _server_env(home: Path, test_image: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__", "DSJOBS_"))}
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    (home / "dags").mkdir()
    env.update(
        AIRFLOW_HOME=str(home / "airflow"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin,viewer:viewer,op:op",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="False",
        AIRFLOW__API_AUTH__JWT_SECRET="dsjobs-plugin-tests-jwt-secret-0123456789",
        AIRFLOW__API__SECRET_KEY="dsjobs-plugin-tests-secret-key",
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__CORE__LAZY_LOAD_PLUGINS="False",
        AIRFLOW_CONN_DSJOBS_OTHER=json.dumps(OTHER_CONN),
        AIRFLOW_CONN_NOT_DSJOBS=json.dumps(NOT_DSJOBS_CONN),
        AIRFLOW_CONN_DSJOBS_BROKEN=json.dumps(BROKEN_CONN),
        AIRFLOW_VAR_DSJOBS_PROJECT_SECRETS_DEFAULT=json.dumps(PROJECT_SECRETS),
        DSJOBS_LAB_API_TOKEN=LAB_TOKEN,
        AIRFLOW_CONN_DSJOBS_BROKEN_ENGINE=json.dumps(BROKEN_ENGINE_CONN),
        # where a secret-id resolves in Airflow: the Variable dsjobs_secret_<ID> (SECURITY.md)
        **{f"AIRFLOW_VAR_DSJOBS_SECRET_{name.upper()}": value for name, value in SECRET_IDS.items()},
        DSJOBS_HOME=str(home / "dsjobs"),
        DSJOBS_DEFAULT_IMAGE=test_image,
        DSJOBS_HASH_CACHE="0",
        # More live log streams than the api-server's shared pool has threads (40): they must not use it.
        DSJOBS_MAX_LOG_FOLLOWS=str(FOLLOW_CAP),
        DSJOBS_LOG_FOLLOW_SECONDS=str(FOLLOW_SECONDS),
    )
    for name in ("DSJOBS_DOCKER_URL", "DOCKER_HOST"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the api-server exited ({proc.returncode}): {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the api-server did not answer within {timeout:.0f} s: {log.read_text(errors='replace')[-2000:]}")


@contextlib.contextmanager
def _serving(airflow: str, env: dict[str, str], log: Path) -> Iterator[str]:
    """``airflow api-server`` on a free port with ``env``; yields its URL and stops it afterwards."""
    port = free_port()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        stop_process(proc, timeout=30)


def _airflow() -> str:
    airflow = shutil.which("airflow") or str(Path(sys.executable).with_name("airflow"))
    if not Path(airflow).exists():
        unavailable("airflow CLI", "DSJOBS_REQUIRE_DOCKER", "apache-airflow is not installed")
    return airflow


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory, test_image: str) -> Iterator[ApiServer]:
    """``airflow api-server`` on a free port, with its own home, database and job store; logins required."""
    airflow = _airflow()
    home = tmp_path_factory.mktemp("api-server")
    env = _server_env(home, test_image)
    migrate = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=600)
    assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-2000:]
    log = home / "api-server.log"
    with _serving(airflow, env, log) as url:
        yield ApiServer(url=url, env=env, log=log)


@pytest.fixture(scope="session")
def all_admins_server(api_server: ApiServer) -> Iterator[ApiServer]:
    """A second api-server on the same database and store with ``simple_auth_manager_all_admins`` on."""
    env = {**api_server.env, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"}
    log = api_server.log.with_name("api-server-all-admins.log")
    with _serving(_airflow(), env, log) as url:
        yield ApiServer(url=url, env=env, log=log)


@pytest.fixture()
def server_service(api_server: ApiServer) -> Iterator[JobService]:
    """A JobService on the store the api-server reads (project ``default``); cancels what a test left running."""
    service = JobService(api_server.settings())
    yield service
    for record in service.list_jobs():
        if not record.status.terminal:
            with contextlib.suppress(Exception):  # best-effort cleanup of this test's containers
                service.cancel(record.id, graceful=False)
    service.close()


@pytest.fixture(scope="session")
def resourced_job(api_server: ApiServer) -> JobRecord:
    """A finished echo job whose record says it got working storage and synced two read-write s3-mounts back,
    one of them failed (``helpers.GRANT``, ``helpers.SYNCS``)."""
    service = JobService(api_server.settings())
    try:
        return with_resources(service, run_echo(service))
    finally:
        service.close()


#: The two teams of the multi-team server, each with a DAG bundle of one DAG (``dag_<team>``).
TEAMS = ("team_a", "team_b")
_TEAM_DAG = """\
from airflow.sdk import DAG, task

with DAG("dag_{team}", schedule=None):

    @task
    def noop():
        pass

    noop()
"""


def _teams_env(home: Path, test_image: str) -> dict[str, str]:
    """``[core] multi_team`` on, one local DAG bundle per team, ``alice`` (team_a) and ``bob`` (team_b) with the
    User role (they may see and change their team's DAGs), and ``admin``."""
    env = _server_env(home, test_image)
    bundles = []
    for team in TEAMS:
        folder = home / f"dags_{team}"
        folder.mkdir()
        (folder / f"dag_{team}.py").write_text(_TEAM_DAG.format(team=team))
        bundles.append(
            {
                "name": f"bundle_{team}",
                "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                "kwargs": {"path": str(folder), "refresh_interval": 0},
                "team_name": team,
            }
        )
    env.update(
        AIRFLOW__CORE__MULTI_TEAM="True",
        AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST=json.dumps(bundles),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin,alice:user:team_a,bob:user:team_b",
    )
    return env


def _airflow_cli(airflow: str, env: dict[str, str], *args: str) -> None:
    done = subprocess.run([airflow, *args], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (args, done.stdout[-2000:] + done.stderr[-2000:])


@pytest.fixture(scope="session")
def teams_server(tmp_path_factory: pytest.TempPathFactory, test_image: str) -> Iterator[ApiServer]:
    """A multi-team api-server with its own database and store: the teams and their DAGs in the database (as
    the dag processor leaves them), and a dsjobs connection ``dsjobs_team_a`` owned by team_a."""
    airflow = _airflow()
    home = tmp_path_factory.mktemp("teams-server")
    env = _teams_env(home, test_image)
    _airflow_cli(airflow, env, "db", "migrate")
    _airflow_cli(airflow, env, "teams", "sync")
    _airflow_cli(airflow, env, "dags", "reserialize")
    with _serving(airflow, env, home / "api-server.log") as url:
        server = ApiServer(url=url, env=env, log=home / "api-server.log")
        body = {"connection_id": "dsjobs_team_a", "conn_type": "dsjobs", "extra": "{}", "team_name": "team_a"}
        status, _, answer = server.request("/api/v2/connections", method="POST", body=body)
        assert status == 201, answer[:500]
        yield server
