"""Streaming a path out of a stopped container into a writer (stage-out's outputs, an s3-mount's sync-back)."""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol, cast

from airflow_provider_dsjobs.documents.manifest import StoredFile
from airflow_provider_dsjobs.runtime.base import ContainerRuntime
from airflow_provider_dsjobs.runtime.errors import PathNotFound, UnsafeMember
from airflow_provider_dsjobs.runtime.tarstream import check_member


class StreamWriter(Protocol):
    def put_stream(self, relpath: str, stream: BinaryIO) -> tuple[str, int]: ...


@dataclass
class Exported:
    """What ``export_into`` collected from one container path."""

    #: Each stored file.
    files: list[StoredFile] = field(default_factory=list)
    #: One line per archive member not collected (a link, a device, an unsafe name) saying why.
    skipped: list[str] = field(default_factory=list)
    #: Why the path itself was not collected (it is a symbolic link), or None.
    refused: str | None = None


def export_into(
    runtime: ContainerRuntime,
    cid: str,
    container_path: str,
    rel_parent: str,
    writer: StreamWriter,
    wanted: Callable[[str, tarfile.TarInfo], bool] | None = None,
) -> Exported | None:
    """Export ``container_path`` (file or dir) into the writer under ``rel_parent``; None when the path does
    not exist in the container. Regular files are collected (a hard link as the file it names); a symbolic
    link, a device or a member whose name could leave the destination is skipped and listed in ``skipped``,
    and a path that is itself a symbolic link is ``refused`` (its target, e.g. ``/etc/passwd``, is the
    container's, not an output). ``wanted(relpath, member)`` False passes a file over (a sync's unchanged one)."""
    try:
        reader = runtime.export(cid, container_path)
    except PathNotFound:
        return None
    result = Exported()
    top = posixpath.basename(container_path.rstrip("/"))
    with reader, reader.open_tar() as archive:
        for member in archive:
            if member.issym() and member.name.rstrip("/") == top:
                result.refused = f"is a symbolic link (to {member.linkname}), not a file or directory"
                break
            if member.issym():  # never recreated, so wherever it points is no danger, only not an output
                result.skipped.append(f"skipped {member.name!r}: a symbolic link to {member.linkname} (not collected)")
                continue
            try:
                name = check_member(member)
            except UnsafeMember as exc:
                result.skipped.append(f"skipped {exc}")
                continue
            if member.isdir():
                continue  # directories are implied by their files
            relpath = posixpath.join(rel_parent, name) if rel_parent else name
            if wanted is not None and not wanted(relpath, member):
                continue
            if member.islnk():  # a second name of a file: its bytes came earlier in the stream, so fetch it alone
                parent = posixpath.dirname(container_path.rstrip("/"))
                result.files += _export_file(runtime, cid, posixpath.join(parent, name), relpath, writer)
                continue
            stream = archive.extractfile(member)
            assert stream is not None
            with stream:
                sha, size = writer.put_stream(relpath, cast(BinaryIO, stream))
            result.files.append(StoredFile(relpath, sha, size))
    return result


def _export_file(
    runtime: ContainerRuntime, cid: str, container_path: str, relpath: str, writer: StreamWriter
) -> list[StoredFile]:
    """The one regular file at ``container_path``, stored as ``relpath`` (a hard link exported on its own)."""
    with runtime.export(cid, container_path) as reader, reader.open_tar() as archive:
        for member in archive:
            if member.isfile():
                stream = archive.extractfile(member)
                assert stream is not None
                with stream:
                    sha, size = writer.put_stream(relpath, cast(BinaryIO, stream))
                return [StoredFile(relpath, sha, size)]
    return []


class StripFirst:
    """An OutputWriter proxy that drops the first path component (the exported directory's own name)."""

    def __init__(self, writer: StreamWriter) -> None:
        self._writer = writer

    def put_stream(self, relpath: str, stream: BinaryIO) -> tuple[str, int]:
        _, _, rest = relpath.partition("/")
        return self._writer.put_stream(rest or relpath, stream)
