"""Key and relative-path rules."""

from __future__ import annotations

import pytest

from airflow_provider_dsjobs.storage.base import StoreError
from airflow_provider_dsjobs.storage.keys import check_key, join_key, safe_relpath


def test_safe_relpath_normalises() -> None:
    assert safe_relpath("./a//b/./c") == "a/b/c"
    assert safe_relpath("file..name") == "file..name"


@pytest.mark.parametrize("bad", ["/a", "..", "a/../b", "", "./", "a\x00b", "a\\b"])
def test_safe_relpath_rejects(bad: str) -> None:
    with pytest.raises(StoreError):
        safe_relpath(bad)


def test_check_key_and_join() -> None:
    assert check_key("a/b.c") == "a/b.c"
    assert join_key("p/", "x") == "p/x"
    assert join_key("", "x") == "x"
    with pytest.raises(StoreError):
        check_key("a/./b")
