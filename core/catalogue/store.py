"""The catalogue's SQLite file: movies TMDB knows and the dataset does not, and sync progress.

It lives in the data folder (``[catalogue] db``): rebuildable from TMDB, but not a cache to
prune, and not people's data. One row per TMDB id, so a movie is never stored twice; the
sync's pages read and movies fetched are rows too, so a killed sync resumes where it stopped.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..sqlite import Connection
from ..types import NewMovie
from .models import catalogue_id

SCHEMA = """
CREATE TABLE IF NOT EXISTS movies (
    tmdb_id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    original_title TEXT,
    alt_titles TEXT NOT NULL DEFAULT '[]',
    year INTEGER,
    release_date TEXT,
    genres TEXT NOT NULL DEFAULT '[]',
    keywords TEXT NOT NULL DEFAULT '[]',
    overview TEXT,
    runtime INTEGER,
    directors TEXT NOT NULL DEFAULT '[]',
    "cast" TEXT NOT NULL DEFAULT '[]',
    poster_path TEXT,
    imdb_id INTEGER,
    popularity REAL,
    vote_average REAL,
    trailer_url TEXT,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS movies_updated_at ON movies (updated_at);
CREATE TABLE IF NOT EXISTS sync_pages (
    run TEXT NOT NULL,
    source TEXT NOT NULL,
    page INTEGER NOT NULL,
    total_pages INTEGER NOT NULL,
    PRIMARY KEY (run, source, page)
);
CREATE TABLE IF NOT EXISTS sync_queue (
    tmdb_id INTEGER PRIMARY KEY,
    run TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass(frozen=True)
class StoredMovie:
    """One catalogue movie (genres already in the dataset's names)."""

    tmdb_id: int
    title: str
    original_title: str | None
    alt_titles: tuple[str, ...]
    year: int | None
    release_date: str | None
    genres: tuple[str, ...]
    keywords: tuple[str, ...]
    overview: str | None
    runtime: int | None
    directors: tuple[str, ...]
    cast: tuple[str, ...]
    poster_path: str | None
    imdb_id: int | None
    popularity: float | None
    vote_average: float | None
    trailer_url: str | None

    @classmethod
    def described(
        cls,
        tmdb_id: int,
        title: str,
        year: int | None,
        genres: tuple[str, ...],
        keywords: tuple[str, ...] = (),
        **more: Any,
    ) -> StoredMovie:
        """A row with what places a movie (title, year, genres, keywords) and nothing else
        known; ``more`` sets any other field."""
        fields: dict[str, Any] = {
            "original_title": None, "alt_titles": (), "release_date": None, "overview": None,
            "runtime": None, "directors": (), "cast": (), "poster_path": None, "imdb_id": None,
            "popularity": None, "vote_average": None, "trailer_url": None,
        }  # fmt: skip
        fields.update(more)
        return cls(
            tmdb_id=tmdb_id, title=title, year=year, genres=genres, keywords=keywords, **fields
        )

    @property
    def movie_id(self) -> int:
        return catalogue_id(self.tmdb_id)

    @property
    def label(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title


_LISTS = ("alt_titles", "genres", "keywords", "directors", "cast")
_COLUMNS = [f for f in StoredMovie.__dataclass_fields__]
_SELECT = ", ".join(f'"{c}"' for c in _COLUMNS)  # quoted: "cast" is an SQL keyword
_INSERT = (
    f"INSERT OR REPLACE INTO movies ({_SELECT}, updated_at) "
    f"VALUES ({', '.join('?' * (len(_COLUMNS) + 1))})"
)


class CatalogueStore:
    """The catalogue file. Thread-safe (one connection under one lock)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{self.path}: not a usable catalogue ({exc})") from None
        self.conn = Connection(db, threading.RLock())

    def close(self) -> None:
        self.conn.close()

    # -- movies -------------------------------------------------------------------------

    def put(self, movies: Iterable[StoredMovie]) -> int:
        """Insert or refresh movies (by TMDB id); returns how many were written."""
        rows = _rows(movies)
        with self.conn.tx() as db:
            _write(db, rows)
        return len(rows)

    def get(self, tmdb_id: int) -> StoredMovie | None:
        rows = self.conn.read(f"SELECT {_SELECT} FROM movies WHERE tmdb_id = ?", (int(tmdb_id),))
        return _movie(rows[0]) if rows else None

    def __contains__(self, tmdb_id: object) -> bool:
        return bool(
            self.conn.read("SELECT 1 FROM movies WHERE tmdb_id = ?", (int(tmdb_id),))  # type: ignore[call-overload]
        )

    def __len__(self) -> int:
        return int(self.conn.read("SELECT COUNT(*) FROM movies")[0][0])

    def all(self) -> Iterator[StoredMovie]:
        for row in self.conn.read(f"SELECT {_SELECT} FROM movies ORDER BY tmdb_id"):
            yield _movie(row)

    def updated(self) -> dict[int, float]:
        """TMDB id -> when each stored movie was last written (epoch seconds)."""
        return {
            int(r[0]): float(r[1]) for r in self.conn.read("SELECT tmdb_id, updated_at FROM movies")
        }

    def written_after(self, since: float) -> list[StoredMovie]:
        """The movies written (added or refreshed) after ``since`` (epoch seconds; one
        :meth:`put` writes its rows in one transaction with one time)."""
        rows = self.conn.read(
            f"SELECT {_SELECT} FROM movies WHERE updated_at > ? ORDER BY tmdb_id", (since,)
        )
        return [_movie(row) for row in rows]

    def signature(self) -> tuple[int, float]:
        """(row count, last write): changes whenever a movie is added, refreshed or removed,
        so a reader can tell in one query whether to read the rows again."""
        count, last = self.conn.read("SELECT COUNT(*), MAX(updated_at) FROM movies")[0]
        return int(count), float(last or 0.0)

    def ids(self) -> set[int]:
        return {int(r[0]) for r in self.conn.read("SELECT tmdb_id FROM movies")}

    # -- sync progress ------------------------------------------------------------------

    def page_done(self, run: str, source: str, page: int) -> int | None:
        """The total pages recorded when ``page`` of ``source`` was read in ``run``, or None."""
        rows = self.conn.read(
            "SELECT total_pages FROM sync_pages WHERE run = ? AND source = ? AND page = ?",
            (run, source, page),
        )
        return int(rows[0][0]) if rows else None

    def record_page(
        self, run: str, source: str, page: int, total: int, ids: Sequence[int], read: bool = True
    ) -> None:
        """One page read: its new movie ids join the queue, in the same transaction
        (``read=False``: only part of the page was taken; it is not marked as read)."""
        with self.conn.tx() as db:
            db.executemany(
                "INSERT INTO sync_queue (tmdb_id, run) VALUES (?, ?) "
                "ON CONFLICT (tmdb_id) DO UPDATE SET done = 0",
                [(int(i), run) for i in ids],
            )
            if not read:
                return
            db.execute(
                "INSERT OR REPLACE INTO sync_pages (run, source, page, total_pages) "
                "VALUES (?, ?, ?, ?)",
                (run, source, page, total),
            )

    def pending(self) -> list[int]:
        return [
            int(r[0])
            for r in self.conn.read("SELECT tmdb_id FROM sync_queue WHERE done = 0 ORDER BY rowid")
        ]

    def queued(self) -> int:
        return int(self.conn.read("SELECT COUNT(*) FROM sync_queue")[0][0])

    def finish(self, tmdb_ids: Sequence[int], movies: Iterable[StoredMovie]) -> None:
        """Movies fetched: stored and taken off the queue, in one transaction (a kill between
        the two cannot leave one without the other)."""
        rows = _rows(movies)
        with self.conn.tx() as db:
            _write(db, rows)
            db.executemany(
                "UPDATE sync_queue SET done = 1 WHERE tmdb_id = ?", [(int(i),) for i in tmdb_ids]
            )

    def end_run(self, run: str) -> None:
        """A sync that read everything: its progress rows go."""
        with self.conn.tx() as db:
            db.execute("DELETE FROM sync_pages WHERE run = ?", (run,))
            db.execute("DELETE FROM sync_queue WHERE done = 1")


def new_movie(movie: StoredMovie) -> NewMovie:
    """A catalogue row as plugins that place movies by content see it."""
    return NewMovie(
        movie.movie_id,
        movie.label,
        movie.year,
        movie.genres,
        movie.keywords,
        tmdb_id=movie.tmdb_id,
        poster_path=movie.poster_path,
    )


def _write(db: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    """Insert or refresh ``rows`` in the transaction ``db`` holds, with one stamp: taken
    under the write lock and after every earlier write, so a reader asking for the rows
    written after the last stamp it saw never misses one another process committed late."""
    (last,) = db.execute("SELECT MAX(updated_at) FROM movies").fetchone()
    stamp = max(time.time(), float(last or 0.0) + 1e-3)
    db.executemany(_INSERT, [(*row, stamp) for row in rows])


def _rows(movies: Iterable[StoredMovie]) -> list[tuple[object, ...]]:
    rows = []
    for movie in movies:
        row: list[object] = [getattr(movie, c) for c in _COLUMNS]
        for name in _LISTS:
            row[_COLUMNS.index(name)] = json.dumps(list(getattr(movie, name)))
        rows.append(tuple(row))
    return rows


def _movie(row: Sequence[object]) -> StoredMovie:
    values = dict(zip(_COLUMNS, row, strict=True))
    for name in _LISTS:
        values[name] = tuple(json.loads(str(values[name])))
    return StoredMovie(**values)  # type: ignore[arg-type]
