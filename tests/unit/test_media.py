"""WAV header parsing, once (callhook.media): what the recording copy and the local engine both read."""

from __future__ import annotations

import struct

from callhook.media import is_wav, wav_layout


def wav(fmt_code: int = 1, channels: int = 1, rate: int = 8000, bits: int = 16, data: bytes = b"\x00\x01" * 8000,
        *, declared: int | None = None, extensible_sub: int | None = None, extra_chunk: bytes = b"") -> bytes:
    block = channels * bits // 8
    if extensible_sub is None:
        fmt = struct.pack("<HHIIHH", fmt_code, channels, rate, rate * block, block, bits)
    else:
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * block, block, bits, 22, bits, 0)
        fmt += struct.pack("<H", extensible_sub) + b"\x00" * 14
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra_chunk
    body += b"data" + struct.pack("<I", len(data) if declared is None else declared) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_a_plain_pcm_file() -> None:
    layout = wav_layout(wav())
    assert (layout.format_code, layout.channels, layout.sample_rate, layout.bits) == (1, 1, 8000, 16)
    assert layout.data_bytes == 16000 and layout.duration_s == 1.0


def test_the_sub_format_of_an_extensible_file() -> None:
    assert wav_layout(wav(bits=8, extensible_sub=7)).format_code == 7


def test_an_odd_sized_chunk_is_padded_before_the_next() -> None:
    layout = wav_layout(wav(extra_chunk=b"LIST" + struct.pack("<I", 3) + b"abc\x00"))
    assert layout.data_bytes == 16000


def test_a_streamed_length_or_one_past_the_end_is_bounded_by_the_file() -> None:
    assert wav_layout(wav(declared=0xFFFFFFFF)).data_bytes == 16000
    assert wav_layout(wav(declared=10**9)).data_bytes == 16000


def test_the_first_bytes_of_a_larger_file_give_its_duration() -> None:
    whole = wav(data=b"\x00" * 160_000)
    assert wav_layout(whole[:64], size=len(whole)).duration_s == 10.0


def test_no_data_chunk_and_not_a_wav() -> None:
    assert wav_layout(wav()[:40]).data_offset is None
    assert not is_wav(b"ID3\x04") and is_wav(wav())
