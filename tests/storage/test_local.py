"""LocalStore specifics: file:// URLs, crash leftovers ignored, tidy deletes."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_dsjobs.storage.local import PARTIAL_SUFFIX, LocalStore


def test_url_and_uri_are_file_urls(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s")
    assert store.url == (tmp_path / "s").resolve().as_uri()
    assert store.uri("a/b c") == (tmp_path / "s" / "a" / "b c").resolve().as_uri()


def test_partial_files_from_a_crash_are_not_listed(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("a/x", b"1")
    (tmp_path / "a" / f".x.123{PARTIAL_SUFFIX}").write_bytes(b"half")
    assert [i.key for i in store.list("a/")] == ["a/x"]


def test_delete_prunes_empty_directories_but_not_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = LocalStore(root)
    store.put_bytes("a/b/c/d", b"1")
    store.put_bytes("a/keep", b"1")
    store.delete("a/b/c/d")
    assert not (root / "a" / "b").exists()
    assert (root / "a" / "keep").exists()
    store.delete("a/keep")
    assert root.is_dir() and list(root.iterdir()) == []


def test_a_missing_root_lists_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "not-yet")
    assert list(store.list("")) == []
    assert not store.exists("x")


def test_two_stores_on_one_root_see_each_other(tmp_path: Path) -> None:
    LocalStore(tmp_path).put_bytes("shared", b"v")
    assert LocalStore(tmp_path).get_bytes("shared") == b"v"
