"""A real, distributed Airflow deployment for scenario tests, driven from Python.

``scripts/deployment/up.sh`` starts it (every process by PID, on 127.0.0.1, free ports): PostgreSQL as the
metadata database, Redis as the Celery broker, a moto S3 server holding the job store, TLS listeners for two
Docker engines (client certificates required), and Airflow 3.3 as separate services — api-server, scheduler,
dag-processor, triggerer and two Celery workers ``worker-a`` and ``worker-b``. Each service has its own
``AIRFLOW_HOME``, ``DSJOBS_HOME`` and working directory; they share only the database, the broker and the store.
Each worker has its own engine: ``worker-a`` engine-a (the machine's first engine), ``worker-b`` engine-b (a second
dockerd, ``scripts/ensure-second-engine.sh``); its ``dsjobs_default`` connection (in its environment) names its
engine and maps the other one. The connection in the database (api-server, triggerer) is engine-a's, with engine-b
in its map.

Scenario DAGs live in ``tests/deployment/dags/`` (served as ``scenarios/`` in the deployment's DAG folder, next
to ``dags_examples/`` as ``examples/``); a new file there is parsed within ~15 s and :meth:`Deployment.trigger`
waits for it. Task placement: every worker consumes the ``default`` queue and a queue named after itself, so
``queue="worker-a"`` pins a task to ``worker-a``; task instances' ``hostname`` is the worker's name.

Typical use (the ``deployment`` fixture in ``conftest.py`` gives one instance to the whole session)::

    run_id = deployment.trigger("deploy_pipeline", conf={"rows": 10})
    assert deployment.wait_for_run("deploy_pipeline", run_id, timeout=300) == "success"
    tis = deployment.task_instances("deploy_pipeline", run_id)
    result = deployment.xcom("deploy_pipeline", run_id, "make_features")
    log = deployment.task_log("deploy_pipeline", run_id, "make_features")
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts" / "deployment"
#: Terminal DAG-run states.
FINISHED = ("success", "failed")
#: Environment variables of the caller that never reach the deployment's scripts (its configuration is its own).
_PRIVATE_PREFIXES = ("AIRFLOW", "DSJOBS_", "DOCKER_", "AWS_")
_PASSED_THROUGH = (
    "DSJOBS_WORK",
    "DSJOBS_VENV",
    "DSJOBS_TEST_IMAGE",
    "DSJOBS_DEPLOY_DIR",
    "DSJOBS_DEPLOY_CONCURRENCY",
    "DSJOBS_DEPLOY_DOCKER_PORT",
)


class DeploymentError(RuntimeError):
    """The deployment could not be started, or did not answer as expected."""


def deploy_dir() -> Path:
    """Where the deployment keeps its state (``$DSJOBS_DEPLOY_DIR``, default ``_work/deployment``)."""
    work = Path(os.environ.get("DSJOBS_WORK") or REPO / "_work")
    return Path(os.environ.get("DSJOBS_DEPLOY_DIR") or work / "deployment")


def _script_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_PREFIXES) or k in _PASSED_THROUGH}
    return env


def run_script(name: str, *args: str, timeout: float = 900) -> str:
    """Run ``scripts/deployment/NAME`` with a clean environment; its combined output, or DeploymentError."""
    try:
        done = subprocess.run(
            [str(SCRIPTS / name), *args],
            env=_script_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DeploymentError(f"{name} {' '.join(args)} did not finish within {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise DeploymentError(f"{name} {' '.join(args)} failed (exit {done.returncode}):\n{done.stdout[-3000:]}")
    return done.stdout


def _load_script_module(name: str) -> ModuleType:
    """A module of scripts/deployment/ (which is not a package), e.g. ``wait_ready``."""
    spec = importlib.util.spec_from_file_location(f"dsjobs_deployment_{name}", SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: ``state.env`` (``KEY='value'`` lines written by up.sh) as a dict; the one reader, shared with wait_ready.py.
read_state: Callable[[Path], dict[str, str]] = _load_script_module("wait_ready").read_state


class Deployment:
    """A running deployment (see the module docstring). Build it with :meth:`up`; :meth:`down` stops it.

    Attributes:
        api_url: the api-server, e.g. ``http://127.0.0.1:41234`` (REST API under ``/api/v2``; no login needed,
            the simple auth manager treats every caller as admin).
        store_url: the job store, ``s3://<bucket>/store`` on the moto server.
        s3_endpoint: the moto server's URL; :attr:`s3_credentials` are the connection's key pair.
        docker_url: the engine's TLS listener, ``tcp://127.0.0.1:2376`` (another free port when 2376 is taken).
        docker: a docker SDK client over that listener, with the harness's client certificate.
        workers: the Celery workers' names (``["worker-a", "worker-b"]``), also their queues and hostnames.
        conn_id: the dsjobs connection every task uses (``dsjobs_default``).
        directory: the deployment's state directory; ``logs/<service>.log`` holds each service's output.
    """

    def __init__(self, state_file: Path) -> None:
        self.state_file = state_file
        self.state = read_state(state_file)
        self.directory = Path(self.state["DEPLOY"])
        self.api_url = self.state["API_URL"]
        self.store_url = self.state["STORE_URL"]
        self.s3_endpoint = self.state["S3_ENDPOINT"]
        self.s3_credentials = (self.state["S3_ACCESS_KEY"], self.state["S3_SECRET_KEY"])
        self.docker_url = self.state["DOCKER_URL"]
        #: Each worker's engine by name, and its TLS listener.
        self.engine_urls = {"engine-a": self.docker_url, "engine-b": self.state["DOCKER_B_URL"]}
        self.engine_of = {"worker-a": "engine-a", "worker-b": "engine-b"}
        self.tls_dir = Path(self.state["TLS_DIR"])
        self.workers = self.state["WORKERS"].split()
        self.conn_id = self.state["CONN_ID"]
        self.job_image = self.state["JOB_IMAGE"]

    # -- lifecycle -------------------------------------------------------------------------------------------

    @classmethod
    def up(cls, timeout: float = 900) -> Deployment:
        """Start the deployment (or reuse one already up) and return it once every service is ready."""
        run_script("up.sh", timeout=timeout)
        return cls(deploy_dir() / "state.env")

    @staticmethod
    def is_up() -> bool:
        """True when a deployment's state exists and its api-server answers."""
        state_file = deploy_dir() / "state.env"
        if not state_file.exists():
            return False
        try:
            Deployment(state_file)._request("GET", "/api/v2/monitor/health")
        except (DeploymentError, OSError, KeyError):
            return False
        return True

    def down(self) -> None:
        """Cancel the jobs still active in the deployment's store (their containers are on the shared engine),
        then stop every process of the deployment by its recorded PID (state and logs are kept)."""
        try:
            self.cancel_active_jobs()
        finally:
            run_script("down.sh", timeout=300)

    def cancel_active_jobs(self) -> list[str]:
        """Cancel (at once, no grace period) every job of the store that has not ended; returns their ids."""
        active = [r.id for r in self.jobs.list_jobs() if not r.status.terminal]
        for job_id in active:
            self.jobs.cancel(job_id, graceful=False)
        return active

    def pid(self, service: str) -> int | None:
        """The recorded PID (also the process group) of a service, or None when it is not running."""
        path = self.directory / "pids" / f"{service}.pid"
        try:
            pid = int(path.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    # -- workers ---------------------------------------------------------------------------------------------

    def kill_worker(self, name: str) -> None:
        """SIGKILL a Celery worker's whole process group (the worker, its pool and the task processes it runs):
        what a crashed machine looks like. Containers its tasks started keep running on the engine."""
        self._check_worker(name)
        run_script("service.sh", "kill", name, timeout=60)

    def start_worker(self, name: str, timeout: float = 180) -> None:
        """Start a worker (again) and wait until Celery reports it ready."""
        self._check_worker(name)
        log = self.directory / "logs" / f"{name}.log"
        offset = log.stat().st_size if log.exists() else 0
        run_script("service.sh", "start", name, timeout=60)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(log, "rb") as fh:
                fh.seek(offset)
                if b" ready." in fh.read():
                    return
            if self.pid(name) is None:
                raise DeploymentError(f"{name} exited during start-up; see {log}")
            time.sleep(1)
        raise DeploymentError(f"{name} not ready within {timeout:.0f} s; see {log}")

    def relay(self, engine: str) -> str:
        """The service that is an engine's TLS listener (``tls-relay`` for engine-a, ``tls-relay-b`` for engine-b)."""
        return {"engine-a": "tls-relay", "engine-b": "tls-relay-b"}[engine]

    def cut_off(self, engine: str) -> None:
        """Stop an engine's TLS listener: from the other machine it is out of reach (its jobs keep running)."""
        run_script("service.sh", "stop", self.relay(engine), timeout=60)

    def reconnect(self, engine: str) -> None:
        """Start an engine's TLS listener again."""
        run_script("service.sh", "start", self.relay(engine), timeout=60)

    def _check_worker(self, name: str) -> None:
        if name not in self.workers:
            raise ValueError(f"unknown worker {name!r} (workers: {', '.join(self.workers)})")

    # -- REST API --------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None, timeout: float = 60, attempts: int = 3) -> Any:
        """One REST call; a timeout or refused connection (the api-server is slow on a loaded machine) is tried
        again, ``attempts`` times in all; an HTTP error status is a DeploymentError at once."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.api_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        for attempt in range(1, attempts + 1):
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    payload = response.read()
                break
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode(errors="replace")[:1000]
                raise DeploymentError(f"{method} {path}: HTTP {exc.code}: {detail}") from None
            except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
                if attempt == attempts:
                    raise DeploymentError(f"{method} {path}: no answer after {attempts} tries: {exc}") from None
                time.sleep(2)
        return json.loads(payload) if payload else None

    def dag(self, dag_id: str, timeout: float = 120) -> dict[str, Any]:
        """The DAG's REST record, waiting up to ``timeout`` s for the dag-processor to have parsed it; a DAG file
        that does not import fails at once with its import error."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return dict(self._request("GET", f"/api/v2/dags/{_q(dag_id)}"))
            except DeploymentError as exc:
                if "HTTP 404" not in str(exc):
                    raise
            errors = self.import_errors()
            if errors:
                raise DeploymentError(f"DAG {dag_id!r} not found; import errors: {errors}")
            if time.monotonic() > deadline:
                raise DeploymentError(f"DAG {dag_id!r} was not parsed within {timeout:.0f} s")
            time.sleep(2)

    def import_errors(self) -> dict[str, str]:
        """DAG files that failed to import: file name → error."""
        body = self._request("GET", "/api/v2/importErrors?limit=100")
        return {e["filename"]: e["stack_trace"] for e in body.get("import_errors", [])}

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Unpause the DAG and start a run (``POST /api/v2/dags/{dag_id}/dagRuns``); returns its run id."""
        self.dag(dag_id)
        self._request("PATCH", f"/api/v2/dags/{_q(dag_id)}", {"is_paused": False})
        run = self._request("POST", f"/api/v2/dags/{_q(dag_id)}/dagRuns", {"logical_date": None, "conf": conf or {}})
        return str(run["dag_run_id"])

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """The DAG run's REST record (``state``, ``start_date``, ``end_date``, ``conf``, ...)."""
        return dict(self._request("GET", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}"))

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600) -> str:
        """Wait until the run is ``success`` or ``failed`` and return that state; DeploymentError after
        ``timeout`` s, naming the task instances' states."""
        deadline = time.monotonic() + timeout
        while True:
            state = str(self.run(dag_id, run_id)["state"])
            if state in FINISHED:
                return state
            if time.monotonic() > deadline:
                states = [(t["task_id"], t["map_index"], t["state"]) for t in self.task_instances(dag_id, run_id)]
                raise DeploymentError(f"run {run_id} of {dag_id} still {state} after {timeout:.0f} s: {states}")
            time.sleep(2)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of the run, mapped ones one per ``map_index``, as the REST API gives them: keys
        include ``task_id``, ``map_index``, ``state``, ``try_number``, ``hostname`` (the worker's name),
        ``queue``, ``start_date``, ``end_date``, ``duration``."""
        body = self._request("GET", f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances?limit=1000")
        return list(body["task_instances"])

    def task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        """One task instance's REST record (its latest try)."""
        suffix = f"/{map_index}" if map_index >= 0 else ""
        path = f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}{suffix}"
        return dict(self._request("GET", path))

    def tries(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[dict[str, Any]]:
        """Every try of a task instance (``try_number``, ``hostname``, ``state``, ...), oldest first."""
        suffix = f"/{map_index}" if map_index >= 0 else ""
        path = f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}{suffix}/tries"
        body = self._request("GET", path)
        return sorted(body["task_instances"], key=lambda t: t["try_number"])

    def mark_task(self, dag_id: str, run_id: str, task_id: str, state: str) -> None:
        """Set a task instance's state as a user does in the UI (``failed``, ``success``)."""
        path = f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}"
        self._request("PATCH", path, {"new_state": state})

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        """An XCom value, deserialized (a dict stays a dict); DeploymentError when there is none."""
        query = urllib.parse.urlencode({"map_index": map_index, "deserialize": "true", "stringify": "false"})
        path = f"/api/v2/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}/xcomEntries/{_q(key)}"
        return self._request("GET", f"{path}?{query}")["value"]

    # -- logs ------------------------------------------------------------------------------------------------

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1) -> str:
        """The log of one try exactly as Airflow wrote it (JSON lines, one event each), read from the services'
        own ``AIRFLOW_HOME/logs``: the task runner's part on the worker(s) that ran it — a deferred try that
        resumed on the other worker has a part on each — and, for a deferred try, the triggerer's part
        (``attempt=N.log.trigger.<id>.log``), which the UI shows within the task's log. Parts are joined in
        service-name order. Empty when no service has it."""
        return self._log_parts(dag_id, run_id, task_id, map_index, f"attempt={try_number}.log*")

    def trigger_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1) -> str:
        """Only the triggerer's part of one try's log (``attempt=N.log.trigger.<id>.log``): what it wrote while
        the task was deferred."""
        return self._log_parts(dag_id, run_id, task_id, map_index, f"attempt={try_number}.log.trigger.*")

    def _log_parts(self, dag_id: str, run_id: str, task_id: str, map_index: int, pattern: str) -> str:
        relative = Path(f"dag_id={dag_id}", f"run_id={run_id}", f"task_id={task_id}")
        if map_index >= 0:
            relative /= f"map_index={map_index}"
        parts = []
        for home in sorted((self.directory / "homes").iterdir()):
            folder = home / "airflow" / "logs" / relative
            parts += [path.read_text(errors="replace") for path in sorted(folder.glob(pattern))]
        return "".join(parts)

    def service_log(self, service: str) -> str:
        """A service's own output (``logs/<service>.log``)."""
        return (self.directory / "logs" / f"{service}.log").read_text(errors="replace")

    # -- engine and store ------------------------------------------------------------------------------------

    @cached_property
    def docker(self) -> Any:
        """A docker SDK client over engine-a's TLS listener (never the local socket)."""
        return self.docker_client(self.docker_url)

    @cached_property
    def dockers(self) -> dict[str, Any]:
        """A docker SDK client per engine (``engine-a``, ``engine-b``), over their TLS listeners."""
        return {
            name: (self.docker if url == self.docker_url else self.docker_client(url))
            for name, url in self.engine_urls.items()
        }

    def docker_client(self, url: str) -> Any:
        import docker
        import docker.tls

        tls = docker.tls.TLSConfig(
            client_cert=(str(self.tls_dir / "cert.pem"), str(self.tls_dir / "key.pem")),
            ca_cert=str(self.tls_dir / "ca.pem"),
            verify=True,
        )
        # A fixed API version (the engine's is not asked before trust_env is off): requests would otherwise let
        # REQUESTS_CA_BUNDLE replace the harness's CA (see runtime/engine.py's _APIClient).
        client = docker.DockerClient(base_url=url, tls=tls, timeout=60, version="1.41")
        client.api.trust_env = False
        client.ping()
        return client

    def containers(self, **labels: str) -> list[Any]:
        """Containers (running or not) on either engine whose labels include ``labels``, e.g.
        ``containers(**{"airflow.dag_id": "deploy_kill"})``; job containers carry ``airflow.dag_id``,
        ``airflow.task_id``, ``airflow.run_id`` and ``airflow.map_index``."""
        return [c for engine in self.engine_urls for c in self.engine_containers(engine, **labels)]

    def engine_containers(self, engine: str, **labels: str) -> list[Any]:
        """The ``containers`` of one engine (``engine-a``, ``engine-b``)."""
        import docker.errors

        client = self.dockers[engine]
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        found = []
        # Listed sparse, then inspected one by one: a container removed in between is simply gone.
        for sparse in client.containers.list(all=True, filters=filters, sparse=True):
            try:
                found.append(client.containers.get(sparse.id))
            except docker.errors.NotFound:
                continue
        return found

    def settings(self) -> Any:
        """Core ``Settings`` for the deployment's store and engine-a, with engine-b in the engine map, as the
        connection in the database gives them."""
        from airflow_provider_dsjobs.settings import EngineAddress, Settings

        key, secret = self.s3_credentials
        return Settings(
            store_url=self.store_url,
            s3_endpoint_url=self.s3_endpoint,
            s3_region="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            docker_url=self.docker_url,
            docker_tls_ca_cert=str(self.tls_dir / "ca.pem"),
            docker_tls_client_cert=str(self.tls_dir / "cert.pem"),
            docker_tls_client_key=str(self.tls_dir / "key.pem"),
            default_image=self.job_image,
            home=self.directory / "homes" / "harness" / "dsjobs",
            engine_name="engine-a",
            engines={
                "engine-b": EngineAddress(
                    self.engine_urls["engine-b"],
                    tls_ca_cert=str(self.tls_dir / "ca.pem"),
                    tls_client_cert=str(self.tls_dir / "cert.pem"),
                    tls_client_key=str(self.tls_dir / "key.pem"),
                )
            },
        )

    @cached_property
    def jobs(self) -> Any:
        """A core ``JobService`` on the deployment's store and engine, to read job records, logs and outputs
        (``jobs.get(job_id)``, ``jobs.list_jobs()``, ``jobs.find(labels)``)."""
        from airflow_provider_dsjobs.jobs.service import JobService

        return JobService(self.settings())

    def run_jobs(self, dag_id: str, run_id: str) -> list[Any]:
        """The job records in the store that a DAG run's tasks created (by their ``airflow.*`` labels)."""
        return [
            r
            for r in self.jobs.list_jobs()
            if r.labels.get("airflow.dag_id") == dag_id and r.labels.get("airflow.run_id") == run_id
        ]

    def object_versions(self, job_id: str, part: str = "outputs") -> dict[str, int]:
        """How many times each object under the job's ``part`` (``outputs``, ``logs``) was written: the bucket is
        versioned, so a second commit of the same output shows as a second version."""
        prefix = self.store_url.split("/", 3)[3].rstrip("/") + "/" if self.store_url.count("/") > 2 else ""
        counts: dict[str, int] = {}
        paginator = self.s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.state["BUCKET"], Prefix=prefix):
            for version in page.get("Versions", []):
                key = version["Key"]
                if f"/jobs/{job_id}/{part}/" in key:
                    counts[key] = counts.get(key, 0) + 1
        return counts

    @cached_property
    def s3(self) -> Any:
        """A boto3 S3 client on the moto server, with the connection's credentials."""
        import boto3

        key, secret = self.s3_credentials
        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )


def wait_until(predicate: Callable[[], T], timeout: float, what: str, interval: float = 1.0) -> T:
    """Call ``predicate`` until it returns something truthy and return that; DeploymentError naming ``what``
    after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DeploymentError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _q(part: str) -> str:
    return urllib.parse.quote(part, safe="")
