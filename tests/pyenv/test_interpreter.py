"""``python: auto`` pinned from a named Python installation (a project venv on a worker), which is never run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_dsjobs.cli.main import main
from airflow_provider_dsjobs.pyenv.errors import PyEnvError
from airflow_provider_dsjobs.pyenv.interpreter import find_installation
from airflow_provider_dsjobs.pyenv.plan import plan_python_env

from .helpers import auto_env, make_config, write

VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"


def _install_fake_distribution(site: Path, name: str, version: str) -> None:
    """A distribution as pip leaves it: the package and its dist-info (METADATA, RECORD, top_level.txt)."""
    write(site, {f"{name}/__init__.py": "VALUE = 1\n"})
    info = site / f"{name}-{version}.dist-info"
    write(
        info,
        {
            "METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
            "top_level.txt": f"{name}\n",
            "RECORD": f"{name}/__init__.py,,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n",
        },
    )


@pytest.fixture(scope="module")
def project_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real virtualenv (no pip) with 'projlib 2.5.1' installed, a .pth file that would leave a marker if any
    Python started in it ran its site code, and an interpreter that would leave another marker if it were run."""
    venv = tmp_path_factory.mktemp("project") / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = venv / "lib" / f"python{VERSION}" / "site-packages"
    _install_fake_distribution(site, "projlib", "2.5.1")
    (site / "marker.pth").write_text(f"import pathlib; pathlib.Path({str(venv / 'pth-ran')!r}).touch()\n")
    interpreter = venv / "bin" / "python"
    interpreter.unlink()
    interpreter.write_text(f"#!/bin/sh\ntouch {venv / 'interpreter-ran'}\n")
    interpreter.chmod(0o755)
    return venv


def _job(tmp_path: Path, imports: str) -> Path:
    write(tmp_path, {"main.py": f"{imports}\nprint('hi')\n"})
    return tmp_path


def test_venv_found_from_its_files_without_running_anything(project_venv: Path) -> None:
    for name in (project_venv / "bin" / "python", project_venv):
        found = find_installation(str(name))
        assert found.version == VERSION
        assert found.site_dirs == (project_venv / "lib" / f"python{VERSION}" / "site-packages",)
    assert not (project_venv / "interpreter-ran").exists()
    assert not (project_venv / "pth-ran").exists()


def test_auto_env_pins_imports_from_the_named_installation(project_venv: Path, tmp_path: Path) -> None:
    base = _job(tmp_path, "import projlib")
    config = make_config(base, "python main.py", auto_env(version=VERSION))
    installation = find_installation(str(project_venv / "bin" / "python"))
    plan = plan_python_env(
        config, base_dir=base, image_template="py:{version}", explicit_image=None, installation=installation
    )
    assert plan.requirements == ["projlib==2.5.1"]
    assert not (project_venv / "interpreter-ran").exists() and not (project_venv / "pth-ran").exists()


def test_unpinnable_import_names_the_interpreter_looked_at_and_how_to_change_it(
    project_venv: Path, tmp_path: Path
) -> None:
    base = _job(tmp_path, "import projlib\nimport notinstalledanywhere")
    config = make_config(base, "python main.py", auto_env(version=VERSION))
    interpreter = str(project_venv / "bin" / "python")
    with pytest.raises(PyEnvError) as info:
        plan_python_env(
            config,
            base_dir=base,
            image_template="py:{version}",
            explicit_image=None,
            installation=find_installation(interpreter),
        )
    message = str(info.value)
    assert "notinstalledanywhere" in message and "main.py:2" in message
    assert f"installed for {interpreter}" in message
    assert "python_interpreter" in message and "DSJOBS_PYTHON_INTERPRETER" in message
    # Without a named installation, the default one (this process's interpreter) is what the message names.
    with pytest.raises(PyEnvError, match=f"installed for {sys.executable}"):
        plan_python_env(config, base_dir=base, image_template="py:{version}", explicit_image=None)


def test_not_an_installation_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PyEnvError, match=r"python interpreter .*nope does not exist; name the interpreter"):
        find_installation(str(tmp_path / "nope"))
    (tmp_path / "python3.12").write_text("")
    with pytest.raises(PyEnvError, match="no site-packages directory"):
        find_installation(str(tmp_path / "python3.12"))


def test_version_of_an_auto_env_without_one_comes_from_the_installation(tmp_path: Path) -> None:
    venv = tmp_path / "venv312"
    site = venv / "lib" / "python3.12" / "site-packages"
    _install_fake_distribution(site, "projlib", "2.5.1")
    (venv / "bin").mkdir()
    (venv / "bin" / "python").write_text("")
    (venv / "pyvenv.cfg").write_text("home = /opt/py312/bin\ninclude-system-site-packages = false\nversion = 3.12.4\n")
    base = _job(tmp_path / "job", "import projlib")
    python = auto_env(version=VERSION)  # the loader's default: version_given stays False
    plan = plan_python_env(
        make_config(base, "python main.py", python),
        base_dir=base,
        image_template="py:{version}",
        explicit_image=None,
        installation=find_installation(str(venv)),
    )
    assert (plan.version, plan.image, plan.requirements) == ("3.12", "py:3.12", ["projlib==2.5.1"])


def test_cli_generate_requirements_reads_the_named_interpreter(
    project_venv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _job(tmp_path, "import projlib")
    monkeypatch.chdir(base)
    assert main(["generate-requirements", "--python-interpreter", str(project_venv / "bin" / "python"), "main.py"]) == 0
    assert capsys.readouterr().out == "projlib==2.5.1\n"
    monkeypatch.setenv("DSJOBS_PYTHON_INTERPRETER", str(project_venv))
    assert main(["generate-requirements", "main.py"]) == 0
    assert capsys.readouterr().out == "projlib==2.5.1\n"
    monkeypatch.delenv("DSJOBS_PYTHON_INTERPRETER")
    assert main(["generate-requirements", "main.py"]) == 1
    assert f"installed for {sys.executable}" in capsys.readouterr().err
