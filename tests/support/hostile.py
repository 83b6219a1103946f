"""Hostile inputs shared by the fuzz test and bench/bench_hostile.py."""

from __future__ import annotations

import struct
import zlib

LETTERBOXD = "Date,Name,Year,Letterboxd URI,Rating\n"
HEAT_ROW = "2021-03-01,Heat,1995,https://boxd.it/29YU,4.5\n"


def strip_png(width: int = 1, height: int = 40_000_000) -> bytes:
    """A whole, valid black PNG of ``width`` x ``height``: 1 x 40,000,000 is about 155 KB."""
    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row * 100_000) for _ in range(height // 100_000))
    body += packer.compress(row * (height % 100_000)) + packer.flush()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )
