"""LineSplitter: lines rebuilt from arbitrary byte chunks, bounded in size, UTF-8 safe."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_dsjobs.runtime.logs import LineSplitter


def split_all(chunks: list[bytes], max_line: int = 64 * 1024) -> list[str]:
    splitter = LineSplitter(max_line)
    lines: list[str] = []
    for chunk in chunks:
        lines.extend(splitter.feed(chunk))
    return lines + splitter.flush()


def test_lines_across_chunk_boundaries_and_partial_last_line() -> None:
    assert split_all([b"fir", b"st\nsec", b"ond\r\n", b"\n", b"tail"]) == ["first", "second", "", "tail"]


def test_multibyte_character_split_between_chunks() -> None:
    data = "привет, мир\n".encode()
    assert split_all([data[i : i + 1] for i in range(len(data))]) == ["привет, мир"]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert split_all([b"\xffabc\n", b"ok\xc3"]) == ["\ufffdabc", "ok\ufffd"]


def test_long_line_is_split_at_max_line() -> None:
    lines = split_all([b"x" * 25, b"\n", b"y" * 10], max_line=10)
    assert lines == ["x" * 10, "x" * 10, "x" * 5, "y" * 10]


def test_no_output_gives_no_lines() -> None:
    assert split_all([]) == []
    assert split_all([b""]) == []


@given(
    st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40), max_size=20),
    st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=10),
)
def test_any_chunking_gives_the_same_lines(lines: list[str], cuts: list[int]) -> None:
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    data = "".join(line + "\n" for line in lines).encode()
    chunks, pos, i = [], 0, 0
    while pos < len(data):
        step = cuts[i % len(cuts)]
        chunks.append(data[pos : pos + step])
        pos += step
        i += 1
    expected: list[str] = []
    for line in lines:  # a line longer than 16 characters comes out in 16-character parts
        expected.extend([line[j : j + 16] for j in range(0, len(line), 16)] or [""])
    assert split_all(chunks, max_line=16) == expected


@given(st.lists(st.sampled_from(["", "a", "é", "x" * 15, "y" * 16, "z" * 17, "w\r", "\r"]), max_size=12))
def test_whole_lines_per_chunk_give_the_same_lines(lines: list[str]) -> None:
    """Docker sends one message per line: whole lines per chunk, around the length limit, with CRLF endings."""
    expected: list[str] = []
    for line in lines:
        text = line.removesuffix("\r")
        expected.extend([text[j : j + 16] for j in range(0, len(text), 16)] or [""])
    assert split_all([(line + "\n").encode() for line in lines], max_line=16) == expected
    assert split_all(["".join(line + "\n" for line in lines).encode()], max_line=16) == expected
