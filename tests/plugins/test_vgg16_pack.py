"""The pack that holds vgg16-poster's features: records by key, appended by several processes
at once, damage read as a miss, compaction (no TensorFlow needed)."""

from __future__ import annotations

import fcntl
import logging
import multiprocessing
import time
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from reelpick.plugins._vgg16_pack import HEADER, FeaturePack


def key(n: int) -> bytes:
    return n.to_bytes(16, "big")


def payload(n: int, size: int | None = None) -> bytes:
    size = 200 + (n * 37) % 3000 if size is None else size
    return (n.to_bytes(4, "big") * (size // 4 + 1))[:size]


def fresh(path: Path) -> FeaturePack:
    """A pack object of its own: what another process that opens the file sees."""
    return FeaturePack(path)


def test_round_trip_many_keys_and_the_last_record_wins(tmp_path: Path) -> None:
    path = tmp_path / "features.pack"
    pack = FeaturePack.open(path)
    assert FeaturePack.open(path) is pack  # one index per file and process
    assert pack.get(key(1)) is None and key(1) not in pack and len(pack) == 0
    for n in range(2000):
        pack.append(key(n), payload(n))
    pack.append(key(7), b"seven, again")
    reader = fresh(path)
    assert len(reader) == 2000
    assert all(reader.get(key(n)) == payload(n) for n in range(2000) if n != 7)
    assert reader.get(key(7)) == b"seven, again" == pack.get(key(7))
    records = sum(HEADER.size + len(payload(n)) for n in range(2000))
    assert path.stat().st_size == records + HEADER.size + len(b"seven, again")
    with pytest.raises(ValueError):
        pack.append(b"short", b"x")


def test_a_reader_follows_what_others_append(tmp_path: Path) -> None:
    path = tmp_path / "features.pack"
    reader = fresh(path)
    assert key(1) not in reader  # no file yet
    writer = fresh(path)
    writer.append(key(1), payload(1))
    assert reader.get(key(1)) == payload(1)
    writer.append(key(1), b"newer")
    assert reader.get(key(1)) == payload(1)  # an indexed key is read without a rescan ...
    reader.append(key(2), payload(2))  # ... until the reader writes, or misses
    assert reader.get(key(1)) == b"newer"


def _append_many(path: str, first: int, count: int, start: Event):
    pack = FeaturePack.open(Path(path))  # the parent's open pack, inherited by fork
    start.wait()
    for n in range(first, first + count):
        pack.append(key(n), payload(n, 2000 + n % 5000))
    for n in range(50):  # both processes write these keys too
        pack.append(key(10**6 + n), payload(first + n))


def test_two_processes_append_at_once(tmp_path: Path) -> None:
    path = tmp_path / "features.pack"
    parent = FeaturePack.open(path)
    parent.append(key(0), payload(0))
    context = multiprocessing.get_context("fork")
    start = context.Event()
    workers = [
        context.Process(target=_append_many, args=(str(path), first, 400, start))
        for first in (1, 1001)
    ]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]
    for pack in (parent, fresh(path)):  # the parent's older index catches up
        assert len(pack) == 1 + 800 + 50
        assert pack.get(key(0)) == payload(0)
        for n in [*range(1, 401), *range(1001, 1401)]:
            assert pack.get(key(n)) == payload(n, 2000 + n % 5000), n
        for n in range(50):
            assert pack.get(key(10**6 + n)) in (payload(1 + n), payload(1001 + n))
    # Nothing was torn or interleaved: the file is exactly its records, back to back.
    sizes = [len(payload(0))]
    sizes += [2000 + n % 5000 for n in [*range(1, 401), *range(1001, 1401)]]
    sizes += [len(payload(1 + n)) for n in range(50)] + [len(payload(1001 + n)) for n in range(50)]
    assert path.stat().st_size == sum(HEADER.size + s for s in sizes)


def _append_when_told(path: str, go: Event, ready: Event) -> None:
    go.wait()
    ready.set()
    FeaturePack.open(Path(path)).append(key(2), payload(2))


def test_a_writer_waits_for_the_one_appending(tmp_path: Path) -> None:
    """A record half written by a writer that holds the lock is not a torn tail to cut:
    another process appends after it, once the lock is released."""
    scratch = FeaturePack(tmp_path / "scratch.pack")
    scratch.append(key(1), payload(1, 5000))
    record = scratch.path.read_bytes()
    path = tmp_path / "features.pack"
    FeaturePack(path).append(key(0), payload(0))
    context = multiprocessing.get_context("fork")
    go, ready = context.Event(), context.Event()
    # Started before the lock is taken, so that it does not inherit the locked descriptor.
    other = context.Process(target=_append_when_told, args=(str(path), go, ready))
    other.start()
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(path, "ab") as out:
            out.write(record[:3000])
            out.flush()
            go.set()
            ready.wait()
            time.sleep(0.3)  # time for it to reach the lock (the test cannot pass wrongly)
            out.write(record[3000:])
    other.join(timeout=60)
    assert other.exitcode == 0
    reader = fresh(path)
    assert [reader.get(key(n)) for n in range(3)] == [payload(0), payload(1, 5000), payload(2)]


def test_a_torn_tail_is_a_miss_and_the_next_writer_cuts_it(tmp_path: Path, caplog) -> None:
    path = tmp_path / "features.pack"
    writer = fresh(path)
    for n in range(3):
        writer.append(key(n), payload(n))
    blob = path.read_bytes()
    third = HEADER.size + len(payload(2))
    # A crash in the middle of appending the third record: in its header, at the end of its
    # header, one byte short (the last: a sound header that promises more than is there).
    for cut in (len(blob) - third + 5, len(blob) - third + HEADER.size, len(blob) - 1):
        path.write_bytes(blob[:cut])
        reader = fresh(path)
        assert reader.get(key(0)) == payload(0) and reader.get(key(1)) == payload(1)
        assert reader.get(key(2)) is None and key(2) not in reader
    with caplog.at_level(logging.WARNING):
        fresh(path).append(key(3), payload(3))
    assert "torn or damaged tail" in caplog.text
    reader = fresh(path)
    assert [reader.get(key(n)) for n in range(4)] == [payload(0), payload(1), None, payload(3)]
    reader.append(key(2), payload(2))  # computed again
    assert fresh(path).get(key(2)) == payload(2)


@pytest.mark.parametrize("where", ["payload", "header", "length"])
def test_a_flipped_byte_in_a_middle_record_is_a_miss_then_recomputed(
    tmp_path: Path, where: str, caplog
) -> None:
    path = tmp_path / "features.pack"
    writer = fresh(path)
    for n in range(5):
        writer.append(key(n), payload(n))
    offset, length = writer.span(key(2))
    at = {"payload": offset + length // 2, "header": offset + 10, "length": offset + 21}[where]
    blob = bytearray(path.read_bytes())
    blob[at] ^= 0x40
    path.write_bytes(bytes(blob))
    reader = fresh(path)
    with caplog.at_level(logging.WARNING):
        assert reader.get(key(2)) is None  # detected: never an exception
    assert "damaged" in caplog.text
    assert [reader.get(key(n)) for n in (0, 1, 3, 4)] == [payload(n) for n in (0, 1, 3, 4)]
    reader.append(key(2), payload(2))
    assert fresh(path).get(key(2)) == payload(2) == reader.get(key(2))
    assert len(fresh(path)) == 5


def test_dead_records_are_compacted_away(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(FeaturePack, "COMPACT_MIN_BYTES", 64 * 1024)
    path = tmp_path / "features.pack"
    writer = fresh(path)
    for n in range(20):
        writer.append(key(n), payload(n, 1000))
    old_reader = fresh(path)
    assert old_reader.get(key(5)) == payload(5, 1000)
    for round_ in range(10):  # the same keys again and again: superseded records pile up
        for n in range(20):
            writer.append(key(n), payload(n + round_, 1000))
    live = 20 * (HEADER.size + 1000)
    assert path.stat().st_size < 3 * live  # without compaction: 11x
    assert old_reader.get(key(5)) == payload(5, 1000)  # its file is gone but still open
    old_reader.append(key(99), b"after the compaction")
    for pack in (old_reader, fresh(path)):
        assert [pack.get(key(n)) for n in range(20)] == [payload(n + 9, 1000) for n in range(20)]
        assert pack.get(key(99)) == b"after the compaction"
    assert not list(tmp_path.glob("*.compacting"))


def test_compaction_drops_damaged_records(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(FeaturePack, "COMPACT_MIN_BYTES", 16 * 1024)
    path = tmp_path / "features.pack"
    writer = fresh(path)
    for n in range(10):
        writer.append(key(n), payload(n, 1000))
    offset, length = writer.span(key(4))
    blob = bytearray(path.read_bytes())
    blob[offset + length - 1] ^= 0x01
    path.write_bytes(bytes(blob))
    for n in range(30):
        writer.append(key(100), payload(n, 1000))  # enough dead bytes to compact
    reader = fresh(path)
    assert key(4) not in reader  # its header was sound: only the compaction dropped it
    assert reader.get(key(4)) is None and len(reader) == 10  # nine, and key 100
    assert [reader.get(key(n)) for n in (3, 5)] == [payload(3, 1000), payload(5, 1000)]
