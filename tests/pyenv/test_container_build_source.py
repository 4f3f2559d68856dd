"""The builder runs under whatever python3 an image has (3.8 or newer) with nothing installed."""

from __future__ import annotations

import ast
from pathlib import Path

import airflow_provider_dsjobs.pyenv.container_build as builder
from airflow_provider_dsjobs.pyenv.entrypoints import EntryPoint
from airflow_provider_dsjobs.pyenv.imports import analyze_imports

SOURCE = Path(builder.__file__)


def test_builder_parses_as_python_3_8() -> None:
    ast.parse(SOURCE.read_text(), feature_version=(3, 8))


def test_builder_imports_only_the_standard_library() -> None:
    analysis = analyze_imports([EntryPoint("file", SOURCE.name)], SOURCE.parent)
    assert analysis.third_party == {}
    assert analysis.local_tops == {}
    assert {"fcntl", "json", "subprocess"} <= analysis.stdlib


def test_pip_options_become_pip_arguments() -> None:
    args = builder.pip_arguments(
        {"index_url": "https://i/simple", "extra_index_urls": ["https://e1", "https://e2"], "trusted_hosts": ["e1"]}
        | {"no_deps": True}
    )
    assert args == [
        "--disable-pip-version-check",
        "--no-input",
        "--no-cache-dir",
        "--index-url",
        "https://i/simple",
        "--extra-index-url",
        "https://e1",
        "--extra-index-url",
        "https://e2",
        "--trusted-host",
        "e1",
        "--no-deps",
    ]
