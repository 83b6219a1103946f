"""ProfileStore (SQLite profiles) and the CSV export. Imports: test_profiles_imports.py;
questions: test_profiles_questions.py."""

from __future__ import annotations

import csv
import io
import sqlite3
import threading
from pathlib import Path

import pytest

from reelpick.errors import ReelpickError
from reelpick.profiles import (
    FILENAME,
    ImportRow,
    ParsedImport,
    ProfileError,
    ProfileStore,
    ProfileStoreError,
    export_csv,
    read_import,
)
from reelpick.profiles.store import SCHEMA_VERSION
from reelpick.types import Profile

ALICE, BOB = "tg:1001", "local:bob"
HEAT, TOY_STORY, MATRIX = 6, 1, 2571


class Clock:
    """A clock the test moves by hand, so updated_at is predictable."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        self.now += 1
        return self.now


@pytest.fixture
def store(tmp_path: Path):
    with ProfileStore(tmp_path, clock=Clock()) as opened:
        yield opened


def test_a_folder_gets_profiles_sqlite3_and_a_file_path_is_used_as_is(tmp_path: Path) -> None:
    with ProfileStore(tmp_path) as in_folder:
        assert in_folder.path == tmp_path / FILENAME
    with ProfileStore(tmp_path / "state") as new_folder:
        assert new_folder.path == tmp_path / "state" / FILENAME
    file = tmp_path / "nested" / "me.sqlite3"
    with ProfileStore(file) as at_file:
        assert at_file.path == file
    assert file.exists()


def test_new_owner_has_an_empty_profile(store: ProfileStore) -> None:
    profile = store.profile(ALICE)
    assert isinstance(profile, Profile)
    assert len(profile) == 0 and profile.mean_rating is None


def test_rate_mark_and_remove_keep_one_state_per_movie(store: ProfileStore) -> None:
    assert store.rate(ALICE, HEAT, 4.5)
    assert store.mark_seen(ALICE, TOY_STORY)
    assert store.mark_not_interested(ALICE, MATRIX)
    profile = store.profile(ALICE)
    assert dict(profile.ratings) == {HEAT: 4.5}
    assert profile.seen == {TOY_STORY} and profile.not_interested == {MATRIX}

    # A mark replaces a rating and a rating replaces a mark.
    assert store.mark_seen(ALICE, HEAT)
    assert store.rate(ALICE, MATRIX, 2)
    profile = store.profile(ALICE)
    assert dict(profile.ratings) == {MATRIX: 2.0}
    assert profile.seen == {HEAT, TOY_STORY} and profile.not_interested == frozenset()
    assert len(store.entries(ALICE)) == 3

    assert store.remove(ALICE, HEAT)
    assert not store.remove(ALICE, HEAT)  # nothing left to remove
    assert store.unrate(ALICE, MATRIX)
    assert store.profile(ALICE).movies == {TOY_STORY}


def test_the_same_rating_twice_changes_nothing(store: ProfileStore) -> None:
    assert store.rate(ALICE, HEAT, 4)
    before = store.entries(ALICE)
    assert not store.rate(ALICE, HEAT, 4.0)
    assert store.entries(ALICE) == before  # updated_at kept too


def test_profile_ratings_are_read_only(store: ProfileStore) -> None:
    store.rate(ALICE, HEAT, 4)
    with pytest.raises(TypeError):
        store.profile(ALICE).ratings[HEAT] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("stars", "message"),
    [
        (7, "rating 7 is outside 0.5–5"),
        (0, "rating 0 is outside 0.5–5"),
        (3.3, "rating 3.3 is not a whole or half star"),
        (float("nan"), "outside 0.5–5"),
        ("4", "is not a number"),
        (True, "is not a number"),
    ],
)
def test_a_rating_off_the_scale_is_refused_and_nothing_stored(
    store: ProfileStore, stars: object, message: str
) -> None:
    store.rate(ALICE, HEAT, 3)
    with pytest.raises(ProfileError, match=message):
        store.rate(ALICE, HEAT, stars)  # type: ignore[arg-type]
    assert dict(store.profile(ALICE).ratings) == {HEAT: 3.0}


@pytest.mark.parametrize("owner", ["1001", "tg:", "tg:abc", "local:", "local:a b", "web:1", None])
def test_owner_keys_are_checked(store: ProfileStore, owner: object) -> None:
    with pytest.raises(ProfileError, match="not a profile owner"):
        store.rate(owner, HEAT, 4)  # type: ignore[arg-type]
    assert store.owners_count() == 0


def test_bad_movie_ids_are_refused(store: ProfileStore) -> None:
    for movie_id in (0, -5, "6", 6.0, None):
        with pytest.raises(ProfileError, match="not a movie id"):
            store.mark_seen(ALICE, movie_id)  # type: ignore[arg-type]


def test_one_owner_never_affects_another(store: ProfileStore) -> None:
    store.rate(ALICE, HEAT, 5)
    store.mark_seen(ALICE, MATRIX)
    store.rate(BOB, HEAT, 1)
    store.apply(BOB, _parsed(ImportRow(2, MATRIX, "rating", 2.5)))
    store.remove(BOB, HEAT)
    store.forget(BOB)
    alice = store.profile(ALICE)
    assert dict(alice.ratings) == {HEAT: 5.0} and alice.seen == {MATRIX}
    assert len(store.profile(BOB)) == 0
    assert store.owners_count() == 1


def test_forget_deletes_everything_of_one_owner(store: ProfileStore) -> None:
    store.rate(ALICE, HEAT, 5)
    store.mark_not_interested(ALICE, MATRIX)
    store.rate(BOB, HEAT, 2)
    assert store.owners_count() == 2
    assert store.forget(ALICE) == 2
    assert store.forget(ALICE) == 0
    assert store.entries(ALICE) == []
    assert store.owners_count() == 1


def test_profiles_survive_a_reopen(tmp_path: Path) -> None:
    with ProfileStore(tmp_path) as first:
        first.rate(ALICE, HEAT, 4.5)
        first.mark_not_interested(ALICE, MATRIX)
    with ProfileStore(tmp_path) as second:
        profile = second.profile(ALICE)
    assert dict(profile.ratings) == {HEAT: 4.5}
    assert profile.not_interested == {MATRIX}
    with sqlite3.connect(tmp_path / FILENAME) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_apply_is_one_transaction_and_idempotent(store: ProfileStore) -> None:
    parsed = _parsed(
        ImportRow(2, HEAT, "rating", 4.0),
        ImportRow(3, TOY_STORY, "seen"),
        ImportRow(4, MATRIX, "not_interested"),
    )
    first = store.apply(ALICE, parsed)
    assert (first.matched, first.changed) == (3, 3)
    assert store.apply(ALICE, parsed).changed == 0

    # A bad row anywhere: the whole import is rolled back.
    broken = _parsed(ImportRow(2, HEAT, "rating", 1.0), ImportRow(3, 99, "rating", 9.0))
    with pytest.raises(ProfileError):
        store.apply(ALICE, broken)
    assert dict(store.profile(ALICE).ratings) == {HEAT: 4.0}


def test_an_imported_seen_row_never_replaces_a_rating_or_mark(store: ProfileStore) -> None:
    store.rate(ALICE, HEAT, 4.5)
    store.mark_not_interested(ALICE, MATRIX)
    result = store.apply(
        ALICE,
        _parsed(ImportRow(2, HEAT, "seen"), ImportRow(3, MATRIX, "seen"), ImportRow(4, 1, "seen")),
    )
    assert result.changed == 1  # only Toy Story, which was not in the profile
    profile = store.profile(ALICE)
    assert dict(profile.ratings) == {HEAT: 4.5}
    assert profile.not_interested == {MATRIX} and profile.seen == {TOY_STORY}


def test_a_corrupt_file_is_a_clear_error_naming_it(tmp_path: Path) -> None:
    file = tmp_path / FILENAME
    file.write_bytes(b"this is not a database, it is a shopping list\n" * 200)
    with pytest.raises(ProfileStoreError, match="not a readable profile database") as raised:
        ProfileStore(tmp_path)
    assert str(file) in str(raised.value)
    assert isinstance(raised.value, ReelpickError)
    assert file.read_bytes().startswith(b"this is not a database")  # left as it was


def test_another_programs_database_is_not_taken_over(tmp_path: Path) -> None:
    file = tmp_path / "movienight.sqlite3"
    with sqlite3.connect(file) as db:
        db.execute("CREATE TABLE nights (id INTEGER PRIMARY KEY)")
    with pytest.raises(ProfileStoreError, match="another program"):
        ProfileStore(file)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    with ProfileStore(tmp_path):
        pass
    with sqlite3.connect(tmp_path / FILENAME) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(ProfileStoreError, match="newer reelpick"):
        ProfileStore(tmp_path)


def test_worker_threads_can_share_one_store(store: ProfileStore) -> None:
    errors: list[BaseException] = []

    def work(user: int) -> None:
        owner = f"tg:{user}"
        try:
            for movie in range(1, 41):
                store.rate(owner, movie, 0.5 + (movie + user) % 10 / 2)
                if movie % 5 == 0:
                    store.mark_seen(owner, movie)
                store.profile(owner)
        except BaseException as exc:  # reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(user,)) for user in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.owners_count() == 8
    for user in range(8):
        profile = store.profile(f"tg:{user}")
        assert len(profile.ratings) == 32 and len(profile.seen) == 8


def test_export_is_movielens_like_and_imports_back_unchanged(store: ProfileStore, ml_small) -> None:
    store.rate(ALICE, 4973, 4.5)  # Amélie: an accented title with a comma in movies.csv
    store.mark_seen(ALICE, HEAT)
    store.mark_not_interested(ALICE, MATRIX)
    store.rate(ALICE, 999_999_999, 3)  # no longer in the catalogue: kept, without a title
    data = export_csv(store.entries(ALICE), ml_small)

    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert list(rows[0]) == ["movieId", "title", "year", "state", "rating", "updated"]
    by_id = {int(r["movieId"]): r for r in rows}
    assert by_id[4973]["title"] == "Amelie (Fabuleux destin d'Amélie Poulain, Le)"
    assert (by_id[4973]["year"], by_id[4973]["state"], by_id[4973]["rating"]) == (
        "2001",
        "rating",
        "4.5",
    )
    assert (by_id[HEAT]["state"], by_id[HEAT]["rating"]) == ("seen", "")
    assert by_id[MATRIX]["state"] == "not_interested"
    assert by_id[999_999_999]["title"] == ""
    assert by_id[HEAT]["updated"].endswith("Z")

    # The export is an import file too: the same person importing it changes nothing.
    parsed = read_import(data, ml_small, filename="myratings.csv")
    assert parsed.format == "movielens"
    assert [u.row for u in parsed.unmatched] == [len(rows) + 1]  # only the vanished movie
    assert store.apply(ALICE, parsed).changed == 0
    # Another person importing it gets the same profile, less the vanished movie.
    store.apply(BOB, parsed)
    assert store.profile(BOB).movies == store.profile(ALICE).movies - {999_999_999}


def _parsed(*rows: ImportRow) -> ParsedImport:
    return ParsedImport(
        format="movielens", rows=len(rows), matched_rows=len(rows), matched=list(rows)
    )
