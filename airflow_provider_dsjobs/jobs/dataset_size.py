"""An output dataset's declared ``size`` is a limit: a larger dataset is not published.

``SizeLimitedWriter`` wraps the writer that uploads a dataset's files and stops reading once the total would pass
the limit (the object being uploaded is cut short there, so no more than the limit is ever transferred), then
raises ``OverLimit``. ``publish_dataset`` (``jobs/stage_out.py``) then deletes what it uploaded, counts the
dataset's true size from the container (``exported_size``: tar headers, the data streamed past and dropped) and
raises ``DatasetTooLarge``, whose message names the dataset, its size and the limit; the job ends ERROR with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO, Protocol, cast

from airflow_provider_dsjobs.documents.sizes import human_size

if TYPE_CHECKING:
    from airflow_provider_dsjobs.runtime.base import ContainerRuntime


class _StreamWriter(Protocol):
    def put_stream(self, relpath: str, stream: BinaryIO) -> tuple[str, int]: ...


class OverLimit(Exception):
    """The files written so far pass the limit (raised between files, never inside an upload)."""


class DatasetTooLarge(Exception):
    def __init__(self, name: str, size: int, limit: int) -> None:
        self.name, self.size, self.limit = name, size, limit
        super().__init__(
            f"output dataset {name!r} is {human_size(size)} ({size} bytes), over its declared size "
            f"{human_size(limit)} ({limit} bytes): not published"
        )


class _Capped:
    """A reader that ends (EOF) where the writer's budget does, and says whether data was left unread."""

    def __init__(self, stream: BinaryIO, owner: SizeLimitedWriter) -> None:
        self._stream, self._owner = stream, owner

    def read(self, n: int = -1) -> bytes:
        room = self._owner.limit - self._owner.total
        if room <= 0:
            if self._stream.read(1):
                self._owner.over = True
            return b""
        data = self._stream.read(room if n is None or n < 0 else min(n, room))
        self._owner.total += len(data)
        return data

    def readable(self) -> bool:
        return True


class SizeLimitedWriter:
    """Passes files on to ``writer`` until their total passes ``limit`` bytes, then raises ``OverLimit``."""

    def __init__(self, writer: _StreamWriter, limit: int) -> None:
        self._writer, self.limit = writer, limit
        self.total = 0
        self.over = False

    def put_stream(self, relpath: str, stream: BinaryIO) -> tuple[str, int]:
        if self.over:
            raise OverLimit
        result = self._writer.put_stream(relpath, cast(BinaryIO, _Capped(stream, self)))
        if self.over:
            raise OverLimit
        return result


def exported_size(runtime: ContainerRuntime, cid: str, container_path: str) -> int:
    """The bytes of the regular files under ``container_path`` in the container (bounded memory)."""
    total = 0
    with runtime.export(cid, container_path) as reader, reader.open_tar() as archive:
        for member in archive:
            if member.isfile():
                total += member.size
    return total
