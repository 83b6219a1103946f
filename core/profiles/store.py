"""People's ratings and marks on disk: one SQLite file (standard library), WAL journal, one
transaction per change and one for a whole import.

Each person is an *owner* key: ``tg:<telegram user id>`` or ``local:<name>``. Each owner has
at most one entry per movie: a rating (0.5-5 stars in half steps), "seen" (watched, no rating)
or "not interested". A new rating replaces an earlier mark of the same movie and a new mark
replaces a rating. Every statement names its owner, so nothing one person does reaches
another person's entries.

The store is safe to share between the event loop and worker threads: one connection,
guarded by a lock (as the movie-night store does). A file that is not a profile database
raises :class:`ProfileStoreError` naming it, never a raw sqlite3 traceback.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..types import Profile
from .errors import ProfileStoreError
from .model import (
    Entry,
    ImportResult,
    Kind,
    ParsedImport,
    check_movie_id,
    check_owner,
    check_stars,
)

SCHEMA_VERSION = 1
FILENAME = "profiles.sqlite3"  # used when the caller passes a folder
# PRAGMA application_id: tells our file apart from another program's SQLite database.
APPLICATION_ID = 0x52504B50  # "RPKP"

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    owner      TEXT NOT NULL,
    movie_id   INTEGER NOT NULL CHECK (movie_id > 0),
    kind       TEXT NOT NULL CHECK (kind IN ('rating', 'seen', 'not_interested')),
    stars      REAL CHECK (stars IS NULL OR (stars BETWEEN 0.5 AND 5 AND stars * 2 = CAST(stars * 2 AS INTEGER))),
    updated_at REAL NOT NULL,
    PRIMARY KEY (owner, movie_id),
    CHECK ((kind = 'rating') = (stars IS NOT NULL))
) WITHOUT ROWID;
"""

# Insert, or change an existing entry only when it differs: an unchanged movie keeps its
# updated_at and counts 0 in rowcount, which makes re-imports report "0 changed".
_UPSERT = """
INSERT INTO entries (owner, movie_id, kind, stars, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (owner, movie_id) DO UPDATE
SET kind = excluded.kind, stars = excluded.stars, updated_at = excluded.updated_at
WHERE entries.kind IS NOT excluded.kind OR entries.stars IS NOT excluded.stars
"""
# A "seen" row of an import only fills a gap: watched.csv lists rated films too, and must not
# turn their ratings (or a deliberate "not interested") back into plain "seen".
_FILL_GAP = """
INSERT INTO entries (owner, movie_id, kind, stars, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (owner, movie_id) DO NOTHING
"""


class ProfileStore:
    """All profiles, in one SQLite file.

    ``path`` is the database file (``me.sqlite3``), or a folder to keep ``profiles.sqlite3``
    in (the bot passes its state folder; a missing one is created). ``clock`` gives ``updated_at`` (tests pass a fixed one).
    """

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time) -> None:
        path = Path(path)
        # A folder (existing, or new and named without a suffix like "state") gets
        # profiles.sqlite3; anything else is the database file itself.
        is_folder = path.is_dir() or (not path.exists() and not path.suffix)
        self.path = path / FILENAME if is_folder else path
        self._clock = clock
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE.
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
        except (OSError, sqlite3.Error) as exc:
            raise ProfileStoreError(
                f"{self.path}: cannot open the profile database ({exc})"
            ) from None
        try:
            self._prepare()
        except sqlite3.Error as exc:
            self._db.close()
            raise ProfileStoreError(
                f"{self.path}: not a readable profile database ({exc}); "
                "move it aside to start with empty profiles"
            ) from None
        except ProfileStoreError:
            self._db.close()
            raise

    def _prepare(self) -> None:
        db = self._db
        # Reading the header first: a damaged or foreign file fails here, before any write.
        version = db.execute("PRAGMA user_version").fetchone()[0]
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id != APPLICATION_ID and (app_id or tables):
            raise ProfileStoreError(
                f"{self.path}: this SQLite file belongs to another program, not reelpick's profiles"
            )
        if version > SCHEMA_VERSION:
            raise ProfileStoreError(
                f"{self.path}: written by a newer reelpick (profile schema {version}; this "
                f"version reads up to {SCHEMA_VERSION})"
            )
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed rating survives power loss, not only a killed process.
        db.execute("PRAGMA synchronous=FULL")
        with self._tx():
            db.execute(SCHEMA)
            db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ProfileStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is committed, or none of it."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise ProfileStoreError(f"{self.path}: could not save ({exc})") from None

    def _read(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise ProfileStoreError(f"{self.path}: could not read ({exc})") from None

    # -- reading ---------------------------------------------------------------------
    def profile(self, owner: str) -> Profile:
        """What the store knows of ``owner`` (an empty profile for someone new)."""
        ratings: dict[int, float] = {}
        seen: set[int] = set()
        not_interested: set[int] = set()
        for movie_id, kind, stars in self._read(
            "SELECT movie_id, kind, stars FROM entries WHERE owner = ?", (check_owner(owner),)
        ):
            if kind == "rating":
                ratings[movie_id] = stars
            elif kind == "seen":
                seen.add(movie_id)
            else:
                not_interested.add(movie_id)
        # Read-only mapping: plugins read profiles, they never change them.
        return Profile(
            ratings=MappingProxyType(ratings),
            seen=frozenset(seen),
            not_interested=frozenset(not_interested),
        )

    def entries(self, owner: str) -> list[Entry]:
        """Every entry of ``owner``, oldest change first (for a CSV export)."""
        rows = self._read(
            "SELECT movie_id, kind, stars, updated_at FROM entries WHERE owner = ?"
            " ORDER BY updated_at, movie_id",
            (check_owner(owner),),
        )
        return [Entry(*row) for row in rows]

    def owners_count(self) -> int:
        return int(self._read("SELECT count(DISTINCT owner) FROM entries")[0][0])

    # -- changing --------------------------------------------------------------------
    def rate(self, owner: str, movie_id: int, stars: float) -> bool:
        """Rate a movie (replacing any mark of it). True when this changed something."""
        return self._set(owner, movie_id, "rating", check_stars(stars))

    def mark_seen(self, owner: str, movie_id: int) -> bool:
        """Seen, no rating (replacing a rating or mark of it). True when this changed something."""
        return self._set(owner, movie_id, "seen", None)

    def mark_not_interested(self, owner: str, movie_id: int) -> bool:
        """Never suggest this movie (replacing a rating or mark). True when this changed something."""
        return self._set(owner, movie_id, "not_interested", None)

    def remove(self, owner: str, movie_id: int) -> bool:
        """Forget the rating or mark of one movie. True when there was one."""
        key = (check_owner(owner), check_movie_id(movie_id))
        with self._tx() as db:
            return (
                db.execute("DELETE FROM entries WHERE owner = ? AND movie_id = ?", key).rowcount > 0
            )

    unrate = remove

    def forget(self, owner: str) -> int:
        """Delete everything of ``owner``; returns how many entries there were."""
        with self._tx() as db:
            return db.execute("DELETE FROM entries WHERE owner = ?", (check_owner(owner),)).rowcount

    def apply(self, owner: str, parsed: ParsedImport) -> ImportResult:
        """Store the matched rows of an import in one transaction and report what changed.

        A row replaces what the store holds for its movie, except that a "seen" row never
        replaces a rating or a "not interested" mark (it only fills gaps). Rows equal to what
        is stored change nothing, so importing the same file twice reports 0 changed.
        """
        check_owner(owner)
        now = self._clock()
        changed = 0
        with self._tx() as db:
            for row in parsed.matched:
                stars = check_stars(row.stars) if row.kind == "rating" else None
                sql = _FILL_GAP if row.kind == "seen" else _UPSERT
                args = (owner, check_movie_id(row.movie_id), row.kind, stars, now)
                changed += db.execute(sql, args).rowcount
        return ImportResult(
            format=parsed.format,
            rows=parsed.rows,
            matched=parsed.matched_rows,
            changed=changed,
            unmatched=list(parsed.unmatched),
            notes=list(parsed.notes),
        )

    def _set(self, owner: str, movie_id: int, kind: Kind, stars: float | None) -> bool:
        args = (check_owner(owner), check_movie_id(movie_id), kind, stars, self._clock())
        with self._tx() as db:
            return db.execute(_UPSERT, args).rowcount > 0
