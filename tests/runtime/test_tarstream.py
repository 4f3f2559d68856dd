"""Tar streams: written lazily, read back as a stream, unsafe members refused."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import BinaryIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_dsjobs.runtime.errors import RuntimeFailure
from airflow_provider_dsjobs.runtime.tarstream import (
    TarDir,
    TarEntry,
    TarFile,
    TarReader,
    check_member,
    directory_entries,
    extract_stream,
    tar_stream,
)


def bytes_file(data: bytes) -> TarFile:
    return TarFile("x", size=len(data), opener=lambda: io.BytesIO(data))


def read_all(chunks: Iterator[bytes]) -> dict[str, bytes | None]:
    """Member name → content (None for directories), read in streaming mode."""
    out: dict[str, bytes | None] = {}
    with TarReader(chunks) as reader, reader.open_tar() as archive:
        for member in archive:
            handle = archive.extractfile(member) if member.isfile() else None
            out[member.name] = handle.read() if handle else None
    return out


def test_round_trip_with_dirs_long_and_unicode_names() -> None:
    long_name = "deep/" + "d" * 150 + "/данные_ü.txt"
    entries: list[TarEntry] = [
        TarDir("deep"),
        TarFile(long_name, size=5, opener=lambda: io.BytesIO(b"hello"), mode=0o600),
        TarFile("empty.txt", size=0, opener=lambda: io.BytesIO(b"")),
        TarFile("block.bin", size=512, opener=lambda: io.BytesIO(b"\1" * 512)),
    ]
    assert read_all(tar_stream(entries)) == {
        "deep": None,
        long_name: b"hello",
        "empty.txt": b"",
        "block.bin": b"\1" * 512,
    }


def test_stream_is_lazy_and_chunked() -> None:
    opened: list[str] = []

    def opener(name: str, size: int) -> BinaryIO:
        opened.append(name)
        return io.BytesIO(b"z" * size)

    entries = [TarFile(f"f{i}", size=300_000, opener=partial(opener, f"f{i}", 300_000)) for i in range(3)]
    stream = tar_stream(entries, chunk_size=64 * 1024)
    assert opened == []  # nothing read before the consumer asks
    first = next(stream)
    assert opened == [] and len(first) <= 64 * 1024  # the first header only
    sizes = [len(chunk) for chunk in stream]
    assert opened == ["f0", "f1", "f2"]
    assert max(sizes) <= 64 * 1024
    assert (len(first) + sum(sizes)) % 512 == 0


def test_file_that_shrank_is_an_error_not_a_corrupt_archive() -> None:
    entry = TarFile("data.csv", size=100, opener=lambda: io.BytesIO(b"only 11 b.."))
    with pytest.raises(RuntimeFailure, match=r"data.csv shrank .* expected 100 bytes, got 11"):
        list(tar_stream([entry]))


@pytest.mark.parametrize("name", ["../escape", "/", "a/../../b", ""])
def test_archive_names_must_stay_inside(name: str) -> None:
    with pytest.raises(RuntimeFailure, match="invalid archive member name"):
        list(tar_stream([TarDir(name)]))


def test_absolute_names_are_made_relative() -> None:
    assert list(read_all(tar_stream([TarDir("/job/inputs")]))) == ["job/inputs"]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(max_size=3000), min_size=1, max_size=5), st.integers(min_value=1, max_value=700))
def test_any_content_round_trips_with_any_read_size(blobs: list[bytes], read_size: int) -> None:
    entries = [TarFile(f"dir/f{i}", size=len(b), opener=partial(io.BytesIO, b)) for i, b in enumerate(blobs)]
    raw = b"".join(tar_stream(entries, chunk_size=97))
    # Re-chunk arbitrarily: the reader must not depend on chunk boundaries.
    pieces = [raw[i : i + read_size] for i in range(0, len(raw), read_size)]
    assert read_all(iter(pieces)) == {f"dir/f{i}": b for i, b in enumerate(blobs)}
    with tarfile.open(fileobj=io.BytesIO(raw)) as archive:  # a standard reader agrees
        assert archive.getnames() == [f"dir/f{i}" for i in range(len(blobs))]


def test_directory_entries_walk_a_local_tree(tmp_path: Path) -> None:
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "a.py").write_text("print(1)\n")
    (tmp_path / "src" / "sub" / "b.bin").write_bytes(os.urandom(10_000))
    (tmp_path / "src" / "link").symlink_to("/etc/passwd")
    got = read_all(tar_stream(directory_entries(tmp_path / "src", "job/code")))
    assert got == {
        "job/code": None,
        "job/code/sub": None,
        "job/code/a.py": b"print(1)\n",
        "job/code/sub/b.bin": (tmp_path / "src" / "sub" / "b.bin").read_bytes(),
    }


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.mark.parametrize(
    ("info", "why"),
    [
        (member("/etc/passwd"), "absolute path"),
        (member("../../x"), "leaves the destination"),
        (member("a/../../x"), "leaves the destination"),
        (member("out/link", tarfile.SYMTYPE, "/etc/passwd"), "leaves the archive"),
        (member("out/link", tarfile.SYMTYPE, "../../etc"), "leaves the archive"),
        (member("out/hard", tarfile.LNKTYPE, "../x"), "leaves the archive"),
        (member("out/dev", tarfile.CHRTYPE), "devices and FIFOs"),
    ],
)
def test_unsafe_members_are_refused(info: tarfile.TarInfo, why: str) -> None:
    with pytest.raises(RuntimeFailure, match=why):
        check_member(info)


def test_safe_members_pass() -> None:
    assert check_member(member("out/a/b.txt")) == "out/a/b.txt"
    assert check_member(member("out/link", tarfile.SYMTYPE, "a/b.txt")) == "out/link"


def test_extract_stream_refuses_traversal_and_writes_nothing_outside(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as archive:
        for name in ("out/ok.txt", "out/../../evil.txt"):
            info = tarfile.TarInfo(name)
            info.size = 2
            archive.addfile(info, io.BytesIO(b"hi"))
    dest = tmp_path / "dest"
    with pytest.raises(RuntimeFailure, match=r"evil\.txt"):
        extract_stream(TarReader(iter([buf.getvalue()])), dest)
    assert not (tmp_path / "evil.txt").exists()
    assert (dest / "out" / "ok.txt").read_bytes() == b"hi"


def test_extract_stream_strips_leading_component(tmp_path: Path) -> None:
    data = os.urandom(200_000)
    entries: list[TarEntry] = [
        TarDir("result"),
        TarDir("result/sub"),
        TarFile("result/sub/x.bin", len(data), lambda: io.BytesIO(data)),
    ]
    files = extract_stream(TarReader(tar_stream(entries)), tmp_path, strip_components=1)
    assert files == ["sub/x.bin"]
    assert hashlib.sha256((tmp_path / "sub" / "x.bin").read_bytes()).digest() == hashlib.sha256(data).digest()


def test_reader_close_closes_the_source() -> None:
    closed: list[bool] = []
    reader = TarReader(iter([b"abc"]), on_close=lambda: closed.append(True))
    assert reader.read(2) == b"ab"
    reader.close()
    reader.close()
    assert closed == [True]
