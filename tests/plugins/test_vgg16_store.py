"""vgg16-poster's FeatureStore: encoded vectors in one pack per spec, and the per-poster files
of the earlier format moved into the pack as they are read (no TensorFlow needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reelpick.plugins._vgg16_encoding import decode, encode
from reelpick.plugins.vgg16_poster import FeatureSpec, FeatureStore
from tests.support.vgg16 import legacy_feature_file


def spec(pooling: str = "flatten", storage: str = "uint8", weights_id: str = "abc") -> FeatureSpec:
    return FeatureSpec("w.h5", weights_id, pooling, "float32", storage)


def features(seed: int = 0, dim: int = 25088, share: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.where(rng.random(dim) < share, rng.gamma(1.0, 20.0, dim), 0).astype(np.float32)


@pytest.mark.parametrize("storage", ["uint8", "float16", "float32"])
@pytest.mark.parametrize("pooling", ["flatten", "avg"])
def test_round_trip(tmp_path: Path, storage: str, pooling: str) -> None:
    store = FeatureStore(tmp_path, spec(pooling, storage))
    dim = 25088 if pooling == "flatten" else 512
    vectors = {f"hash-{n}": features(n, dim, 0.1 if dim > 512 else 0.97) for n in range(30)}
    for content_hash, vector in vectors.items():
        store.save(content_hash, vector)
    tolerance = {"uint8": 1 / 510, "float16": 1 / 2048, "float32": 1e-7}[storage]
    for content_hash, vector in vectors.items():
        loaded = store.load(content_hash)
        assert loaded.dtype == np.float32 and loaded.shape == (dim,)
        assert np.abs(loaded - vector).max() <= vector.max() * tolerance * 1.001
        assert store.has(content_hash)
    assert store.load("hash-none") is None and not store.has("hash-none")
    assert len(list(tmp_path.glob("*.pack"))) == 1


def test_uint8_keeps_the_nonzeros_in_a_third_of_float16s_room() -> None:
    vector = features(3)
    as_uint8, as_float16 = encode(vector, "uint8"), encode(vector, "float16")
    assert len(as_uint8) < 0.7 * len(as_float16)
    back = decode(as_uint8, "uint8", vector.size)
    # Zero stays exactly zero; a value under max / 510 may become zero, no larger one does.
    assert not back[vector == 0].any()
    assert np.all(back[vector > vector.max() / 510 * 1.001] > 0)
    with pytest.raises(ValueError):
        decode(as_uint8, "float16", vector.size)  # another storage's record
    with pytest.raises(ValueError):
        decode(as_uint8, "uint8", 512)


def test_a_vector_that_cannot_be_stored_is_not_stored(tmp_path: Path, caplog) -> None:
    store = FeatureStore(tmp_path, spec())
    bad = features()
    bad[5] = np.nan
    store.save("not-finite", bad)
    store.save("negative", -features())  # VGG16's features never are: uint8 has no sign
    assert store.load("not-finite") is None and store.load("negative") is None
    assert "not stored" in caplog.text
    store.save("wrong-length", np.ones(100, dtype=np.float32))
    assert store.load("wrong-length") is None  # read as a miss: it would break every fit


def test_specs_are_kept_apart(tmp_path: Path) -> None:
    stores = [
        FeatureStore(tmp_path, s)
        for s in (spec(), spec(weights_id="other"), spec(storage="float16"), spec("avg"))
    ]
    for n, store in enumerate(stores):
        store.save("poster", features(n, store.dim))
    assert len(list(tmp_path.glob("*.pack"))) == 4  # one pack per spec
    for n, store in enumerate(stores):
        again = FeatureStore(tmp_path, store.spec).load("poster")
        np.testing.assert_allclose(again, features(n, store.dim), atol=features(n).max() / 500)
    FeatureStore(tmp_path, spec()).save("only-here", features(9))
    assert not FeatureStore(tmp_path, spec(weights_id="other")).has("only-here")


def test_a_damaged_record_is_a_miss_then_stored_again(tmp_path: Path, caplog) -> None:
    store = FeatureStore(tmp_path, spec())
    for n in range(3):
        store.save(f"poster-{n}", features(n))
    file, offset, length = store.record("poster-1")
    blob = bytearray(file.read_bytes())
    blob[offset + length // 2] ^= 0x08
    file.write_bytes(bytes(blob))
    reopened = FeatureStore(tmp_path, spec())
    assert reopened.load("poster-1") is None and "damaged" in caplog.text
    assert reopened.load("poster-2") is not None
    reopened.save("poster-1", features(1))
    assert np.abs(reopened.load("poster-1") - features(1)).max() <= features(1).max() / 500


@pytest.mark.parametrize("old, new", [("float16", "uint8"), ("float32", "uint8"), ("float16",) * 2])
def test_an_earlier_feature_file_is_moved_into_the_pack(tmp_path: Path, old: str, new: str) -> None:
    vector = features(4)
    file = legacy_feature_file(tmp_path, spec(storage=old), "poster", vector)
    store = FeatureStore(tmp_path, spec(storage=new))
    assert store.has("poster")  # what the poster features product counts
    moved = store.load("poster")
    assert np.abs(moved - vector).max() <= vector.max() / 400  # rounded twice: old, then new
    assert not file.exists() and not file.parent.exists()
    assert store.has("poster") and store.record("poster") is not None
    np.testing.assert_array_equal(FeatureStore(tmp_path, spec(storage=new)).load("poster"), moved)


def test_only_an_equivalent_earlier_file_is_moved(tmp_path: Path) -> None:
    vector = features(5)
    file = legacy_feature_file(
        tmp_path, spec(storage="float16", weights_id="other"), "poster", vector
    )
    assert FeatureStore(tmp_path, spec()).load("poster") is None  # other weights
    less_precise = legacy_feature_file(tmp_path, spec(storage="float16"), "poster", vector)
    assert FeatureStore(tmp_path, spec(storage="float32")).load("poster") is None
    assert file.exists() and less_precise.exists()


def test_a_damaged_earlier_file_is_a_miss_and_removed(tmp_path: Path, caplog) -> None:
    file = legacy_feature_file(tmp_path, spec(storage="float16"), "poster", features(6))
    blob = bytearray(file.read_bytes())
    blob[-3] ^= 0x01
    file.write_bytes(bytes(blob))
    store = FeatureStore(tmp_path, spec())
    assert store.load("poster") is None and not file.exists() and "damaged" in caplog.text
    assert not store.has("poster")
