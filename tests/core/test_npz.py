"""Cached arrays read in place: large ones mapped, every member's checksum still checked."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

import reelpick.npz
from reelpick.cache import ArtifactStore
from reelpick.npz import ALIGN, is_mapped, read_npz, write_npz

BIG = 1 << 12  # a map threshold the test arrays cross without being large


def _save(path: Path, **arrays: np.ndarray) -> Path:
    with open(path, "wb") as fh:
        write_npz(fh, arrays)
    return path


def test_large_arrays_are_mapped_and_equal_small_ones_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    saved = {
        "vectors": rng.random((300, 40), dtype=np.float32),
        "fortran": np.asfortranarray(rng.random((64, 32))),
        "ids": np.arange(10, dtype=np.int64),
        "scalar": np.array(3.5),
        "empty": np.zeros((0, 8), dtype=np.float32),
        "names": np.array(["a", "bc"]),
    }
    loaded = read_npz(_save(tmp_path / "a.npz", **saved), map_from=BIG)
    assert sorted(loaded) == sorted(saved)
    for name, array in saved.items():
        np.testing.assert_array_equal(loaded[name], array)
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
    assert is_mapped(loaded["vectors"]) and is_mapped(loaded["fortran"])
    assert not is_mapped(loaded["ids"]) and not is_mapped(loaded["scalar"])
    # Callers get plain arrays, whatever they slice or pickle.
    assert type(loaded["vectors"]) is np.ndarray
    assert type(loaded["vectors"][3:5]) is np.ndarray


def test_a_change_in_memory_never_reaches_the_file(tmp_path: Path) -> None:
    path = _save(tmp_path / "a.npz", vectors=np.ones((200, 50), dtype=np.float32))
    before = path.read_bytes()
    loaded = read_npz(path, map_from=BIG)
    loaded["vectors"][0, :] = 7.0
    assert float(loaded["vectors"][0, 0]) == 7.0
    del loaded
    assert path.read_bytes() == before
    np.testing.assert_array_equal(read_npz(path, map_from=BIG)["vectors"], 1.0)


def test_a_file_replaced_by_rename_leaves_mapped_arrays_whole(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, "plugin", data="x")
    store.save_arrays("factors", vectors=np.full((2000, 100), 2.0, dtype=np.float32))
    first = store.load_arrays("factors")
    assert first is not None
    store.save_arrays("factors", vectors=np.full((10, 10), 5.0, dtype=np.float32))
    assert float(first["vectors"].sum()) == 2.0 * 2000 * 100  # the old file, still mapped
    second = store.load_arrays("factors")
    assert second is not None and second["vectors"].shape == (10, 10)


def _flip_inside(path: Path, name: str) -> None:
    """Flip one byte of ``name``'s data, leaving the zip's structure valid."""
    with zipfile.ZipFile(path) as archive:
        member = archive.getinfo(f"{name}.npy")
    blob = bytearray(path.read_bytes())
    blob[member.header_offset + 200] ^= 0xFF
    path.write_bytes(bytes(blob))


@pytest.mark.parametrize("threshold", [BIG, 1 << 40], ids=["mapped", "read"])
def test_a_flipped_byte_is_refused_mapped_or_read(tmp_path: Path, threshold: int) -> None:
    path = _save(tmp_path / "a.npz", vectors=np.arange(4000, dtype=np.float32))
    _flip_inside(path, "vectors")
    with pytest.raises(zipfile.BadZipFile, match="CRC"):
        read_npz(path, map_from=threshold)


def test_a_header_that_lies_about_the_size_is_refused(tmp_path: Path) -> None:
    """A member whose .npy header claims more data than it holds would map past its end."""
    small = io.BytesIO()
    np.lib.format.write_array(small, np.zeros(2000, dtype=np.float32))
    body = small.getvalue()
    lying = body.replace(b"(2000,)", b"(4000,)")
    assert lying != body
    path = tmp_path / "a.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("vectors.npy", lying)
    with pytest.raises(ValueError, match="does not match"):
        read_npz(path, map_from=BIG)


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.npz"
    np.savez(path, things=np.array([{"a": 1}] * 2000, dtype=object))
    with pytest.raises(ValueError):
        read_npz(path, map_from=BIG)


def test_the_store_discards_a_damaged_mapped_entry(tmp_path: Path, caplog) -> None:
    store = ArtifactStore(tmp_path, "plugin", data="x")
    store.save_arrays("factors", vectors=np.ones((2000, 100), dtype=np.float32))
    _flip_inside(store.path / "factors.npz", "vectors")
    assert store.load_arrays("factors") is None
    assert not store.has("factors")
    assert "damaged" in caplog.text


def test_a_process_reads_only_the_pages_it_touches(tmp_path: Path) -> None:
    """Loading 64 MB of factors and reading one row keeps the process far below 64 MB more."""
    store = ArtifactStore(tmp_path, "plugin", data="x")
    store.save_arrays("factors", vectors=np.ones((16_384, 1024), dtype=np.float32))

    def resident_mb() -> float:
        return (
            int(Path("/proc/self/statm").read_text().split()[1])
            * os.sysconf("SC_PAGE_SIZE")
            / 2**20
        )

    before = resident_mb()
    loaded = store.load_arrays("factors")
    assert loaded is not None
    assert float(loaded["vectors"][123].sum()) == 1024.0
    assert resident_mb() - before < 16


def test_written_members_start_aligned_so_products_never_copy_them(tmp_path: Path) -> None:
    """Each member's data starts on a 64-byte boundary, whatever the names before it, and
    numpy reads the file as any .npz."""
    rng = np.random.default_rng(1)
    saved = {
        "a": rng.random((500, 33), dtype=np.float32),
        "a_much_longer_name": rng.random(2001),
        "i": np.arange(1234, dtype=np.int16),
        "x": np.array(2.0),
    }
    path = tmp_path / "a.npz"
    with open(path, "wb") as fh:
        write_npz(fh, saved)
    with np.load(path) as plain:
        for name, array in saved.items():
            np.testing.assert_array_equal(plain[name], array)
    with open(path, "rb") as raw, zipfile.ZipFile(raw) as archive:
        for member in archive.infolist():
            raw.seek(member.header_offset + 26)
            name_length, extra_length = struct.unpack("<HH", raw.read(4))
            raw.seek(member.header_offset + 30 + name_length + extra_length)
            np.lib.format.read_magic(raw)
            np.lib.format.read_array_header_1_0(raw)
            assert raw.tell() % ALIGN == 0, member.filename
    loaded = read_npz(path, map_from=BIG)
    assert is_mapped(loaded["a"]) and loaded["a"].flags.aligned


def test_an_unaligned_member_is_read_notis_mapped(tmp_path: Path) -> None:
    """np.savez places data wherever the headers end: such a member is read, equal."""
    vectors = np.arange(3001, dtype=np.float64)
    for name in ("v", "vv", "vvv", "vvvv", "vvvvv", "vvvvvv", "vvvvvvv", "vvvvvvvv"):
        path = tmp_path / f"{name}.npz"
        np.savez(path, **{name: vectors})
        loaded = read_npz(path, map_from=BIG)[name]
        np.testing.assert_array_equal(loaded, vectors)
        assert loaded.flags.aligned


def test_what_is_mapped_is_the_file_whose_checksums_were_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process renaming a new version into place between the check and the mapping
    changes nothing: the arrays come from the file that was checked."""
    store = ArtifactStore(tmp_path, "plugin", data="x")
    store.save_arrays("factors", vectors=np.zeros(4000, dtype=np.float32))
    newer = tmp_path / "newer.npz"
    with open(newer, "wb") as fh:
        write_npz(fh, {"vectors": np.ones(4000, dtype=np.float32)})
    check = reelpick.npz._check_crc

    def check_then_replace(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
        check(archive, member)
        if newer.exists():
            os.replace(newer, store.path / "factors.npz")

    monkeypatch.setattr(reelpick.npz, "MAP_FROM_BYTES", BIG)
    monkeypatch.setattr(reelpick.npz, "_check_crc", check_then_replace)
    loaded = store.load_arrays("factors")
    assert loaded is not None and is_mapped(loaded["vectors"])
    assert float(loaded["vectors"].sum()) == 0.0


def test_bytes_past_the_checksummed_part_are_neveris_mapped(tmp_path: Path) -> None:
    """A stored member whose compressed size is shorter than its size has a CRC over the
    shorter part only: the rest must not be served unchecked."""
    good = io.BytesIO()
    np.lib.format.write_array(good, np.arange(1024, dtype="<f4"))
    body = good.getvalue()
    tampered = body[:-4] + np.array([12345.0], dtype="<f4").tobytes()
    path = tmp_path / "a.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("x.npy", tampered)
    blob = bytearray(path.read_bytes())
    central = blob.rindex(b"PK\x01\x02")
    struct.pack_into("<LL", blob, central + 16, zlib.crc32(body[:-4]), len(body) - 4)
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError):
        read_npz(path, map_from=0)


def test_an_entry_an_older_version_wrote_is_rewritten_once_to_beis_mapped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reelpick.npz, "MAP_FROM_BYTES", BIG)
    store = ArtifactStore(tmp_path, "plugin", data="x")
    vectors = np.arange(3001, dtype=np.float64)
    store.path.mkdir(parents=True)
    np.savez(store.path / "factors.npz", v=vectors)  # off its alignment: read, not mapped
    assert reelpick.npz.read_whole(read_npz(store.path / "factors.npz")) == ["v"]
    first = store.load_arrays("factors")
    assert first is not None and is_mapped(first["v"])
    np.testing.assert_array_equal(first["v"], vectors)
    written = (store.path / "factors.npz").stat().st_mtime_ns
    again = store.load_arrays("factors")
    assert again is not None and is_mapped(again["v"])
    assert (store.path / "factors.npz").stat().st_mtime_ns == written
