"""Reading a cached .npz in place: large arrays are mapped from the file, not copied.

A fitted model at MovieLens 32M's size holds arrays of hundreds of MB (SGD-MF's user and
movie factors, the hybrid's own factors), and most of them are never read by a bot: it
folds a person in from a few movies' rows and answers similar movies from a precomputed
table. Read with :func:`numpy.load`, every array is copied into the process; mapped, a page
is read from disk (and counts in the process's memory) only when something reads it, and
the bot and its image worker share the pages of the files they both open.

``np.savez`` stores members uncompressed, so each member's bytes sit at a fixed offset in
the file. Every member's CRC-32 is checked by streaming the file once (read, not mapped, so
the check does not keep the pages in this process), as :func:`numpy.load` would by reading
it whole: a damaged file is still refused at load. Small arrays, and members stored any
other way, are read as usual.

:func:`write_npz` writes what :func:`numpy.savez` writes, with each member's data starting
on a 64-byte boundary (padding in the zip's extra field, as Android's zipalign does): an
array mapped off its alignment would make numpy copy it whole for every product. A member
that is not aligned (a file written by ``np.savez``) is read, not mapped.

The mapping is copy-on-write, and of the very file whose checksums were checked: an array a
plugin changes in place changes only in its own process, never on disk. Cache files are only
ever replaced by a rename (see ``reelpick.cache.atomic_write``), which leaves a mapped file
whole; a file cut short in place by something outside reelpick while it is mapped would
crash the reader on the next access.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import numpy as np

MAP_FROM_BYTES = 1 << 20  # arrays smaller than this are read; copying them costs nothing
ALIGN = 64  # where write_npz starts each member's data (numpy pads .npy headers to 64 too)
_ZIP64_EXTRA = 20  # the zip64 field zipfile adds to a local header written with force_zip64
_PADDING_ID = 0xD935  # the extra field's id for padding (zipalign's)
_CHUNK = 1 << 24
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # the zip local file header before the name
_LOCAL_SIGNATURE = b"PK\x03\x04"


def read_npz(path: Path, map_from: int | None = None) -> dict[str, np.ndarray]:
    """Every array of the .npz at ``path``, those of ``map_from`` bytes or more (default
    :data:`MAP_FROM_BYTES`) mapped copy-on-write.

    Raises on anything that is not a whole .npz of plain arrays (a bad CRC, a truncated
    member, a pickled object), like :func:`numpy.load` does.
    """
    threshold = MAP_FROM_BYTES if map_from is None else map_from
    arrays: dict[str, np.ndarray] = {}
    with open(path, "rb") as raw, zipfile.ZipFile(raw) as archive:
        for member in archive.infolist():
            _check_crc(archive, member)
            name = member.filename.removesuffix(".npy")
            stored = member.compress_type == zipfile.ZIP_STORED
            # zipfile checks the CRC over compress_size bytes: map no more than it checked.
            whole = member.compress_size == member.file_size
            if not (stored and whole) or member.file_size < threshold:
                with archive.open(member) as fh:
                    arrays[name] = np.lib.format.read_array(fh, allow_pickle=False)
                continue
            arrays[name] = _mapped(raw, member)
    return arrays


def read_whole(arrays: Mapping[str, np.ndarray]) -> list[str]:
    """The arrays of :data:`MAP_FROM_BYTES` or more that :func:`read_npz` had to read rather
    than map (a file written by ``np.savez``: unaligned, or compressed)."""
    return [
        name
        for name, array in arrays.items()
        if array.nbytes >= MAP_FROM_BYTES and not is_mapped(array)
    ]


def is_mapped(array: np.ndarray) -> bool:
    """Whether ``array`` is (a view of) an array :func:`read_npz` mapped from its file."""
    base = array.base
    while base is not None and not isinstance(base, np.memmap):
        base = getattr(base, "base", None)
    return isinstance(base, np.memmap)


def _check_crc(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """Read ``member`` through (zipfile raises BadZipFile on a CRC mismatch at its end)."""
    with archive.open(member) as fh:
        while fh.read(_CHUNK):
            pass


def _mapped(raw: IO[bytes], member: zipfile.ZipInfo) -> np.ndarray:
    """A plain array over ``member``'s bytes in the file (copy-on-write)."""
    raw.seek(member.header_offset)
    header = raw.read(_LOCAL_HEADER.size)
    fields = _LOCAL_HEADER.unpack(header)
    if fields[0] != _LOCAL_SIGNATURE:
        raise zipfile.BadZipFile(f"bad local header for {member.filename}")
    name_length, extra_length = fields[-2], fields[-1]
    start = member.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    raw.seek(start)
    version = np.lib.format.read_magic(raw)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(raw)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(raw)
    else:
        raise ValueError(f"unsupported .npy version {version} in {member.filename}")
    if dtype.hasobject:
        raise ValueError(f"{member.filename} holds Python objects")
    offset = raw.tell()
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if offset - start + size != member.file_size:
        raise ValueError(f"{member.filename}: the header's shape does not match its size")
    if size == 0 or offset % max(dtype.alignment, 1):
        raw.seek(start)  # nothing to map, or off its alignment (see the module doc): read it
        return np.lib.format.read_array(raw, allow_pickle=False)
    mapped = np.memmap(
        raw, dtype=dtype, mode="c", offset=offset, shape=shape, order="F" if fortran else "C"
    )
    # A plain ndarray over the mapping (which it keeps alive as its base): the memmap
    # subclass would follow every slice and pickle into callers that never asked for it.
    return mapped.view(np.ndarray)


def write_npz(fh: IO[bytes], arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to the seekable ``fh`` as an uncompressed .npz (what ``np.savez``
    writes, readable by :func:`numpy.load`), each member's data on an :data:`ALIGN` boundary."""
    with zipfile.ZipFile(fh, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for key, value in arrays.items():
            array = np.asanyarray(value)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            header = _LOCAL_HEADER.size + len(info.filename.encode()) + _ZIP64_EXTRA
            info.extra = _padding(-(fh.tell() + header) % ALIGN)
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _padding(needed: int) -> bytes:
    """An extra field of exactly ``needed`` bytes, or ``needed + ALIGN`` when a field (4 bytes
    of id and length at least) cannot be that short."""
    if needed == 0:
        return b""
    if needed < 4:
        needed += ALIGN
    return struct.pack("<HH", _PADDING_ID, needed - 4) + bytes(needed - 4)
