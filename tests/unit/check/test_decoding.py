"""Bytes to text: encodings, signatures, line ends, and where a bad byte is."""

from __future__ import annotations

import io

import pytest

from metrika_offline.check.decoding import DecodeProblem, TextBlocks, looks_like_windows_1251
from tests.unit.check.helpers import TrickleStream


def _decode(data: bytes, *, step: int | None = None, block: int = 1 << 18) -> TextBlocks:
    stream = TrickleStream(data, step) if step else io.BytesIO(data)
    return TextBlocks(stream, block_bytes=block)  # type: ignore[arg-type]


def _text(data: bytes, **kwargs: int) -> tuple[str, TextBlocks]:
    blocks = _decode(data, **kwargs)
    return "".join(blocks), blocks


def test_utf8_with_and_without_bom() -> None:
    text, blocks = _text("a,б\n".encode())
    assert (text, blocks.encoding) == ("a,б\n", "utf-8")
    text, blocks = _text("\ufeffa,б\n".encode())
    assert (text, blocks.encoding) == ("a,б\n", "utf-8-sig")


def test_windows_1251_is_detected_and_transcoded() -> None:
    source = "ClientId;Target\n1;оплата заказа\n2;Ёлка\n"
    text, blocks = _text(source.encode("cp1251"))
    assert text == source
    assert blocks.encoding == "windows-1251"
    assert blocks.transcoded_at_line == 2


@pytest.mark.parametrize("step", [1, 3, 7, 1000])
def test_characters_and_crlf_split_across_reads_survive(step: int) -> None:
    source = "a,бв,😀\r\nc,d\r\n\r\nе,ё\rlast"
    text, _ = _text(source.encode(), step=step, block=5)
    assert text == "a,бв,😀\nc,d\n\nе,ё\nlast"


def test_a_bad_byte_is_located_by_line_and_offset() -> None:
    data = "a,б\nc,d\n".encode() + b"x,\xff\n"
    with pytest.raises(DecodeProblem) as caught:
        _text(data, step=4, block=4)
    problem = caught.value
    assert problem.code == "bad-encoding"
    assert problem.line == 3
    offset = data.index(b"\xff")
    assert f"byte offset {offset}" in problem.message


def test_cp1251_after_utf8_cyrillic_is_rejected_not_guessed() -> None:
    data = "1,оплата\n".encode() + "2,оплата\n".encode("cp1251")
    with pytest.raises(DecodeProblem) as caught:
        _text(data)
    assert (caught.value.code, caught.value.line) == ("bad-encoding", 2)


def test_nul_bytes_and_binary_signatures_are_not_text() -> None:
    with pytest.raises(DecodeProblem) as caught:
        _text(b"a,b\nc,\x00d\n")
    assert (caught.value.code, caught.value.line) == ("binary-file", 2)
    assert "byte offset 6" in caught.value.message
    for signature in (b"\xff\xfea\x00", b"PK\x03\x04rest", b"\x1f\x8b\x08\x00"):
        with pytest.raises(DecodeProblem) as caught:
            _text(signature, step=1)
        assert caught.value.code == "binary-file"


def test_a_file_cut_inside_a_character_is_rejected() -> None:
    with pytest.raises(DecodeProblem) as caught:
        _text("a,б".encode()[:-1])
    assert caught.value.code == "bad-encoding"


def test_progress_reports_bytes_read() -> None:
    seen: list[int] = []
    data = b"x" * 10 + b"\n" + b"y" * 10
    blocks = TextBlocks(io.BytesIO(data), block_bytes=8, progress=seen.append)
    list(blocks)
    assert seen == sorted(seen)
    assert seen[-1] == len(data) == blocks.bytes_read


def test_windows_1251_plausibility() -> None:
    assert looks_like_windows_1251("Привет, мир".encode("cp1251"))
    assert not looks_like_windows_1251(bytes(range(0x80, 0xC0)))
    assert not looks_like_windows_1251(b"plain ascii")
    assert not looks_like_windows_1251("Привет".encode("cp1251") + b"\x98")


def test_every_block_but_the_last_ends_on_a_line_end() -> None:
    """The reader then takes each block whole, without gluing halves of lines together."""
    data = "".join(f"u{i},звонок {i},+7912{i:07d}\r\n" for i in range(500)).encode() + b"tail"
    blocks = list(_decode(data, block=1_000))
    assert len(blocks) > 10
    assert all(block.endswith("\n") for block in blocks[:-1])
    assert "".join(blocks) == data.decode().replace("\r\n", "\n")


def test_a_block_without_a_line_end_is_passed_on_whole() -> None:
    data = b"x" * 5_000 + b"\n" + b"y" * 10
    assert "".join(_decode(data, block=1_000)) == data.decode()
