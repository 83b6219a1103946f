"""An append-only pack of checksummed records, shared by every process that opens it.

Posters' features are a few KB each, so one file per poster wastes most of a disk block per
poster; a pack holds them back to back. Each record is a 32-byte header (magic, a 16-byte
key, the payload length, a CRC-32 of the header and a CRC-32 of header + payload) and its
payload. The pack never rewrites a record in place:

* writers append under an exclusive ``flock`` on a lock file beside the pack, so the bot,
  an image worker and the CLI can write at once; a record for a key that is already there
  supersedes it (the last good record of a key wins);
* readers take no lock: they index the headers once, then re-scan only the tail when the
  file grew or a key is missing;
* a crash mid-append leaves a torn tail that no reader indexes and the next writer cuts
  off; earlier records are never touched. A header that fails its CRC is skipped by
  searching for the next good header, and a payload that fails its CRC reads as missing:
  either way the caller computes the value again and appends it;
* when dead bytes (superseded or damaged records) pass :attr:`FeaturePack.DEAD_SHARE` of
  the file, the writer copies the live records into a new file and renames it over the
  pack; readers that still hold the old file keep reading it until they next refresh.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import threading
import zlib
from pathlib import Path

log = logging.getLogger(__name__)

MAGIC = b"RPVR"
HEADER = struct.Struct("<4s16sIII")  # magic, key, payload length, header CRC, record CRC
KEY_BYTES = 16
MAX_PAYLOAD = 1 << 26  # far above any feature vector: a larger length is a damaged header
RESYNC_CHUNK = 1 << 20


def _header_crc(fields: bytes) -> int:
    return zlib.crc32(fields[:24])  # magic, key and length


def _record_crc(fields: bytes, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(fields[:28]))  # every field but itself, + payload


def _record(key: bytes, payload: bytes) -> bytes:
    head = MAGIC + key + struct.pack("<I", len(payload))
    head += struct.pack("<I", _header_crc(head))
    return head + struct.pack("<I", _record_crc(head, payload)) + payload


class FeaturePack:
    """One pack file: records by key. Use :meth:`open`, which shares one index per file and
    process (a plugin makes a store per call; the pack is scanned once)."""

    DEAD_SHARE = 0.5  # compact when this share of the file is dead records ...
    COMPACT_MIN_BYTES = 1 << 20  # ... and the file is at least this large

    _open: dict[tuple[int, Path], FeaturePack] = {}
    _open_lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> FeaturePack:
        key = (os.getpid(), Path(path).absolute())  # a forked child must not share locks
        with cls._open_lock:
            if key not in cls._open:
                cls._open[key] = cls(key[1])
            return cls._open[key]

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._inode: tuple[int, int] | None = None
        self._reset()

    def _reset(self) -> None:
        self._index: dict[bytes, tuple[int, int]] = {}  # key -> (payload offset, length)
        self._end = 0  # where the scan stopped: the end of the last complete record
        self._dead = 0  # bytes of superseded, damaged or unreadable records before _end

    # -- reading --------------------------------------------------------------------------

    def __contains__(self, key: bytes) -> bool:
        with self._lock:
            if key not in self._index:
                self._refresh()
            return key in self._index

    def __len__(self) -> int:
        with self._lock:
            self._refresh()
            return len(self._index)

    def get(self, key: bytes) -> bytes | None:
        """The payload of ``key``'s last record, or None when there is none or it is damaged
        (logged; the record then counts as dead until a new one supersedes it)."""
        with self._lock:
            if key not in self._index:
                self._refresh()
            where = self._index.get(key)
            if where is None or self._fd is None:
                return None
            offset, length = where
            start = offset - HEADER.size
            blob = os.pread(self._fd, HEADER.size + length, start)
            fields, payload = blob[: HEADER.size], blob[HEADER.size :]
            if len(payload) == length and HEADER.unpack(fields)[4] == _record_crc(fields, payload):
                return payload
            log.warning("a record in %s is damaged; its value will be computed again", self.path)
            del self._index[key]
            self._dead += HEADER.size + length
            return None

    def span(self, key: bytes) -> tuple[int, int] | None:
        """(offset, length) of ``key``'s whole record (header + payload) in the file."""
        with self._lock:
            if key not in self._index:
                self._refresh()
            where = self._index.get(key)
            return None if where is None else (where[0] - HEADER.size, HEADER.size + where[1])

    def _refresh(self) -> None:
        """Follow the file: reopen it when another process replaced it (compaction), index
        what was appended since the last scan."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._close()
            self._reset()
            return
        if self._fd is None or (stat.st_dev, stat.st_ino) != self._inode:
            self._close()
            self._reset()
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
            fstat = os.fstat(self._fd)
            self._inode = (fstat.st_dev, fstat.st_ino)
            size = fstat.st_size
        else:
            size = stat.st_size
        if size < self._end:  # cut shorter by hand: start over
            self._reset()
        if size > self._end:
            self._scan(size)

    def _scan(self, size: int) -> None:
        assert self._fd is not None
        position = self._end
        skipped = 0  # damaged bytes before ``position``, counted once a record follows them
        while position + HEADER.size <= size:
            fields = os.pread(self._fd, HEADER.size, position)
            if len(fields) < HEADER.size:
                break
            magic, key, length, header_crc, _ = HEADER.unpack(fields)
            if magic != MAGIC or header_crc != _header_crc(fields) or length > MAX_PAYLOAD:
                found = self._next_header(position + 1, size)
                if found is None:
                    break  # a torn or damaged tail: not indexed, cut by the next writer
                skipped += found - position
                position = found
                continue
            end = position + HEADER.size + length
            if end > size:
                break  # still being written, or torn by a crash
            if skipped:
                log.warning("skipped %d damaged bytes in %s", skipped, self.path)
                self._dead += skipped
                skipped = 0
            previous = self._index.get(key)
            if previous is not None:
                self._dead += HEADER.size + previous[1]
            self._index[key] = (position + HEADER.size, length)
            position = self._end = end

    def _next_header(self, start: int, size: int) -> int | None:
        """The offset of the next valid header at or after ``start``, if any."""
        assert self._fd is not None
        position = start
        while position < size:
            chunk = os.pread(self._fd, RESYNC_CHUNK + HEADER.size, position)
            at = chunk.find(MAGIC)
            while at != -1:
                fields = chunk[at : at + HEADER.size]
                if len(fields) < HEADER.size:
                    break
                _, _, length, header_crc, _ = HEADER.unpack(fields)
                if header_crc == _header_crc(fields) and length <= MAX_PAYLOAD:
                    return position + at
                at = chunk.find(MAGIC, at + 1)
            position += RESYNC_CHUNK
        return None

    # -- writing --------------------------------------------------------------------------

    def append(self, key: bytes, payload: bytes) -> None:
        """Add ``key``'s record after every other (it supersedes an earlier one)."""
        if len(key) != KEY_BYTES or len(payload) > MAX_PAYLOAD:
            raise ValueError(f"a key is {KEY_BYTES} bytes and a payload at most {MAX_PAYLOAD}")
        record = _record(key, payload)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self._writing():
            assert self._fd is not None
            size = os.fstat(self._fd).st_size
            if size > self._end:  # a torn tail of a crashed writer (no writer is active now)
                log.warning(
                    "cut a torn or damaged tail of %d bytes off %s", size - self._end, self.path
                )
                os.ftruncate(self._fd, self._end)
            os.write(self._fd, record)
            previous = self._index.get(key)
            if previous is not None:
                self._dead += HEADER.size + previous[1]
            self._index[key] = (self._end + HEADER.size, len(payload))
            self._end += len(record)
            if self._end >= self.COMPACT_MIN_BYTES and self._dead > self.DEAD_SHARE * self._end:
                self._compact()

    def _writing(self) -> _ExclusiveLock:
        """The writers' lock, with the pack open and indexed to its end once it is held."""
        return _ExclusiveLock(self)

    def _compact(self) -> None:
        """Rewrite the live records, whose CRCs still hold, into a new file that replaces
        this one (called with the writers' lock held)."""
        assert self._fd is not None
        temporary = self.path.with_name(self.path.name + ".compacting")
        index: dict[bytes, tuple[int, int]] = {}
        written = 0
        with open(temporary, "wb") as out:
            for key, (offset, length) in sorted(self._index.items(), key=lambda kv: kv[1][0]):
                blob = os.pread(self._fd, HEADER.size + length, offset - HEADER.size)
                fields, payload = blob[: HEADER.size], blob[HEADER.size :]
                if len(payload) != length or HEADER.unpack(fields)[4] != _record_crc(
                    fields, payload
                ):
                    continue
                out.write(blob)
                index[key] = (written + HEADER.size, length)
                written += len(blob)
            out.flush()
            os.fsync(out.fileno())
        before = self._end
        os.replace(temporary, self.path)
        self._close()
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        fstat = os.fstat(self._fd)
        self._inode = (fstat.st_dev, fstat.st_ino)
        self._index, self._end, self._dead = index, written, 0
        log.info("compacted %s: %d -> %d bytes", self.path, before, written)

    def __del__(self) -> None:
        self._close()

    def _close(self) -> None:
        fd = getattr(self, "_fd", None)  # absent when __init__ did not get that far
        if fd is not None:
            os.close(fd)
        self._fd = None
        self._inode = None


class _ExclusiveLock:
    """``flock`` on the pack's lock file; once held, the pack is (re)opened and scanned."""

    def __init__(self, pack: FeaturePack) -> None:
        self.pack = pack
        self.fd = -1

    def __enter__(self) -> None:
        self.fd = os.open(self.pack.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            if not self.pack.path.exists():
                os.close(os.open(self.pack.path, os.O_WRONLY | os.O_CREAT, 0o644))
            self.pack._refresh()
        except BaseException:
            os.close(self.fd)
            raise

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing the descriptor releases the lock
