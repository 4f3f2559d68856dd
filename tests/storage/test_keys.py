"""Key and relative-path rules."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_dsjobs.storage.base import StoreError
from airflow_provider_dsjobs.storage.keys import check_key, join_key, local_parts, safe_relpath


def test_safe_relpath_normalises() -> None:
    assert safe_relpath("./a//b/./c") == "a/b/c"
    assert safe_relpath("file..name") == "file..name"


@pytest.mark.parametrize("bad", ["/a", "..", "a/../b", "", "./", "a\x00b"])
def test_safe_relpath_rejects(bad: str) -> None:
    with pytest.raises(StoreError):
        safe_relpath(bad)


def test_a_backslash_is_an_ordinary_character_of_a_name() -> None:
    """As in a Linux file name: ``..\\x`` is one name, not a way up, and ``a\\b`` never becomes ``a/b``."""
    assert safe_relpath("a\\b.txt") == "a\\b.txt"
    assert check_key("out/..\\..\\esc.txt") == "out/..\\..\\esc.txt"
    assert local_parts("out/..\\..\\esc.txt") == ["out", "..\\..\\esc.txt"]


@pytest.mark.parametrize("bad", ["/a", "..", "a/../b", "a//b", "./a", "a/", "", "a\x00b"])
def test_local_parts_refuse_what_is_no_local_name(bad: str) -> None:
    with pytest.raises(StoreError):
        local_parts(bad)


def test_check_key_and_join() -> None:
    assert check_key("a/b.c") == "a/b.c"
    assert join_key("p/", "x") == "p/x"
    assert join_key("", "x") == "x"
    with pytest.raises(StoreError):
        check_key("a/./b")


@settings(max_examples=300, deadline=None)
@given(relpath=st.text(alphabet=st.sampled_from(["a", "é", ".", "/", "\\", "\x00", " ", "~", ":"]), max_size=24))
def test_local_parts_never_lead_outside_the_root(relpath: str) -> None:
    """Whatever a store holds as a key, the parts it yields stay below the directory they are joined to."""
    try:
        parts = local_parts(relpath)
    except StoreError:
        return
    root = "/nonexistent/root"
    target = os.path.normpath(os.path.join(root, *parts))
    assert target.startswith(root + os.sep) and "/".join(parts) == relpath
