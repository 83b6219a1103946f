"""Every kind of cache file, damaged five ways, is detected, rebuilt, and answers as before.

Kinds: ArtifactStore ``.npz`` entries (a plugin's neighbour table, and plain arrays), the
VGG16 FeatureStore's pack of features, and the poster diskcache (its database and its values).
Damage: truncated, zero bytes, random bytes, a valid file holding bad values, a valid file
of the wrong type.
"""

from __future__ import annotations

import io
import logging
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from reelpick.cache import ArtifactStore
from reelpick.data import load_dataset
from reelpick.neighbours import NeighbourTable
from reelpick.plugins._vgg16_encoding import HEADER as ENCODING_HEADER
from reelpick.plugins._vgg16_encoding import LEGACY_HEADER
from reelpick.plugins._vgg16_pack import HEADER as PACK_HEADER
from reelpick.plugins._vgg16_pack import FeaturePack
from reelpick.plugins.vgg16_poster import FeatureSpec, FeatureStore
from reelpick.posters import PosterStore
from reelpick.registry import Registry
from tests.support.fixtures import ML_SMALL, POSTERS
from tests.support.tmdb_server import API_KEY, TMDBServer
from tests.support.vgg16 import legacy_feature_file

RNG_SEED = 16


def _random_bytes(blob: bytes) -> bytes:
    return np.random.default_rng(RNG_SEED).bytes(max(len(blob), 64))


# The three damages that do not depend on the format.
RAW_DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda blob: blob[: len(blob) // 2],
    "zero-bytes": lambda blob: b"",
    "random-bytes": _random_bytes,
}
DAMAGES = [*RAW_DAMAGE, "bad-values", "wrong-type"]


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


# -- ArtifactStore: a plugin's neighbour table ----------------------------------------------


def _cosine_answers(config, dataset) -> tuple[Registry, dict[int, list]]:
    registry = Registry(config, load_entry_points=False)
    assert registry.fit(dataset, ["cosine-cf"]) == {"cosine-cf": None}
    answers = {m: registry.ask("cosine-cf", m, 5) for m in (1, 2, 3, 10, 20)}
    assert all(a.neighbours for a in answers.values()), answers  # real answers to compare
    return registry, {m: a.neighbours for m, a in answers.items()}


def _damaged_table(kind: str, blob: bytes, n_movies: int) -> bytes:
    if kind in RAW_DAMAGE:
        return RAW_DAMAGE[kind](blob)
    ids = np.arange(1, n_movies + 1, dtype=np.int64)
    index = np.zeros((n_movies, 5), dtype=np.int32)
    score = np.zeros((n_movies, 5), dtype=np.float32)
    if kind == "bad-values":  # loads fine; every lookup would index past the table
        return _npz(movie_ids=ids, index=index + 10**6, score=score)
    return _npz(movie_ids=ids, index=index, score=score.astype(str))  # wrong-type: text scores


@pytest.mark.parametrize("damage", DAMAGES)
def test_neighbour_table_heals(damage, make_config, small_movielens, caplog) -> None:
    config = make_config(data=small_movielens, enabled=["cosine-cf"])
    dataset = load_dataset(small_movielens)
    registry, before = _cosine_answers(config, dataset)
    file = registry.plugins["cosine-cf"].store.path / "neighbours.npz"
    good = file.read_bytes()
    file.write_bytes(_damaged_table(damage, good, len(dataset.movies)))

    with caplog.at_level(logging.WARNING, logger="reelpick"):
        _, after = _cosine_answers(config, dataset)
    assert after == before
    warnings = [r for r in caplog.records if "is damaged" in r.getMessage()]
    assert len(warnings) == 1 and str(file) in warnings[0].getMessage()
    store = registry.store_for("cosine-cf", dataset)
    assert NeighbourTable.load(store) is not None  # the rebuilt file is whole again


@pytest.mark.parametrize("damage", DAMAGES)
def test_plain_arrays_heal(damage, tmp_path: Path, caplog) -> None:
    store = ArtifactStore(tmp_path, "plugin", data="d", version="1")
    factors = np.arange(12, dtype=np.float32).reshape(3, 4)
    store.save_arrays("factors", factors=factors)
    file = store.path / "factors.npz"
    if damage in RAW_DAMAGE:
        file.write_bytes(RAW_DAMAGE[damage](file.read_bytes()))
    elif damage == "bad-values":  # a member whose deflate stream is broken (zlib.error)
        file.write_bytes(_corrupt_deflate(factors))
    else:  # wrong-type: a pickled object array, which must never be unpickled from a cache
        file.write_bytes(_npz(factors=np.array([{"x": 1}], dtype=object)))
    with caplog.at_level(logging.WARNING, logger="reelpick"):
        assert store.load_arrays("factors") is None
    assert not file.exists() and "is damaged" in caplog.text
    store.save_arrays("factors", factors=factors)  # the plugin fits again
    np.testing.assert_array_equal(store.load_arrays("factors")["factors"], factors)
    assert [p.name for p in store.path.iterdir() if p.suffix == ".tmp"] == []


def _corrupt_deflate(array: np.ndarray) -> bytes:
    """A zip whose member headers and sizes are right but whose compressed bytes are not."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        member = io.BytesIO()
        np.save(member, array)
        zf.writestr("factors.npy", member.getvalue())
    blob = bytearray(buffer.getvalue())
    start = 30 + len("factors.npy")  # after the local file header: the deflate stream
    blob[start : start + 8] = b"\xff" * 8
    return bytes(blob)


def test_failed_write_leaves_no_temporary_file(tmp_path: Path, monkeypatch) -> None:
    store = ArtifactStore(tmp_path, "plugin", data="d")
    store.save_arrays("table", values=np.ones(3))

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("reelpick.cache.write_npz", disk_full)
    with pytest.raises(OSError, match="No space left"):
        store.save_arrays("table", values=np.zeros(3))
    assert sorted(p.name for p in store.path.iterdir()) == ["manifest.json", "table.npz"]
    np.testing.assert_array_equal(store.load_arrays("table")["values"], np.ones(3))


# -- the VGG16 FeatureStore's pack --------------------------------------------------------------


def _feature_vector() -> np.ndarray:
    rng = np.random.default_rng(RNG_SEED)
    return np.where(rng.random(25088) < 0.1, rng.gamma(1.0, 20.0, 25088), 0).astype(np.float32)


def _damaged_features(kind: str, blob: bytes) -> bytes:
    if kind in RAW_DAMAGE:
        return RAW_DAMAGE[kind](blob)
    if kind == "bad-values":  # the scale doubled: every value would silently double
        at = PACK_HEADER.size + ENCODING_HEADER.size - 8  # the record's scale field
        (scale,) = struct.unpack_from("<f", blob, at)
        return blob[:at] + struct.pack("<f", scale * 2) + blob[at + 4 :]
    # wrong-type: another format with a plausible length (an .npz of the same vector)
    return _npz(vector=np.zeros(25088, dtype=np.float32))[: len(blob)]


@pytest.mark.parametrize("damage", DAMAGES)
def test_feature_pack_heals(damage, tmp_path: Path, caplog) -> None:
    spec = FeatureSpec("w.h5", "abc", "flatten", "float32", "uint8")
    store = FeatureStore(tmp_path, spec)
    vector = _feature_vector()
    store.save("poster", vector)
    before = store.load("poster")
    file = store.record("poster")[0]
    file.write_bytes(_damaged_features(damage, file.read_bytes()))
    with caplog.at_level(logging.WARNING):
        assert store.load("poster") is None  # detected: the poster is computed again
        assert store.record("poster") is None
        store.save("poster", vector)
    assert "damaged" in caplog.text
    np.testing.assert_array_equal(store.load("poster"), before)
    # What another process opening the pack now finds: the new record, whole.
    assert len(FeaturePack(file)) == 1


def test_feature_record_with_a_wrong_dimension_is_a_miss(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path, FeatureSpec("w.h5", "abc", "avg", "float32", "float32"))
    store.save("poster", np.ones(100, dtype=np.float32))  # not 512: would break every fit
    assert store.load("poster") is None


def test_feature_file_of_the_first_format_is_recomputed(tmp_path: Path) -> None:
    old = FeatureSpec("w.h5", "abc", "flatten", "float32", "float16")
    file = legacy_feature_file(tmp_path, old, "poster", _feature_vector())
    blob = bytearray(file.read_bytes())
    blob[:4] = b"RPV1"  # the CRC of format 1 did not cover the header
    struct.pack_into("<I", blob, LEGACY_HEADER.size - 4, 0)
    file.write_bytes(bytes(blob))
    store = FeatureStore(tmp_path, FeatureSpec("w.h5", "abc", "flatten", "float32", "uint8"))
    assert store.load("poster") is None and not file.exists()


# -- the poster diskcache --------------------------------------------------------------------

TOY_STORY = 1


@pytest.fixture
def poster_store(make_config, monkeypatch, require_shared):
    require_shared(POSTERS)
    with TMDBServer() as server:
        monkeypatch.setenv("TMDB_API_KEY", API_KEY)
        config = make_config(
            f'[posters]\napi_url = "{server.api_url}"\nrequests_per_second = 0\n', data=ML_SMALL
        )
        dataset = load_dataset(ML_SMALL)
        opened: list[PosterStore] = []

        def make() -> PosterStore:
            opened.append(PosterStore(config, dataset))
            return opened[-1]

        yield make, server
        for store in opened:
            store.close()


@pytest.mark.parametrize("damage", DAMAGES)
def test_poster_cache_heals(damage, poster_store, caplog) -> None:
    make, server = poster_store
    first = make()
    before = first.get(TOY_STORY)
    assert before.source == "tmdb"
    key = f"{TOY_STORY}/w185"
    if damage in RAW_DAMAGE:  # the database file itself
        first.close()
        database = first.cache_path / "cache.db"
        database.write_bytes(RAW_DAMAGE[damage](database.read_bytes()))
        for journal in first.cache_path.glob("cache.db-*"):
            journal.unlink()
    elif damage == "bad-values":  # the right shape, but the bytes are not what was stored
        entry = first.entry(TOY_STORY)
        first.cache.set(key, {**entry, "data": entry["data"][:100]})
    else:  # wrong-type: what an older or foreign writer might have left under the key
        first.cache.set(key, "not a poster entry")
    images = server.count("image")

    with caplog.at_level(logging.WARNING):
        after = make().get(TOY_STORY)
    assert after == before  # the same poster, fetched again
    assert server.count("image") == images + 1
    if damage != "zero-bytes":  # an empty file is a valid empty SQLite database: just a miss
        assert "is damaged" in caplog.text
    assert make().local(TOY_STORY) == before  # and stored whole again


def test_poster_fetch_skips_nothing_damaged(poster_store) -> None:
    make, server = poster_store
    store = make()
    store.get(TOY_STORY)
    store.cache.set(f"{TOY_STORY}/w185", {"data": 42})
    assert not store.has(TOY_STORY)  # `posters fetch` asks again instead of skipping it


def test_configuration_cache_of_the_wrong_type_is_a_miss(poster_store) -> None:
    make, server = poster_store
    client = make().client
    client.configuration()
    client._disk_cache().set(f"configuration {client.api_url}", ["not", "a", "dict"])
    client._configuration = None
    fetched = server.count("configuration")
    assert "w185" in client.poster_sizes()
    assert server.count("configuration") == fetched + 1
