"""Watchlists: the store in the state folder and the Letterboxd / IMDb watchlist imports,
matched against the real ml-latest-small."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from reelpick.data.search import TitleIndex
from reelpick.profiles import MovieMatcher, ProfileImportError
from reelpick.watchlist import (
    WatchlistError,
    WatchlistStore,
    looks_like_watchlist,
    read_watchlist,
)

HEAT, TOY_STORY, MATRIX, CROUCHING_TIGER = 6, 1, 2571, 3996

LETTERBOXD_WATCHLIST = (
    "Date,Name,Year,Letterboxd URI\r\n"
    "2024-01-31,Heat,1995,https://boxd.it/29YU\r\n"
    '2024-02-01,"Crouching Tiger, Hidden Dragon",2000,https://boxd.it/1Yjy\r\n'
    "2024-02-02,Parasite,2019,https://boxd.it/hTha\r\n"
    "2024-02-03,Heat,1995,https://boxd.it/29YU\r\n"
)
IMDB_WATCHLIST = (
    "Position,Const,Created,Modified,Description,Title,Original Title,URL,Title Type,"
    "IMDb Rating,Runtime (mins),Year,Genres,Num Votes,Release Date,Directors,Your Rating,"
    "Date Rated\n"
    "1,tt0133093,2023-05-04,2023-05-04,,The Matrix,The Matrix,https://www.imdb.com/title/"
    'tt0133093/,Movie,8.7,136,1999,"Action, Sci-Fi",2000000,1999-03-31,Someone,,\n'
    "2,tt9999999,2023-05-05,2023-05-05,,Toy Story,Toy Story,https://www.imdb.com/title/"
    'tt9999999/,Movie,8.3,81,1995,"Animation",1000000,1995-11-22,Someone,,\n'
    "3,tt0903747,2023-05-06,2023-05-06,,Breaking Bad,Breaking Bad,https://www.imdb.com/title/"
    'tt0903747/,TV Series,9.5,49,2008,"Drama",2000000,2008-01-20,,,\n'
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


@pytest.fixture(scope="module")
def matcher(ml_small) -> MovieMatcher:
    return MovieMatcher(ml_small, TitleIndex(ml_small))


@pytest.fixture
def store(tmp_path: Path):
    with WatchlistStore(tmp_path / "state", clock=Clock()) as opened:
        yield opened


def test_add_remove_and_list_per_owner(store: WatchlistStore) -> None:
    assert store.path.name == "watchlist.sqlite3"
    assert store.add("tg:1", HEAT) is True
    assert store.add("tg:1", HEAT) is False  # once per movie
    assert store.add("tg:1", MATRIX) is True
    assert store.add("tg:2", TOY_STORY) is True
    assert [e.movie_id for e in store.entries("tg:1")] == [MATRIX, HEAT]  # newest first
    assert store.entries("tg:1")[0].added_at > store.entries("tg:1")[1].added_at
    assert [e.movie_id for e in store.entries("tg:1", offset=1, limit=1)] == [HEAT]
    assert store.movies("tg:2") == {TOY_STORY} and store.count("tg:1") == 2
    assert store.contains("tg:1", HEAT) and not store.contains("tg:2", HEAT)
    assert store.remove("tg:1", HEAT) is True and store.remove("tg:1", HEAT) is False
    assert store.movies("tg:1") == {MATRIX}
    assert store.shared(["tg:1", "tg:2", "tg:1"]) == {MATRIX: 1, TOY_STORY: 1}
    with pytest.raises(ValueError):
        store.add("tg:1", 0)


def test_a_list_survives_reopening_and_forget_leaves_no_copy(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite3"
    with WatchlistStore(path) as first:
        first.add_many("tg:7", [(HEAT, 5.0), (MATRIX, None)])
        first.add("tg:8", HEAT)
    with WatchlistStore(path) as second:
        assert second.entries("tg:7")[-1].added_at == 5.0
        assert second.forget("tg:7") == 2
        assert second.movies("tg:7") == set() and second.movies("tg:8") == {HEAT}
    raw = path.read_bytes() + (
        path.with_name(path.name + "-wal").read_bytes()
        if path.with_name(path.name + "-wal").exists()
        else b""
    )
    assert b"tg:7" not in raw and b"tg:8" in raw


def test_a_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE x (y)")
    db.close()
    with pytest.raises(WatchlistError, match="another program"):
        WatchlistStore(path)


def test_letterboxd_watchlist_matches_by_title_and_keeps_the_date(matcher: MovieMatcher) -> None:
    parsed = read_watchlist(LETTERBOXD_WATCHLIST.encode(), matcher, filename="watchlist.csv")
    assert parsed.format == "letterboxd" and parsed.rows == 4
    day = dt.datetime(2024, 1, 31, tzinfo=dt.UTC).timestamp()
    assert parsed.matched == [(HEAT, day), (CROUCHING_TIGER, day + 86400)]  # Heat once
    assert [(u.row, u.text) for u in parsed.unmatched] == [(4, "Parasite (2019)")]


def test_imdb_watchlist_matches_by_id_then_title_and_skips_series(matcher: MovieMatcher) -> None:
    parsed = read_watchlist(IMDB_WATCHLIST.encode(), matcher, filename="WATCHLIST.csv")
    assert parsed.format == "imdb"
    assert [m for m, _ in parsed.matched] == [MATRIX, TOY_STORY]  # unknown tt id: by title
    assert len(parsed.unmatched) == 1 and "not a film" in parsed.unmatched[0].reason


def test_watchlists_are_told_apart_from_rating_files() -> None:
    letterboxd = LETTERBOXD_WATCHLIST.encode()
    assert looks_like_watchlist(letterboxd, "watchlist.csv")
    assert not looks_like_watchlist(letterboxd, "watched.csv")  # same columns, other file
    assert looks_like_watchlist(IMDB_WATCHLIST.encode(), "export.csv")
    ratings = b"Const,Your Rating,Date Rated,Title,Year\ntt0133093,9,2022-01-01,The Matrix,1999\n"
    assert not looks_like_watchlist(ratings, "ratings.csv")
    assert not looks_like_watchlist(b"\x00\x01binary", "watchlist.csv")


def test_a_file_that_is_no_watchlist_is_refused(matcher: MovieMatcher) -> None:
    with pytest.raises(ProfileImportError, match="not a watchlist: expected"):
        read_watchlist(b"Title,Rating\nHeat,5\n", matcher, filename="watchlist.csv")
    # Letterboxd's columns under another name: the refusal says that the name is why.
    with pytest.raises(ProfileImportError, match=r"must be named watchlist\*\.csv"):
        read_watchlist(b"Date,Name,Year,Letterboxd URI\n", matcher, filename="watched.csv")
    with pytest.raises(ProfileImportError, match="no rows"):
        read_watchlist(b"Date,Name,Year,Letterboxd URI\n", matcher, filename="watchlist.csv")


def test_a_file_named_as_a_watchlist_by_the_caller_needs_only_the_columns(
    matcher: MovieMatcher,
) -> None:
    data = LETTERBOXD_WATCHLIST.encode()
    assert not looks_like_watchlist(data, "wl.csv")  # sniffing uploads: the name decides
    parsed = read_watchlist(data, matcher, filename="wl.csv", named=True)
    assert parsed.format == "letterboxd"
    assert parsed.matched == read_watchlist(data, matcher, filename="watchlist.csv").matched


def test_an_export_imports_back_unchanged(matcher: MovieMatcher, store: WatchlistStore) -> None:
    from reelpick.watchlist import EXPORT_NAME, export_watchlist

    store.add_many("tg:3", [(HEAT, 86400.0 * 365), (CROUCHING_TIGER, None)])
    data = export_watchlist(store.entries("tg:3"), matcher.dataset)
    assert data.decode().splitlines()[2] == "1971-01-01,Heat,1995,,6"  # oldest first
    parsed = read_watchlist(data, matcher, filename=EXPORT_NAME)
    assert {m for m, _ in parsed.matched} == {HEAT, CROUCHING_TIGER} and not parsed.unmatched
