"""EXECUTE_CODE jobs end to end on the real engine: code from a ``git+file://`` repository made by the test (no git
or network in the image), a local directory or script, a store key; ``setup.sh`` → ``requirements.txt`` (a local
wheel into the cached env) → the code; the env cache reused by the next run and warmed by ``requirements_only``;
a failing ``setup.sh`` or an ``environment.yml`` without conda end the job ERROR with a one-line reason."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from airflow_provider_dsjobs.documents.record import JobStatus
from airflow_provider_dsjobs.lab import LabError, LabJobConfig, LabJobHandler
from tests.lab.git_https import TOKEN, GitHttpsServer
from tests.lab.helpers import commit, make_repo, write
from tests.pyenv.helpers import build_wheel

MAIN = """\
import os, sys
import tinylab
from helper import shout
print("cwd", os.getcwd())
print("setup ran", os.path.exists("/tmp/setup-ran"))
print(shout(os.environ["WHO"]), tinylab.VERSION, sys.prefix)
print("code at", os.environ["EXECUTE_CODE"])
"""


def _output(handler: LabJobHandler, job_id: str) -> list[str]:
    return [line for stream, line in handler.service.logs(job_id) if stream != "system"]


def _code_dir(root: Path) -> None:
    write(
        root,
        {
            "__main__.py": MAIN,
            "helper.py": "def shout(x):\n    return x.upper() + '!'\n",
            "setup.sh": "echo setup says hi\ntouch /tmp/setup-ran\n",
            "requirements.txt": "./wheels/tinylab-1.0-py3-none-any.whl\n",
        },
    )
    (root / "wheels").mkdir()
    build_wheel(root / "wheels", "tinylab", "1.0", {"tinylab.py": "VERSION = '1.0'\n"})


def test_git_code_with_setup_and_requirements(handler: LabJobHandler, lab_image: str, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, {"README": "top\n"})
    _code_dir(repo / "jobs" / "hello")
    head = commit(repo, {}, "the job")
    url = f"git+file://{repo}@main#subdirectory=jobs/hello"
    job = handler.run_job(LabJobConfig(image=lab_image, name="git-job", execute_code=url, params={"WHO": "lab"}))
    out = _output(handler, job.id)
    assert job.status == JobStatus.SUCCESS, out
    assert "setup says hi" in out and "setup ran True" in out and "cwd /job/code" in out
    assert any(line.startswith("LAB! 1.0 /opt/dsjobs/envs/") for line in out)  # the venv's python ran the code
    assert "code at /job/code" in out
    code = handler.service.get(job.id).config["execute_code"]
    assert code["commit"] == head and code["ref"] == "main" and code["subdirectory"] == "jobs/hello"
    again = handler.run_job(LabJobConfig(image=lab_image, execute_code=url, params={"WHO": "again"}))
    out = _output(handler, again.id)
    assert again.status == JobStatus.SUCCESS and any("environment cache hit" in line for line in out)
    assert not any("installing 1 requirement" in line for line in out)


def test_requirements_only_warms_the_env_cache(handler: LabJobHandler, lab_image: str, tmp_path: Path) -> None:
    _code_dir(tmp_path / "code")
    build = handler.run_job(LabJobConfig(image=lab_image, execute_code=str(tmp_path / "code"), requirements_only=True))
    out = _output(handler, build.id)
    assert build.status == JobStatus.SUCCESS and any("installing 1 requirement" in line for line in out)
    assert not any(line.startswith("LAB!") for line in out)  # the code did not run
    run = handler.run_job(LabJobConfig(image=lab_image, execute_code=str(tmp_path / "code"), params={"WHO": "w"}))
    out = _output(handler, run.id)
    assert run.status == JobStatus.SUCCESS and any("environment cache hit" in line for line in out)


def test_failing_setup_sh_is_a_failed_job_with_its_reason(
    handler: LabJobHandler, lab_image: str, tmp_path: Path
) -> None:
    write(tmp_path / "code", {"__main__.py": "print('never')\n", "setup.sh": "echo broken >&2\nexit 3\n"})
    job = handler.run_job(LabJobConfig(image=lab_image, execute_code=str(tmp_path / "code")))
    assert job.status == JobStatus.ERROR
    assert job.status_details == "Python environment build failed: setup.sh failed (exit code 3)"
    assert "never" not in _output(handler, job.id)


def test_environment_yml_needs_conda(handler: LabJobHandler, lab_image: str, tmp_path: Path) -> None:
    write(tmp_path / "code", {"__main__.py": "print('never')\n", "environment.yml": "name: x\ndependencies: [pip]\n"})
    job = handler.run_job(LabJobConfig(image=lab_image, execute_code=str(tmp_path / "code")))
    assert job.status == JobStatus.ERROR
    assert "environment.yml needs conda or mamba" in (job.status_details or "")


def test_script_from_the_store_and_a_local_script(handler: LabJobHandler, lab_image: str, tmp_path: Path) -> None:
    jobs = handler.service.jobs
    jobs.store.put_bytes(f"projects/{jobs.project}/code/hello.py", b"import os\nprint('stored', os.getcwd())\n")
    job = handler.run_job(LabJobConfig(image=lab_image, execute_code="store:code/hello.py"))
    assert job.status == JobStatus.SUCCESS and "stored /job/code" in _output(handler, job.id)
    (tmp_path / "one.py").write_text("import sys\nsys.exit(4)\n")
    job = handler.run_job(LabJobConfig(image=lab_image, execute_code=str(tmp_path / "one.py")))
    assert (job.status, job.return_code) == (JobStatus.ERROR, 4)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("store:code/absent.py", "nothing at "),
        ("git+file:///nonexistent/repo@main", "cannot fetch file:///nonexistent/repo"),
    ],
)
def test_bad_code_stores_nothing(handler: LabJobHandler, lab_image: str, code: str, message: str) -> None:
    with pytest.raises(LabError, match=message) as info:
        handler.run_job(LabJobConfig(image=lab_image, execute_code=code))
    assert "\n" not in str(info.value)
    assert handler.service.list_jobs() == []


#: A stand-in for conda in the test image (which has none, and no network to install it): ``conda env create -p
#: PREFIX -f FILE`` makes PREFIX an environment whose ``python`` is the image's, and logs the call; everything else
#: about the run — the order of the steps, PATH, the cache in the env volume — is the real runner's.
FAKE_CONDA = """\
#!/bin/sh
echo "fake-conda $*"
[ "$1 $2" = "env create" ] || exit 2
while [ $# -gt 0 ]; do [ "$1" = "-p" ] && prefix=$2; shift; done
mkdir -p "$prefix/bin" && ln -s "$(command -v python3)" "$prefix/bin/python" && echo conda >> /tmp/order
"""

ORDER_MAIN = """\
import os, sys, tinylab
print("order", open("/tmp/order").read().split())
print("interpreter", sys.executable)
for where in (sys.prefix, os.environ["CONDA_PREFIX"]):
    try:
        open(os.path.join(where, "poison"), "w").close()
        print("wrote into", where)
    except OSError as exc:
        print("refused:", exc.strerror)
"""


@pytest.fixture(scope="module")
def conda_image(docker_client: object, lab_image: str) -> object:
    import contextlib
    import uuid

    from tests.lab.helpers import build_image

    tag = f"dsjobs-test-lab/conda:{uuid.uuid4().hex[:10]}"
    build_image(docker_client, lab_image, tag, "COPY conda /usr/local/bin/conda\n", {"conda": FAKE_CONDA})
    yield tag
    with contextlib.suppress(Exception):
        docker_client.images.remove(tag, force=True)  # type: ignore[attr-defined]


def test_dependency_files_run_in_the_seeds_order(handler: LabJobHandler, conda_image: str, tmp_path: Path) -> None:
    code = tmp_path / "code"
    _code_dir(code)
    write(
        code,
        {
            "__main__.py": ORDER_MAIN,
            "environment.yml": "name: job\ndependencies: [python]\n",
            "setup.sh": "echo setup >> /tmp/order\n",
            "requirements.txt": "./wheels/tinylab-1.0-py3-none-any.whl\n",
        },
    )
    job = handler.run_job(LabJobConfig(image=conda_image, execute_code=str(code)))
    out = _output(handler, job.id)
    assert job.status == JobStatus.SUCCESS, out
    # environment.yml, then requirements (the build step, whose output the job shows first), then setup.sh and
    # the code in the job's own container
    conda_at = next(i for i, line in enumerate(out) if line.startswith("fake-conda env create -q -p /opt/dsjobs/"))
    installed_at = next(i for i, line in enumerate(out) if "installing 1 requirement" in line)
    assert conda_at < installed_at < out.index("dsjobs-lab: running setup.sh")
    assert "order ['setup']" in out  # conda ran in the build step, not in the job's container
    assert any(line.startswith("interpreter /opt/dsjobs/envs/") and "/venv/" in line for line in out)
    assert out.count("refused: Read-only file system") == 2 and not any("wrote into" in line for line in out)
    again = handler.run_job(LabJobConfig(image=conda_image, execute_code=str(code)))
    out = _output(handler, again.id)
    assert "dsjobs-lab: conda environment cache hit" in out and not any("fake-conda" in line for line in out)
    assert "order ['setup']" in out


def test_param_names_local_code_only_under_the_code_roots(
    handler: LabJobHandler, lab_image: str, tmp_path: Path
) -> None:
    """``EXECUTE_CODE`` as a param is what a run's conf sets: a local repository or directory is refused (nothing
    stored) until the settings name a root that holds it; then it runs."""
    repo = tmp_path / "roots" / "repo"
    make_repo(repo, {"__main__.py": "print('from the root')\n"})
    for code in (f"git+file://{repo}", str(repo)):
        with pytest.raises(LabError, match=r"a run-time value .* DSJOBS_LAB_CODE_ROOTS") as info:
            handler.run_job(LabJobConfig(image=lab_image, params={"EXECUTE_CODE": code}))
        assert "\n" not in str(info.value)
    assert handler.service.list_jobs() == []
    settings = dataclasses.replace(handler.settings, lab_code_roots=(str(tmp_path / "roots"),))
    rooted = LabJobHandler(settings, log=lambda *_: None)
    try:
        job = rooted.run_job(LabJobConfig(image=lab_image, params={"EXECUTE_CODE": f"git+file://{repo}"}))
        assert job.status == JobStatus.SUCCESS and "from the root" in _output(rooted, job.id)
    finally:
        rooted.service.close()


def test_https_token_reaches_no_record_log_or_message(
    handler: LabJobHandler, lab_image: str, https_repo: GitHttpsServer
) -> None:
    """A token in the URL a run's conf gives: the job runs the code fetched with it, and neither the stored
    record, the job's logs, nor the lines the submit reports hold it."""
    said: list[str] = []
    url = f"git+https://bot:{TOKEN}@127.0.0.1:{https_repo.port}/repo.git@main#subdirectory=job"
    handler._notify = said.append
    job = handler.run_job(LabJobConfig(image=lab_image, params={"EXECUTE_CODE": url}))
    assert job.status == JobStatus.SUCCESS and "over https" in _output(handler, job.id)
    jobs = handler.service.jobs
    stored = b"".join(jobs.store.get_bytes(info.key) for info in jobs.store.list(f"projects/{jobs.project}/"))
    assert TOKEN.encode() not in stored
    assert b"bot:***@127.0.0.1" in stored  # where the code came from is still recorded
    assert not any(TOKEN in line for _, line in handler.service.logs(job.id))
    assert said and not any(TOKEN in line for line in said)
