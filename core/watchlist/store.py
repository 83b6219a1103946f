"""The watchlist on disk: movies a person wants to see, one SQLite file in the state folder.

Each person is the same *owner* key as in the profile store (``tg:<id>``, ``local:<name>``).
An owner has each movie at most once, with the time it was added (``added_at``, seconds
since the epoch; an import keeps the date its file gives). Every statement names its owner.

:meth:`WatchlistStore.forget` leaves none of a person's rows in the file: ``secure_delete``
zeroes what a delete frees and the write-ahead log is emptied right after, as the profile
store does. A file that is not a watchlist database raises :class:`WatchlistError`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ReelpickError
from ..sqlite import FileKind, open_peoples_file

FILENAME = "watchlist.sqlite3"
SCHEMA_VERSION = 1
APPLICATION_ID = 0x52504B57  # "RPKW"
MAX_ENTRIES = 20_000  # per owner: what an import may add (heavy users list a few thousand)

SCHEMA = """
CREATE TABLE IF NOT EXISTS watchlist (
    owner    TEXT NOT NULL,
    movie_id INTEGER NOT NULL CHECK (movie_id > 0),
    added_at REAL NOT NULL,
    PRIMARY KEY (owner, movie_id)
) WITHOUT ROWID
"""


class WatchlistError(ReelpickError):
    """The watchlist file cannot be opened or written; the message names it."""


@dataclass(frozen=True)
class WatchlistEntry:
    movie_id: int
    added_at: float


def _check(owner: str, movie_id: int) -> None:
    if not isinstance(owner, str) or not owner or len(owner) > 200:
        raise ValueError(f"not an owner key: {owner!r}")
    if isinstance(movie_id, bool) or not isinstance(movie_id, int) or movie_id <= 0:
        raise ValueError(f"not a movie id: {movie_id!r}")


def _create(db: sqlite3.Connection, version: int) -> None:
    db.execute(SCHEMA)  # schema 1 is the only one so far: nothing to migrate


WATCHLISTS = FileKind("watchlist", "watchlists", APPLICATION_ID, SCHEMA_VERSION, WatchlistError)


class WatchlistStore:
    """Watchlists in one SQLite file (``path``; a folder gets ``watchlist.sqlite3``).

    Safe to share between the event loop and worker threads (one connection, one lock).
    ``clock`` gives ``added_at`` for movies added by hand (tests pass a fixed one).
    """

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time) -> None:
        path = Path(path)
        is_folder = path.is_dir() or (not path.exists() and not path.suffix)
        self.path = path / FILENAME if is_folder else path
        self._clock = clock
        self._file = open_peoples_file(self.path, WATCHLISTS, _create)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> WatchlistStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _write(self, sql: str, args: Sequence[object]) -> int:
        try:
            with self._file.tx() as db:
                return int(db.execute(sql, args).rowcount)
        except sqlite3.Error as exc:
            raise WatchlistError(f"{self.path}: could not save ({exc})") from None

    def add(self, owner: str, movie_id: int) -> bool:
        """Put ``movie_id`` on ``owner``'s list; False when it was there already."""
        _check(owner, movie_id)
        return (
            self._write(
                "INSERT INTO watchlist (owner, movie_id, added_at) VALUES (?, ?, ?) "
                "ON CONFLICT (owner, movie_id) DO NOTHING",
                (owner, movie_id, float(self._clock())),
            )
            > 0
        )

    def add_many(self, owner: str, entries: Iterable[tuple[int, float | None]]) -> int:
        """Add ``(movie_id, added_at or None for now)`` pairs in one transaction; movies
        already listed keep their date. Returns how many were new."""
        now = float(self._clock())
        rows = []
        for movie_id, added_at in entries:
            _check(owner, movie_id)
            rows.append((owner, movie_id, now if added_at is None else float(added_at)))
        if len(rows) > MAX_ENTRIES:
            raise ValueError(f"at most {MAX_ENTRIES:,} movies at once")
        added = 0
        try:
            with self._file.tx() as db:
                for row in rows:
                    added += db.execute(
                        "INSERT INTO watchlist (owner, movie_id, added_at) VALUES (?, ?, ?) "
                        "ON CONFLICT (owner, movie_id) DO NOTHING",
                        row,
                    ).rowcount
        except sqlite3.Error as exc:
            raise WatchlistError(f"{self.path}: could not save ({exc})") from None
        return added

    def remove(self, owner: str, movie_id: int) -> bool:
        """Take ``movie_id`` off ``owner``'s list; False when it was not on it."""
        _check(owner, movie_id)
        return (
            self._write("DELETE FROM watchlist WHERE owner = ? AND movie_id = ?", (owner, movie_id))
            > 0
        )

    def contains(self, owner: str, movie_id: int) -> bool:
        rows = self._file.read(
            "SELECT 1 FROM watchlist WHERE owner = ? AND movie_id = ?", (owner, int(movie_id))
        )
        return bool(rows)

    def entries(
        self, owner: str, *, offset: int = 0, limit: int | None = None
    ) -> list[WatchlistEntry]:
        """``owner``'s list, the newest first (ties by movie id)."""
        rows = self._file.read(
            "SELECT movie_id, added_at FROM watchlist WHERE owner = ? "
            "ORDER BY added_at DESC, movie_id LIMIT ? OFFSET ?",
            (owner, -1 if limit is None else max(0, int(limit)), max(0, int(offset))),
        )
        return [WatchlistEntry(int(m), float(a)) for m, a in rows]

    def movies(self, owner: str) -> set[int]:
        """The movie ids on ``owner``'s list."""
        rows = self._file.read("SELECT movie_id FROM watchlist WHERE owner = ?", (owner,))
        return {int(m) for (m,) in rows}

    def count(self, owner: str) -> int:
        return int(
            self._file.read("SELECT count(*) FROM watchlist WHERE owner = ?", (owner,))[0][0]
        )

    def shared(self, owners: Iterable[str]) -> Counter[int]:
        """How many of ``owners`` list each movie (a movie night's members, say)."""
        counts: Counter[int] = Counter()
        for owner in dict.fromkeys(owners):
            counts.update(self.movies(owner))
        return counts

    def forget(self, owner: str) -> int:
        """Delete ``owner``'s whole list, leaving no copy in the file; returns the count."""
        removed = self._write("DELETE FROM watchlist WHERE owner = ?", (owner,))
        try:
            self._file.rewrite()  # no stale copy in unused page space (see reelpick.sqlite)
        except sqlite3.Error as exc:
            raise WatchlistError(f"{self.path}: could not rewrite the file ({exc})") from None
        with contextlib.suppress(sqlite3.Error):  # busy: the next checkpoint empties it
            self._file.read("PRAGMA wal_checkpoint(TRUNCATE)")
        return removed
