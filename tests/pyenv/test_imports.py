from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dsjobs.pyenv.entrypoints import EntryPoint
from airflow_provider_dsjobs.pyenv.errors import PyEnvError
from airflow_provider_dsjobs.pyenv.imports import analyze_imports
from tests.pyenv.helpers import write

PROJECT = {
    "main.py": (
        "import os, json\n"
        "import tinypkg\n"
        "from othermod import WHO\n"
        "from app import service\n"
        "import helpers\n"
        "try:\n"
        "    import fancy_optional\n"
        "except ImportError:\n"
        "    fancy_optional = None\n"
        "if __name__ == '__main__':\n"
        "    service.run()\n"
    ),
    "helpers.py": "import importlib\nplugin = importlib.import_module('plugins.csv_plugin')\n",
    "app/__init__.py": "from .config import SETTINGS\n",
    "app/config.py": "SETTINGS = {}\n",
    "app/service.py": "from . import util\nfrom .sub.deep import f\nfrom .. import nothing_above  # noqa\n",
    "app/util.py": "import collections\n",
    "app/sub/__init__.py": "",
    "app/sub/deep.py": "from ..util import *\nimport requests_like_thing\ndef f():\n    import lazy_third_party\n",
    "app/templates/page.html": "<p>data file shipped with the package</p>\n",
    "plugins/csv_plugin.py": "X = __import__('csv')\n",  # a namespace package (no __init__.py)
    "unused.py": "import never_imported\n",
}


def test_local_stdlib_and_third_party_are_classified(tmp_path: Path) -> None:
    files = dict(PROJECT)
    files["app/service.py"] = "from . import util\nfrom .sub.deep import f\n"
    write(tmp_path, files)
    analysis = analyze_imports([EntryPoint("file", "main.py")], tmp_path)

    assert set(analysis.local_tops) == {"app", "helpers", "plugins"}
    assert analysis.local_tops["app"].kind == "package"
    assert analysis.local_tops["plugins"].kind == "namespace"
    visited = {p.relative_to(tmp_path).as_posix() for p in analysis.local_files}
    assert visited == {
        "main.py",
        "helpers.py",
        "app/__init__.py",
        "app/config.py",
        "app/service.py",
        "app/util.py",
        "app/sub/__init__.py",
        "app/sub/deep.py",
        "plugins/csv_plugin.py",
    }
    assert {"os", "json", "importlib", "collections", "csv"} <= analysis.stdlib
    assert set(analysis.third_party) == {
        "tinypkg",
        "othermod",
        "fancy_optional",
        "requests_like_thing",
        "lazy_third_party",
    }
    assert analysis.third_party["fancy_optional"].optional
    assert not analysis.third_party["tinypkg"].optional
    site = analysis.third_party["requests_like_thing"].sites[0]
    assert (site.file.relative_to(tmp_path).as_posix(), site.line) == ("app/sub/deep.py", 2)


def test_relative_import_beyond_top_level_package_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, PROJECT)
    with pytest.raises(PyEnvError, match=r"app/service\.py:3: relative import goes beyond"):
        analyze_imports([EntryPoint("file", "main.py")], tmp_path)


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": "import lib\n", "lib.py": "x = 1\ndef broken(:\n    pass\n"})
    with pytest.raises(PyEnvError, match=r"^lib\.py:2: invalid Python syntax"):
        analyze_imports([EntryPoint("file", "main.py")], tmp_path)


def test_missing_entry_script_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PyEnvError, match=r"entry script 'nope\.py' was not found"):
        analyze_imports([EntryPoint("file", "nope.py")], tmp_path)


def test_script_directory_comes_first_then_job_directory(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "src/main.py": "import tools\nimport shared\n",
            "src/tools.py": "",
            "shared.py": "",
            "tools.py": "import should_not_be_followed\n",
        },
    )
    analysis = analyze_imports([EntryPoint("file", "src/main.py")], tmp_path)
    assert analysis.local_tops["tools"].path == tmp_path / "src" / "tools.py"
    assert analysis.local_tops["shared"].path == tmp_path / "shared.py"
    assert not analysis.third_party


def test_local_module_shadows_stdlib_but_namespace_dir_does_not(tmp_path: Path) -> None:
    # Python picks a regular local module over a stdlib one, but a bare directory never wins.
    write(tmp_path, {"main.py": "import logging\nimport json\n", "logging.py": "", "json/readme.txt": "x"})
    analysis = analyze_imports([EntryPoint("file", "main.py")], tmp_path)
    assert set(analysis.local_tops) == {"logging"}
    assert "json" in analysis.stdlib


def test_installed_package_wins_over_a_same_named_data_directory(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": "import tinypkg\n", "tinypkg/data.csv": "1,2\n"})
    analysis = analyze_imports([EntryPoint("file", "main.py")], tmp_path, is_installed=lambda n: n == "tinypkg")
    assert "tinypkg" in analysis.third_party
    assert not analysis.local_tops


def test_module_entry_point_and_package_main(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"pkg/__init__.py": "", "pkg/__main__.py": "from .train import go\n", "pkg/train.py": "import numpyish\n"},
    )
    analysis = analyze_imports([EntryPoint("module", "pkg")], tmp_path)
    visited = {p.relative_to(tmp_path).as_posix() for p in analysis.local_files}
    assert visited == {"pkg/__init__.py", "pkg/__main__.py", "pkg/train.py"}
    assert set(analysis.third_party) == {"numpyish"}


def test_third_party_module_entry_point_and_optional_launcher(tmp_path: Path) -> None:
    analysis = analyze_imports(
        [EntryPoint("module", "torch.distributed.run", optional=True), EntryPoint("module", "http.server")], tmp_path
    )
    assert analysis.third_party["torch"].optional
    assert analysis.third_party["torch"].modules == {"torch.distributed.run"}
    assert "http" in analysis.stdlib


def test_type_checking_and_version_conditional_imports_are_optional(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "main.py": (
                "import sys\nfrom typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    import stubs_only\n"
                "if sys.version_info < (3, 11):\n    import tomli as tomllib\nelse:\n    import tomllib\n"
                "import needed\n"
            )
        },
    )
    analysis = analyze_imports([EntryPoint("file", "main.py")], tmp_path)
    assert analysis.third_party["stubs_only"].optional
    assert analysis.third_party["tomli"].optional
    assert not analysis.third_party["needed"].optional
