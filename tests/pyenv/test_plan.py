from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from airflow_provider_dsjobs.config.model import DockerImage, PathEntry, PipOptions, PythonEnv
from airflow_provider_dsjobs.pyenv.build_step import env_volume_name
from airflow_provider_dsjobs.pyenv.errors import PyEnvError
from airflow_provider_dsjobs.pyenv.plan import PythonEnvPlan, plan_python_env, unshipped_entry_scripts
from tests.pyenv.helpers import make_config, write

TEMPLATE = "python:{version}-slim"

JOB = {
    "main.py": "import tinypkg\nfrom othermod import WHO\nfrom lib import util\nimport config_loader\n",
    "lib/__init__.py": "",
    "lib/util.py": "from . import io_helpers\n",
    "lib/io_helpers.py": "import json\n",
    "lib/resources/schema.json": "{}",
    "lib/__pycache__/util.cpython-311.pyc": "junk",
    "config_loader.py": "import os\n",
    "other.py": "import tinypkg.core\n",
    "data/big.csv": "1,2,3\n",
    "requirements.txt": "tinypkg==1.0.0\n--extra-index-url https://extra.example/simple\n",
}


def _plan(base: Path, site: Path, cmd: str, python: PythonEnv, **kwargs: object) -> PythonEnvPlan:
    config = make_config(base, cmd, python, docker=kwargs.pop("docker", None))
    explicit = config.env.docker.image if config.env.docker else None
    return plan_python_env(
        config,
        base_dir=base,
        image_template=str(kwargs.pop("image_template", TEMPLATE)),
        explicit_image=explicit,
        distributions_path=[site],
    )


def _shipped(plan: PythonEnvPlan) -> list[str]:
    return [rel for _, rel in plan.local_files]


@pytest.fixture()
def job(tmp_path: Path) -> Path:
    write(tmp_path, JOB)
    return tmp_path


def test_auto_mode(job: Path, site_dir: Path) -> None:
    plan = _plan(job, site_dir, "python -u main.py --x ${X}", PythonEnv(type="auto", version="3.11"))
    assert plan.mode == "auto"
    assert plan.version == "3.11"
    assert plan.image == "python:3.11-slim"
    assert plan.requirements == ["other-name==2.1.0", "tinypkg==1.0.0"]
    # entry script, whole local package (with its data file, without __pycache__), single local module
    assert _shipped(plan) == [
        "config_loader.py",
        "lib/__init__.py",
        "lib/io_helpers.py",
        "lib/resources/schema.json",
        "lib/util.py",
        "main.py",
    ]
    assert all(path == job / rel for path, rel in plan.local_files)
    assert plan.volume_name == env_volume_name("", plan.env_hash)  # the project's own (no project here)
    assert plan.venv_path == f"/opt/dsjobs/envs/{plan.env_hash}/venv"
    assert plan.volume_labels == {
        "dsjobs.pyenv": "1",
        "dsjobs.pyenv.version": "3.11",
        "dsjobs.pyenv.image": "python:3.11-slim",
        "dsjobs.pyenv.hash": plan.env_hash,
        "dsjobs.project": "",
        "dsjobs.cache": "pyenv",
    }
    spec = json.loads(plan.spec_json)
    assert spec["requirements"] == plan.requirements
    assert spec["env_root"] == "/opt/dsjobs/envs"
    assert spec["failed_marker"] == plan.failed_marker == "/job/.dsjobs/pyenv-failed.txt"
    assert plan.builder_script.startswith(b'"""The in-container builder')
    assert [p for p, _ in plan.container_files()] == ["/job/.dsjobs/pyenv_build.py", "/job/.dsjobs/pyenv.json"]
    assert "/job/.dsjobs/pyenv_build.py /job/.dsjobs/pyenv.json" in plan.build_command  # the build step's
    assert "pyenv_build.py" not in plan.setup_command and plan.ready_path in plan.setup_command
    summary = json.loads(json.dumps(plan.summary()))
    assert summary["entry-points"] == [{"kind": "file", "value": "main.py"}]
    assert summary["requirements"] == plan.requirements
    assert summary["local-files"] == _shipped(plan)
    assert summary["volume"] == plan.volume_name


def test_hash_ignores_local_files_but_not_requirements_or_pip(job: Path, site_dir: Path) -> None:
    env = PythonEnv(type="auto", version="3.11")
    first = _plan(job, site_dir, "python main.py", env)
    (job / "config_loader.py").write_text("import os  # changed\n")
    assert _plan(job, site_dir, "python main.py", env).env_hash == first.env_hash
    other_pip = PythonEnv(type="auto", version="3.11", pip=PipOptions(no_deps=True))
    assert _plan(job, site_dir, "python main.py", other_pip).env_hash != first.env_hash
    assert _plan(job, site_dir, "python other.py", env).env_hash != first.env_hash  # tinypkg only


def test_root_paths_add_entry_points_in_auto_mode(job: Path, site_dir: Path) -> None:
    plan = _plan(job, site_dir, "bash run.sh", PythonEnv(type="auto", version="3.11", root_paths=("other.py",)))
    assert plan.requirements == ["tinypkg==1.0.0"]
    assert _shipped(plan) == ["other.py"]


def test_manual_version_only_fills_the_rest_as_auto(job: Path, site_dir: Path) -> None:
    plan = _plan(job, site_dir, "python main.py", PythonEnv(type="manual", version="3.10", version_given=True))
    assert plan.mode == "manual"
    assert plan.image == "python:3.10-slim"
    assert plan.requirements == ["other-name==2.1.0", "tinypkg==1.0.0"]
    assert "lib/util.py" in _shipped(plan)


def test_manual_requirements_only(job: Path, site_dir: Path) -> None:
    env = PythonEnv(type="manual", version="3.11", requirements_file="requirements.txt")
    plan = _plan(job, site_dir, "python main.py", env)
    assert plan.requirements == ["tinypkg==1.0.0"]  # the file, not the analysis (othermod is not added)
    assert plan.pip.extra_index_urls == ("https://extra.example/simple",)
    assert "lib/util.py" in _shipped(plan)  # local modules still found by analysis


def test_manual_requirements_only_does_not_need_imports_to_resolve(job: Path, site_dir: Path) -> None:
    (job / "main.py").write_text("import not_installed_anywhere\n")
    env = PythonEnv(type="manual", version="3.11", requirements_file="requirements.txt")
    assert _plan(job, site_dir, "python main.py", env).requirements == ["tinypkg==1.0.0"]


def test_manual_local_paths_only(job: Path, site_dir: Path) -> None:
    env = PythonEnv(type="manual", version="3.11", local_paths=("lib", "config_loader.py"))
    plan = _plan(job, site_dir, "python main.py", env)
    assert plan.requirements == ["other-name==2.1.0", "tinypkg==1.0.0"]
    assert _shipped(plan) == [
        "config_loader.py",
        "lib/__init__.py",
        "lib/io_helpers.py",
        "lib/resources/schema.json",
        "lib/util.py",
        "main.py",
    ]


def test_manual_empty_local_paths_ships_only_the_entry_script(job: Path, site_dir: Path) -> None:
    env = PythonEnv(type="manual", version="3.11", local_paths=())
    assert _shipped(_plan(job, site_dir, "python main.py", env)) == ["main.py"]


def test_fully_manual_runs_no_analysis(job: Path, site_dir: Path) -> None:
    (job / "main.py").write_text("import not_installed_anywhere\ndef broken(:\n")  # would fail any analysis
    env = PythonEnv(
        type="manual",
        version="3.9",
        version_given=True,
        requirements_file="requirements.txt",
        local_paths=("main.py", "lib/util.py"),
    )
    plan = _plan(job, site_dir, "python -c 'whatever'", env)
    assert plan.mode == "fully-manual"
    assert plan.entry_points == []
    assert plan.requirements == ["tinypkg==1.0.0"]
    assert _shipped(plan) == ["lib/util.py", "main.py"]
    assert plan.image == "python:3.9-slim"


def _fully_manual(local_paths: tuple[str, ...]) -> PythonEnv:
    return PythonEnv(
        type="manual", version="3.11", version_given=True, requirements_file="requirements.txt", local_paths=local_paths
    )


def test_fully_manual_warns_of_an_entry_script_it_will_not_ship(job: Path, site_dir: Path) -> None:
    plan = _plan(job, site_dir, "python -u other.py --epochs 3 && python main.py", _fully_manual(("lib",)))
    assert _shipped(plan) == ["lib/__init__.py", "lib/io_helpers.py", "lib/resources/schema.json", "lib/util.py"]
    assert len(plan.notes) == 2  # the semantics stay (nothing added); each missing script is named
    assert "entry script 'other.py' of cmd is in neither `inputs` nor `env.python.local-paths`" in plan.notes[0]
    assert "can't open file 'main.py'" in plan.notes[1]


@pytest.mark.parametrize(
    ("local_paths", "inputs"),
    [(("main.py",), ()), (("lib", "."), ()), (("lib",), (PathEntry("main.py"),)), (("lib",), (PathEntry("."),))],
    ids=["local-path-file", "local-path-dir", "input-file", "input-dir"],
)
def test_fully_manual_is_quiet_when_the_script_is_shipped(
    job: Path, local_paths: tuple[str, ...], inputs: tuple[PathEntry, ...]
) -> None:
    config = dataclasses.replace(make_config(job, "python main.py", _fully_manual(local_paths)), inputs=inputs)
    assert unshipped_entry_scripts(config, job) == []


def test_an_input_bound_to_a_variable_does_not_ship_the_script_at_its_path(job: Path) -> None:
    config = make_config(job, "python main.py", _fully_manual(("lib",)))
    config = dataclasses.replace(config, inputs=(PathEntry("main.py", var="MAIN"),))
    assert len(unshipped_entry_scripts(config, job)) == 1  # it lands under /job/inputs/MAIN/, not at main.py


def test_only_a_fully_manual_env_warns(job: Path) -> None:
    env = PythonEnv(type="manual", version="3.11", version_given=True, local_paths=("lib",))
    assert unshipped_entry_scripts(make_config(job, "python main.py", env), job) == []


def test_env_docker_wins_over_template(job: Path, site_dir: Path) -> None:
    plan = _plan(
        job,
        site_dir,
        "python other.py",
        PythonEnv(type="auto", version="3.11"),
        docker=DockerImage(image="registry.local/ml:1"),
    )
    assert plan.image == "registry.local/ml:1"
    assert plan.volume_labels["dsjobs.pyenv.image"] == "registry.local/ml:1"
    # the version was not written by the user: the image's Python is accepted with a note
    assert json.loads(plan.spec_json)["version_strict"] is False


@pytest.mark.parametrize(
    ("python", "template", "message"),
    [
        (PythonEnv(type="auto", version="3.7"), TEMPLATE, r"Python 3\.7 is not supported"),
        (PythonEnv(type="auto", version="4.0"), TEMPLATE, r"'4\.0' is not a Python version"),
        (PythonEnv(type="auto", version="3.11"), "", r"no image for Python 3\.11"),
        (PythonEnv(type="auto", version="3.11"), "python:{ver}", r"image template 'python:\{ver\}' is invalid"),
    ],
)
def test_bad_version_or_template_fails_before_anything_runs(
    job: Path, site_dir: Path, python: PythonEnv, template: str, message: str
) -> None:
    with pytest.raises(PyEnvError, match=message):
        _plan(job, site_dir, "python other.py", python, image_template=template)


@pytest.mark.parametrize(
    ("cmd", "message"),
    [
        ("bash run.sh", r"Python root module\(-s\) was not found"),
        ("python -c 'import tinypkg'", r"inline code \(python -c\).*root-paths"),
        ("python missing.py", r"entry script 'missing\.py' was not found"),
        ("python ../outside.py", r"outside the job directory"),
    ],
)
def test_auto_mode_needs_an_entry_script(job: Path, site_dir: Path, cmd: str, message: str) -> None:
    with pytest.raises(PyEnvError, match=message):
        _plan(job, site_dir, cmd, PythonEnv(type="auto", version="3.11"))


def test_unresolvable_import_in_auto_mode_is_one_clear_error(job: Path, site_dir: Path) -> None:
    (job / "main.py").write_text("import tinypkg\nimport not_installed_anywhere\n")
    with pytest.raises(PyEnvError, match=r"not_installed_anywhere \(imported at main\.py:2\)"):
        _plan(job, site_dir, "python main.py", PythonEnv(type="auto", version="3.11"))


def test_index_url_conflict_between_config_and_file(job: Path, site_dir: Path) -> None:
    (job / "requirements.txt").write_text("-i https://a.example/simple\ntinypkg\n")
    env = PythonEnv(
        type="manual", version="3.11", requirements_file="requirements.txt", pip=PipOptions(index_url="https://b/")
    )
    with pytest.raises(PyEnvError, match=r"requirements\.txt:1: --index-url differs"):
        _plan(job, site_dir, "python main.py", env)


def test_large_local_packages_get_a_note(job: Path, site_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import airflow_provider_dsjobs.pyenv.plan as plan_module

    env = PythonEnv(type="auto", version="3.11")
    assert _plan(job, site_dir, "python main.py", env).notes == []
    monkeypatch.setattr(plan_module, "LARGE_LOCAL_FILES_BYTES", 10)
    notes = _plan(job, site_dir, "python main.py", env).notes
    assert len(notes) == 1
    assert "in 6 files; set env.python.local-paths to ship less" in notes[0]


def test_symlinked_script_ships_under_its_own_name(tmp_path: Path, site_dir: Path) -> None:
    write(tmp_path, {"shared/real_main.py": "import tinypkg\n"})
    job = tmp_path / "job"
    job.mkdir()
    (job / "main.py").symlink_to(tmp_path / "shared" / "real_main.py")
    plan = _plan(job, site_dir, "python main.py", PythonEnv(type="auto", version="3.11"))
    assert plan.local_files == [(job / "main.py", "main.py")]
    assert plan.requirements == ["tinypkg==1.0.0"]


def test_local_paths_outside_the_job_directory_are_refused(job: Path, site_dir: Path) -> None:
    env = PythonEnv(type="manual", version="3.11", local_paths=("../elsewhere",))
    with pytest.raises(PyEnvError, match=r"local-paths entry .* is outside the job directory"):
        _plan(job, site_dir, "python main.py", env)


def test_work_dir_at_the_container_root(job: Path, site_dir: Path) -> None:
    config = make_config(job, "python other.py", PythonEnv(type="auto", version="3.11"))
    plan = plan_python_env(
        config,
        base_dir=job,
        image_template=TEMPLATE,
        explicit_image=None,
        container_workdir="/",
        distributions_path=[site_dir],
    )
    assert plan.failed_marker == "/.dsjobs/pyenv-failed.txt"
    assert plan.spec_path == "/.dsjobs/pyenv.json"
