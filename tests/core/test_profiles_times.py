"""When people rated: imports read the file's dates, /rate keeps "now", the store migrates
schema-1 files, and the profile hands ``rated_at`` to plugins."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reelpick.data.search import TitleIndex
from reelpick.profiles import MovieMatcher, ProfileStore, import_profile
from reelpick.profiles.dates import parse_when
from reelpick.profiles.store import APPLICATION_ID

OWNER = "local:me"
HEAT, TOY_STORY = 6, 1
# 2021-03-01T00:00:00Z and 2022-05-01T00:00:00Z, worked out from 2021-01-01 = 1609459200
# (+ 59 days) and 2022-01-01 = 1640995200 (+ 120 days).
MARCH_1_2021 = 1609459200 + 59 * 86400
MAY_1_2022 = 1640995200 + 120 * 86400


@pytest.fixture(scope="module")
def matcher(ml_small) -> MovieMatcher:
    return MovieMatcher(ml_small, TitleIndex(ml_small))


def test_dates_in_the_forms_the_exports_write() -> None:
    assert parse_when("2021-03-01") == MARCH_1_2021
    assert parse_when("2021-03-01T00:00:10Z") == MARCH_1_2021 + 10
    assert parse_when("964982703") == 964982703.0
    assert parse_when("1.5e9") is None and parse_when("yesterday") is None
    assert parse_when("99999999999") is None  # after 2100: not a real date
    assert parse_when("") is None


def test_each_import_format_keeps_its_dates(matcher: MovieMatcher, tmp_path: Path) -> None:
    letterboxd = (
        "Date,Name,Year,Letterboxd URI,Rating\n"
        "2021-03-01,Heat,1995,https://boxd.it/29YU,4.5\n"
        "someday,Toy Story,1995,https://boxd.it/2a1m,5\n"
    )
    imdb = (
        "Const,Your Rating,Date Rated,Title,Year,Title Type\n"
        "tt0113277,8,2022-05-01,Heat,1995,Movie\n"
    )
    movielens = "movieId,rating,timestamp\n1,3.5,964982703\n"
    with ProfileStore(tmp_path, clock=lambda: 5e9 / 3) as store:
        result = import_profile(store, "local:lb", letterboxd.encode(), matcher)
        assert any("1 rows have a date that could not be read" in n for n in result.notes)
        assert dict(store.profile("local:lb").rated_at) == {HEAT: MARCH_1_2021, TOY_STORY: 5e9 / 3}
        import_profile(store, "local:imdb", imdb.encode(), matcher)
        assert dict(store.profile("local:imdb").rated_at) == {HEAT: MAY_1_2022}
        import_profile(store, "local:ml", movielens.encode(), matcher)
        assert dict(store.profile("local:ml").rated_at) == {TOY_STORY: 964982703.0}


def test_rate_keeps_now_and_a_changed_rating_moves_it(tmp_path: Path) -> None:
    now = [1000.0]
    with ProfileStore(tmp_path, clock=lambda: now[0]) as store:
        store.rate(OWNER, HEAT, 4.0)
        store.mark_seen(OWNER, TOY_STORY)
        store.mark_not_interested(OWNER, 2)
        now[0] = 2000.0
        store.rate(OWNER, HEAT, 4.0)  # the same rating again changes nothing
        assert dict(store.profile(OWNER).rated_at) == {HEAT: 1000.0, TOY_STORY: 1000.0}
        store.rate(OWNER, HEAT, 3.0)
        assert store.profile(OWNER).rated_at[HEAT] == 2000.0
        store.rate(OWNER, TOY_STORY, 5.0, at=1500.0)
        assert store.profile(OWNER).rated_at[TOY_STORY] == 1500.0


def test_a_schema_1_file_is_migrated_with_rated_at_from_updated_at(tmp_path: Path) -> None:
    path = tmp_path / "profiles.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE entries (
            owner TEXT NOT NULL, movie_id INTEGER NOT NULL CHECK (movie_id > 0),
            kind TEXT NOT NULL, stars REAL, updated_at REAL NOT NULL,
            PRIMARY KEY (owner, movie_id)
        ) WITHOUT ROWID;
        INSERT INTO entries VALUES ('local:me', 6, 'rating', 4.5, 1234.0);
        INSERT INTO entries VALUES ('local:me', 1, 'seen', NULL, 99.0);
        """
    )
    db.execute(f"PRAGMA application_id={APPLICATION_ID}")
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    with ProfileStore(path) as store:
        profile = store.profile(OWNER)
        assert dict(profile.ratings) == {HEAT: 4.5} and profile.seen == {TOY_STORY}
        assert dict(profile.rated_at) == {HEAT: 1234.0, TOY_STORY: 99.0}
        assert store.entries(OWNER)[0].rated_at == 99.0
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    with ProfileStore(path) as store:  # opening a migrated file again changes nothing
        assert dict(store.profile(OWNER).rated_at) == {HEAT: 1234.0, TOY_STORY: 99.0}


def test_recommend_for_a_dataset_user_gives_their_timestamps(ml_small) -> None:
    from types import SimpleNamespace

    from reelpick.cli.recommend import user_profile

    profile, _ = user_profile(SimpleNamespace(dataset=ml_small), 1)  # type: ignore[arg-type]
    # ml-latest-small ratings.csv, user 1: "1,1,4.0,964982703" and "1,3,4.0,964981247".
    assert profile.rated_at[1] == 964982703.0 and profile.rated_at[3] == 964981247.0
    assert len(profile.rated_at) == len(profile.ratings) == 232
