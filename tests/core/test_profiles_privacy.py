"""The profile store and people's data: forget() leaves no copy in the files, marks made by
someone else's action reach only existing profiles, imports are queued durably, and the
Letterboxd export holds every entry and imports back unchanged."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import pytest

from reelpick.profiles import ProfileStore, export_letterboxd, import_profile, read_import

GONE, KEPT, LAST = "tg:5555555", "tg:1212", "tg:9999999"
HEAT, MATRIX, AMELIE = 6, 2571, 4973


@pytest.fixture
def store(tmp_path: Path):
    with ProfileStore(tmp_path) as opened:
        yield opened


def files_holding(folder: Path, marker: bytes) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file() and marker in p.read_bytes())


def test_secure_delete_is_on(store: ProfileStore) -> None:
    with sqlite3.connect(store.path) as other:  # a setting of the connection: read ours
        assert other.execute("PRAGMA application_id").fetchone()[0]
    assert store._file.db.execute("PRAGMA secure_delete").fetchone()[0] == 1


def test_forget_leaves_no_copy_in_the_file_or_its_wal(store: ProfileStore) -> None:
    # Enough rows for a b-tree with interior pages; the person's keys sort between others'.
    for movie_id in range(1, 3001):
        store.rate(KEPT, movie_id, 2.0)
        store.rate(GONE, movie_id, 4.5)
        store.rate(LAST, movie_id, 1.0)
    queued = store.queue_import(GONE, 5555555, "file-id", "ratings.csv")
    store.attach_import_data(queued.id, b"Name,Year\nSECRET-MARKER,1999\n")
    folder = store.path.parent
    assert files_holding(folder, GONE.encode())  # the scan sees them before
    assert files_holding(folder, b"SECRET-MARKER")

    assert store.forget(GONE) == 3000
    assert files_holding(folder, GONE.encode()) == []
    assert files_holding(folder, b"SECRET-MARKER") == []
    assert len(store.profile(KEPT)) == len(store.profile(LAST)) == 3000
    assert store.queued_imports() == []
    wal = store.path.with_name(store.path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_seen_if_known_reaches_only_existing_profiles(store: ProfileStore) -> None:
    store.rate(KEPT, HEAT, 4)
    assert store.mark_seen_if_known(KEPT, MATRIX)
    assert not store.mark_seen_if_known(KEPT, HEAT)  # a rating stays a rating
    assert dict(store.profile(KEPT).ratings) == {HEAT: 4.0}
    store.rate(GONE, HEAT, 3)
    store.forget(GONE)
    assert not store.mark_seen_if_known(GONE, MATRIX)  # deleted: nothing written back
    assert not store.mark_seen_if_known("tg:31", MATRIX)  # never rated: no profile made
    assert store.entries(GONE) == [] and store.entries("tg:31") == []
    assert store.profile(KEPT).seen == {MATRIX}


LETTERBOXD = b"Date,Name,Year,Letterboxd URI,Rating\n2023-01-02,Heat,1995,https://boxd.it/2bf8,5\n"


def test_a_queued_import_keeps_its_file_and_outcome_until_dropped(tmp_path, ml_small) -> None:
    with ProfileStore(tmp_path) as store:
        queued = store.queue_import(
            KEPT, 1212, "file-1", "ratings.csv", message_id=9, language="de"
        )
        store.attach_import_data(queued.id, LETTERBOXD)
        refused = store.queue_import(KEPT, 1212, "file-2", "people.csv")
    with ProfileStore(tmp_path) as store:  # a restart finds both, oldest first
        first, second = store.queued_imports(KEPT)
        assert (first.data, first.outcome, first.message_id, first.language) == (
            LETTERBOXD,
            None,
            9,
            "de",
        )
        assert second.id == refused.id and second.data is None
        store.apply(
            KEPT, read_import(first.data, ml_small, filename="ratings.csv"), queued=first.id
        )
        store.refuse_import(second.id, "people.csv has the columns 'name', 'age'")
    with ProfileStore(tmp_path) as store:
        first, second = store.queued_imports()
        result = first.result()
        assert result is not None and (result.matched, result.changed) == (1, 1)
        assert first.data is None and first.refused is None  # the file goes with the run
        assert second.refused == "people.csv has the columns 'name', 'age'"
        assert dict(store.profile(KEPT).ratings) == {HEAT: 5.0}
        store.drop_import(first.id)
        store.drop_import(second.id)
        assert store.queued_imports() == []


def test_an_import_forgotten_while_it_ran_stores_nothing(store: ProfileStore, ml_small) -> None:
    queued = store.queue_import(GONE, 5555555, "file-1", "ratings.csv")
    parsed = read_import(LETTERBOXD, ml_small, filename="ratings.csv")
    store.forget(GONE)
    result = store.apply(GONE, parsed, queued=queued.id)
    assert result.changed == 0 and store.entries(GONE) == []


def test_letterboxd_export_holds_every_entry_and_imports_back(
    store: ProfileStore, ml_small
) -> None:
    store.rate(KEPT, AMELIE, 4.5)
    store.mark_seen(KEPT, HEAT)
    store.mark_not_interested(KEPT, MATRIX)
    store.rate(KEPT, 999_999_999, 3)  # no longer in the catalogue: kept, without a title
    data = export_letterboxd(store.entries(KEPT), ml_small)

    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert list(rows[0])[:6] == ["Title", "Year", "imdbID", "tmdbID", "Rating", "Tags"]
    by_id = {int(r["movieId"]): r for r in rows}
    assert len(by_id) == 4
    assert (by_id[HEAT]["Title"], by_id[HEAT]["Year"], by_id[HEAT]["imdbID"]) == (
        "Heat",
        "1995",
        "tt0113277",
    )
    assert by_id[HEAT]["tmdbID"] == "949" and by_id[HEAT]["state"] == "seen"
    assert (by_id[AMELIE]["Rating"], by_id[AMELIE]["state"]) == ("4.5", "rating")
    assert (by_id[MATRIX]["Tags"], by_id[MATRIX]["Rating"]) == ("not-interested", "")
    assert by_id[999_999_999]["Title"] == ""

    # The same person importing it back changes nothing (the catalogue's movies).
    result = import_profile(store, KEPT, data, ml_small, filename="export.csv")
    assert result.format == "movielens" and result.changed == 0
