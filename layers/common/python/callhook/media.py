"""WAV header parsing, once: the recording copy reads a file's layout from its first bytes (channels, rate,
duration for the dialog and the Transcribe job), the local Transcribe engine reads it to decode the samples."""

from __future__ import annotations

import struct
from dataclasses import dataclass

WAVE_FORMAT_EXTENSIBLE = 0xFFFE


def is_wav(head: bytes) -> bool:
    return len(head) >= 12 and head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE"


@dataclass(frozen=True)
class WavLayout:
    """What a RIFF/RF64 WAVE header says; None where the header (or the bytes read of it) does not say."""

    format_code: int | None = None  # 1 PCM, 3 float, 6 A-law, 7 mu-law (the sub-format of an extensible file)
    channels: int | None = None
    sample_rate: int | None = None
    byte_rate: int | None = None
    bits: int | None = None
    data_offset: int | None = None  # where the samples start; None: no data chunk among the bytes read
    data_bytes: int | None = None  # the declared length, bounded by the file (0 / 0xFFFFFFFF: up to its end)

    @property
    def duration_s(self) -> float | None:
        return round(self.data_bytes / self.byte_rate, 3) if self.data_bytes is not None and self.byte_rate else None


def wav_layout(head: bytes, size: int | None = None) -> WavLayout:
    """The `fmt ` chunk before the `data` chunk and where the data is, from `head` (the file's first bytes) of a
    file of `size` bytes (default: `head` is the whole file). Chunks are walked as RIFF pads them (to even sizes)."""
    size = len(head) if size is None else size
    fmt: dict[str, int] = {}
    offset = 12
    while offset + 8 <= len(head):
        chunk, length = head[offset:offset + 4], struct.unpack_from("<I", head, offset + 4)[0]
        body = offset + 8
        if chunk == b"fmt " and body + 16 <= len(head):
            code, channels, rate, byte_rate = struct.unpack_from("<HHII", head, body)
            bits = struct.unpack_from("<H", head, body + 14)[0]
            if code == WAVE_FORMAT_EXTENSIBLE and length >= 40 and body + 26 <= len(head):
                code = struct.unpack_from("<H", head, body + 24)[0]  # the real format is in the sub-format GUID
            fmt = {"format_code": code, "channels": channels, "sample_rate": rate, "byte_rate": byte_rate,
                   "bits": bits}
        elif chunk == b"data":
            available = size - body
            data_bytes = available if length in (0, 0xFFFFFFFF) or length > available else length
            return WavLayout(**fmt, data_offset=body, data_bytes=data_bytes)
        offset = body + length + (length & 1)
    return WavLayout(**fmt)
