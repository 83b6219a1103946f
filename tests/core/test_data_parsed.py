"""Parsed rating files kept in the cache: loaded instead of parsed, keyed by the file's bytes,
healed when damaged, and never needed (a load works without them)."""

from __future__ import annotations

import logging
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reelpick import DataError
from reelpick.data import Dataset, load_dataset, movielens, parsed
from reelpick.testing import save_dataset, small_dataset


@pytest.fixture
def folder(ml_small: Dataset, tmp_path: Path) -> Path:
    return save_dataset(small_dataset(ml_small, 40), tmp_path / "data")


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files parsed from CSV, in order."""
    seen: list[str] = []
    real = movielens._parse_csv

    def spy(raw: bytes, path: Path, schema: dict[str, str]) -> pd.DataFrame:
        seen.append(path.name)
        return real(raw, path, schema)

    monkeypatch.setattr(movielens, "_parse_csv", spy)
    return seen


def entries(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / parsed.FOLDER).iterdir() if p.is_dir())


def test_ratings_are_parsed_once_then_loaded(folder: Path, tmp_path: Path, parses) -> None:
    cache = tmp_path / "cache"
    plain = load_dataset(folder)
    first = load_dataset(folder, cache)
    assert parses.count("ratings.csv") == 2 and len(entries(cache)) == 1
    second = load_dataset(folder, cache)
    assert parses.count("ratings.csv") == 2  # not parsed the third time
    assert parses.count("movies.csv") == 3  # text files are always parsed
    # The same dataset, under the same fingerprint, with or without the kept copy.
    assert plain.fingerprint == first.fingerprint == second.fingerprint
    pd.testing.assert_frame_equal(second.ratings, plain.ratings)
    assert second.rating_counts.equals(plain.rating_counts)


def test_the_matrix_of_a_kept_copy_is_its_own(folder: Path, tmp_path: Path) -> None:
    """The kept columns are mapped read-only; the rating matrix plugins get is writable."""
    cache = tmp_path / "cache"
    load_dataset(folder, cache)
    loaded = load_dataset(folder, cache)
    assert not loaded.ratings["rating"].to_numpy().flags.writeable
    matrix = loaded.matrix.matrix
    matrix.data *= 2  # e.g. a plugin centring or weighting its ratings in place
    assert loaded.ratings["rating"].max() <= 5.0


def test_an_edited_file_is_parsed_again(folder: Path, tmp_path: Path, parses) -> None:
    cache = tmp_path / "cache"
    before = load_dataset(folder, cache)
    ratings = pd.read_csv(folder / "ratings.csv")
    ratings.loc[0, "rating"] = 5.0 if ratings.loc[0, "rating"] != 5.0 else 1.0
    ratings.to_csv(folder / "ratings.csv", index=False)
    after = load_dataset(folder, cache)
    assert parses.count("ratings.csv") == 2
    assert after.fingerprint != before.fingerprint
    assert after.ratings["rating"].iloc[0] == ratings.loc[0, "rating"]
    assert len(entries(cache)) == 2


def test_a_damaged_copy_is_a_miss_and_is_written_anew(
    folder: Path, tmp_path: Path, parses, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    good = load_dataset(folder, cache)
    (kept,) = entries(cache)
    column = kept / "rating.npy"
    for damage in (b"", column.read_bytes()[: column.stat().st_size // 2], b"not an array"):
        column.write_bytes(damage)
        with caplog.at_level(logging.WARNING, logger="reelpick.data.parsed"):
            again = load_dataset(folder, cache)
        pd.testing.assert_frame_equal(again.ratings, good.ratings)
        assert "damaged parsed copy" in caplog.text
        caplog.clear()
        assert entries(cache) == [kept] and column.stat().st_size > len(damage)
    (kept / "userId.npy").unlink()
    pd.testing.assert_frame_equal(load_dataset(folder, cache).ratings, good.ratings)
    assert parses.count("ratings.csv") == 5


def test_a_copy_with_other_columns_is_a_miss(folder: Path, tmp_path: Path, parses) -> None:
    cache = tmp_path / "cache"
    load_dataset(folder, cache)
    (kept,) = entries(cache)
    np.save(kept / "userId.npy", np.arange(3))
    assert len(load_dataset(folder, cache).ratings) == len(pd.read_csv(folder / "ratings.csv"))
    assert parses.count("ratings.csv") == 2


def test_a_cache_that_cannot_be_written_only_costs_the_next_parse(
    folder: Path, tmp_path: Path, parses
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / parsed.FOLDER).write_text("a file where the folder should be")
    plain = load_dataset(folder)
    assert load_dataset(folder, cache).fingerprint == plain.fingerprint
    assert load_dataset(folder, cache).fingerprint == plain.fingerprint
    assert parses.count("ratings.csv") == 3


def test_a_zip_is_kept_too(folder: Path, tmp_path: Path, parses) -> None:
    archive = tmp_path / "ml.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for file in folder.iterdir():
            out.write(file, f"ml/{file.name}")
    cache = tmp_path / "cache"
    first = load_dataset(archive, cache)
    second = load_dataset(archive, cache)
    assert first.fingerprint == second.fingerprint == load_dataset(folder).fingerprint
    assert parses.count("ratings.csv") == 2


def test_a_file_that_fails_its_checks_is_not_kept(folder: Path, tmp_path: Path) -> None:
    ratings = folder / "ratings.csv"
    lines = ratings.read_text().splitlines()
    ratings.write_text("\n".join([*lines, lines[1]]) + "\n")
    cache = tmp_path / "cache"
    for _ in range(2):
        with pytest.raises(DataError, match="twice"):
            load_dataset(folder, cache)
    assert not (cache / parsed.FOLDER).exists() or not entries(cache)


def test_a_copy_left_half_written_by_a_crash_is_removed(folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    crashed = cache / parsed.FOLDER / "tmp1234.tmp"
    crashed.mkdir(parents=True)
    (crashed / "userId.npy").write_bytes(b"half")
    fresh = cache / parsed.FOLDER / "tmp5678.tmp"  # perhaps another process writing now
    fresh.mkdir()
    os.utime(crashed, (0, 0))
    load_dataset(folder, cache)
    assert not crashed.exists() and fresh.exists() and len(entries(cache)) == 2


def test_only_the_latest_copies_of_a_file_are_kept(ml_small: Dataset, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    for n in range(parsed.KEPT_PER_FILE + 2):
        data = save_dataset(small_dataset(ml_small, 20 + n), tmp_path / f"data{n}")
        load_dataset(data, cache)
    assert len(entries(cache)) == parsed.KEPT_PER_FILE
