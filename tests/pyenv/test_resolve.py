from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_dsjobs.pyenv.entrypoints import EntryPoint
from airflow_provider_dsjobs.pyenv.errors import PyEnvError
from airflow_provider_dsjobs.pyenv.imports import analyze_imports
from airflow_provider_dsjobs.pyenv.resolve import DistributionIndex, resolve_imports
from tests.pyenv.helpers import build_wheel, write


def _resolve(tmp_path: Path, site: Path, source: str):  # type: ignore[no-untyped-def]
    write(tmp_path, {"main.py": source})
    index = DistributionIndex([site])
    analysis = analyze_imports([EntryPoint("file", "main.py")], tmp_path, is_installed=index.is_installed)
    return resolve_imports(analysis.third_party, index=index, base_dir=tmp_path)


def test_installed_packages_are_pinned_by_distribution_name(tmp_path: Path, site_dir: Path) -> None:
    result = _resolve(tmp_path, site_dir, "import tinypkg.core\nfrom othermod import WHO\nimport os\n")
    # othermod is provided by the distribution "other-name": found from its RECORD, not by guessing
    assert result.requirements == ["other-name==2.1.0", "tinypkg==1.0.0"]
    assert result.by_import == {"othermod": ["other-name==2.1.0"], "tinypkg": ["tinypkg==1.0.0"]}


def test_unresolvable_imports_are_one_error_listing_each_name_and_where(tmp_path: Path, site_dir: Path) -> None:
    with pytest.raises(PyEnvError) as info:
        _resolve(tmp_path, site_dir, "import tinypkg\nimport nosuchpkg_a\n\nfrom nosuchpkg_b import x\n")
    message = str(info.value)
    assert "nosuchpkg_a (imported at main.py:2)" in message
    assert "nosuchpkg_b (imported at main.py:4)" in message
    assert "requirements-file" in message
    assert "\n" not in message


def test_optional_unresolvable_import_is_left_out(tmp_path: Path, site_dir: Path) -> None:
    result = _resolve(
        tmp_path, site_dir, "import tinypkg\ntry:\n    import ujson_like\nexcept ImportError:\n    pass\n"
    )
    assert result.requirements == ["tinypkg==1.0.0"]
    assert result.skipped_optional == ["ujson_like"]


def test_alias_table_is_used_only_when_metadata_cannot_resolve(tmp_path: Path, site_dir: Path) -> None:
    result = _resolve(tmp_path, site_dir, "import sklearn\nimport yaml\n")
    assert result.requirements == ["PyYAML", "scikit-learn"]
    assert sorted(result.aliased) == ["sklearn", "yaml"]


def test_metadata_wins_over_alias(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    wheel = build_wheel(tmp_path, "my-yaml-fork", "0.3", {"yaml/__init__.py": ""})
    import zipfile

    zipfile.ZipFile(wheel).extractall(site)
    result = _resolve(tmp_path / "job", site, "import yaml\n")
    assert result.requirements == ["my-yaml-fork==0.3"]
    assert result.aliased == []


def test_shared_top_level_name_is_disambiguated_by_submodule(tmp_path: Path) -> None:
    import zipfile

    site = tmp_path / "site"
    for name, sub in (("gproto", "protobuf"), ("gauth", "auth")):
        zipfile.ZipFile(build_wheel(tmp_path, name, "1.0", {f"google/{sub}/__init__.py": ""})).extractall(site)
    result = _resolve(tmp_path / "job", site, "from google.protobuf import message\n")
    assert result.requirements == ["gproto==1.0"]


def test_editable_install_cannot_be_pinned(tmp_path: Path) -> None:
    import zipfile

    site = tmp_path / "site"
    zipfile.ZipFile(build_wheel(tmp_path, "mylib", "0.1", {"mylib/__init__.py": ""})).extractall(site)
    (site / "mylib-0.1.dist-info" / "direct_url.json").write_text(
        json.dumps({"url": "file:///home/me/mylib", "dir_info": {"editable": True}})
    )
    with pytest.raises(PyEnvError, match=r"mylib .*editable mode"):
        _resolve(tmp_path / "job", site, "import mylib\n")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import nsx\n", ["nsx-core==3.0"]),
        ("import nsx.models\nfrom nsx.providers.a import hook\n", ["nsx-core==3.0", "nsx-provider-a==1.2"]),
        ("from nsx.providers.b.hook import run\n", ["nsx-provider-b==0.9"]),
    ],
)
def test_core_package_and_plugins_sharing_a_top_level(tmp_path: Path, source: str, expected: list[str]) -> None:
    import zipfile

    site = tmp_path / "site"
    for name, version, files in (
        ("nsx-core", "3.0", {"nsx/__init__.py": "", "nsx/models.py": ""}),
        ("nsx-provider-a", "1.2", {"nsx/providers/a/hook.py": ""}),
        ("nsx-provider-b", "0.9", {"nsx/providers/b/hook.py": ""}),
    ):
        zipfile.ZipFile(build_wheel(tmp_path, name, version, files)).extractall(site)
    assert _resolve(tmp_path / "job", site, source).requirements == expected
