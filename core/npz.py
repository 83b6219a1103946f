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

The mapping is copy-on-write: an array a plugin changes in place changes only in its own
process, never on disk. Cache files are only ever replaced by a rename (see
``reelpick.cache.atomic_write``), which leaves a mapped file whole; a file cut short in place
by something outside reelpick while it is mapped would crash the reader on the next access.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from typing import IO

import numpy as np

MAP_FROM_BYTES = 1 << 20  # arrays smaller than this are read; copying them costs nothing
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
            if member.compress_type != zipfile.ZIP_STORED or member.file_size < threshold:
                with archive.open(member) as fh:
                    arrays[name] = np.lib.format.read_array(fh, allow_pickle=False)
                continue
            arrays[name] = _mapped(path, raw, member)
    return arrays


def _check_crc(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """Read ``member`` through (zipfile raises BadZipFile on a CRC mismatch at its end)."""
    with archive.open(member) as fh:
        while fh.read(_CHUNK):
            pass


def _mapped(path: Path, raw: IO[bytes], member: zipfile.ZipInfo) -> np.ndarray:
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
    if size == 0:
        return np.empty(shape, dtype=dtype, order="F" if fortran else "C")
    mapped = np.memmap(
        path, dtype=dtype, mode="c", offset=offset, shape=shape, order="F" if fortran else "C"
    )
    # A plain ndarray over the mapping (which it keeps alive as its base): the memmap
    # subclass would follow every slice and pickle into callers that never asked for it.
    return mapped.view(np.ndarray)
