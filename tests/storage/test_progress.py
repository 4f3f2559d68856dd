"""Progress output: plain lines off a terminal, a redrawn bar on one; human-readable sizes."""

from __future__ import annotations

import io
import threading

import pytest

from airflow_provider_dsjobs.documents.sizes import human_size
from airflow_provider_dsjobs.storage.progress import TransferProgress


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (12 * 1024**2, "12.0 MiB"),
        (5 * 1024**3, "5.0 GiB"),
        (3 * 1024**5, "3.0 PiB"),
    ],
)
def test_human_size(n: int, text: str) -> None:
    assert human_size(n) == text


def test_plain_lines_for_logs() -> None:
    out = io.StringIO()
    progress = TransferProgress("download", out)
    progress.start(3, 12 * 1024**2)
    for _ in range(12):
        progress.update(1024**2)
    progress.finish()
    lines = out.getvalue().splitlines()
    assert lines[0] == "downloading 3 files (12.0 MiB)…"
    assert lines[1].startswith("downloaded 12.0 MiB in ") and lines[1].endswith(" s")
    assert len(lines) == 2


def test_one_file_is_singular() -> None:
    out = io.StringIO()
    TransferProgress("upload", out).start(1, 10)
    assert out.getvalue() == "uploading 1 file (10 B)…\n"


def test_bar_on_a_terminal_counts_updates_from_many_threads() -> None:
    out = io.StringIO()
    progress = TransferProgress("upload", out, tty=True)
    progress.start(2, 8000)

    def worker() -> None:
        for _ in range(1000):
            progress.update(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    progress.finish()
    assert progress.transferred == 8000
    text = out.getvalue()
    assert text.startswith("\ruploading [")
    assert "100.0% 7.8 KiB/7.8 KiB\n" in text
    assert text.endswith("uploaded 7.8 KiB in " + text.rsplit(" in ", 1)[1])
