"""People's ratings and marks on disk: one SQLite file (standard library), WAL journal, one
transaction per change and one for a whole import.

Each person is an *owner* key: ``tg:<telegram user id>`` or ``local:<name>``. Each owner has
at most one entry per movie: a rating (0.5-5 stars in half steps), "seen" (watched, no rating)
or "not interested". A new rating replaces an earlier mark of the same movie and a new mark
replaces a rating. Every statement names its owner, so nothing one person does reaches
another person's entries. Each entry keeps ``updated_at`` (its last change) and ``rated_at``
(when the person rated or watched the movie: the import file's date where it has one, else
the moment it was stored); :meth:`ProfileStore.profile` hands ``rated_at`` to the plugins.
Files of schema 1 are migrated when opened (their ``rated_at`` is ``updated_at``).

Deleting a person (:meth:`ProfileStore.forget`) leaves none of their data in the files:
``secure_delete`` zeroes what a delete frees (cells, overflow and free pages); a ``VACUUM``
then rewrites the file, because rows that earlier updates moved within a page can leave stale
copies in the page's unused space, which no delete touches; and the WAL is emptied
(``wal_checkpoint(TRUNCATE)``), so no WAL frame written before keeps a copy. The rewrite
takes milliseconds for a store of thousands of profiles and only happens on a /forget.

An import a person sent is queued here (``queued_imports``) before any work starts, with
the file once downloaded: a bot killed mid-import finds it again when it starts, and the
outcome is recorded in the same transaction as the ratings, so the person is told either
way and nothing is imported twice.

The store is safe to share between the event loop and worker threads: one connection,
guarded by a lock (as the movie-night store does). A file that is not a profile database
raises :class:`ProfileStoreError` naming it, never a raw sqlite3 traceback.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..sqlite import FileKind, open_peoples_file
from ..types import Profile
from .errors import ProfileStoreError
from .model import (
    Entry,
    ImportResult,
    Kind,
    ParsedImport,
    Unmatched,
    check_movie_id,
    check_owner,
    check_stars,
)

log = logging.getLogger(__name__)

# 1: entries and the import queue; 2: entries.rated_at (when the person rated or watched).
SCHEMA_VERSION = 2
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
    rated_at   REAL,
    PRIMARY KEY (owner, movie_id),
    CHECK ((kind = 'rating') = (stars IS NOT NULL))
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS queued_imports (
    id          INTEGER PRIMARY KEY,
    owner       TEXT NOT NULL,
    chat_id     INTEGER NOT NULL,
    message_id  INTEGER,
    file_id     TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    language    TEXT,
    data        BLOB,
    outcome     TEXT,
    received_at REAL NOT NULL
);
"""

# Schema 1 files gain rated_at; an entry's best guess of when it was rated is its last change.
MIGRATIONS = {
    2: (
        "ALTER TABLE entries ADD COLUMN rated_at REAL",
        "UPDATE entries SET rated_at = updated_at WHERE rated_at IS NULL",
    ),
}


def _create_or_migrate(db: sqlite3.Connection, version: int) -> None:
    if version:
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS.get(step, ()):
                db.execute(statement)
    # New files get every table; older ones the tables a version added without a bump.
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


PROFILES = FileKind("profile", "profiles", APPLICATION_ID, SCHEMA_VERSION, ProfileStoreError)

# Insert, or change an existing entry only when it differs: an unchanged movie keeps its
# updated_at and rated_at and counts 0 in rowcount, which makes re-imports report "0 changed".
_UPSERT = """
INSERT INTO entries (owner, movie_id, kind, stars, updated_at, rated_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (owner, movie_id) DO UPDATE
SET kind = excluded.kind, stars = excluded.stars, updated_at = excluded.updated_at,
    rated_at = excluded.rated_at
WHERE entries.kind IS NOT excluded.kind OR entries.stars IS NOT excluded.stars
"""
# A "seen" row of an import only fills a gap: watched.csv lists rated films too, and must not
# turn their ratings (or a deliberate "not interested") back into plain "seen".
_FILL_GAP = """
INSERT INTO entries (owner, movie_id, kind, stars, updated_at, rated_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (owner, movie_id) DO NOTHING
"""


# A "seen" mark that someone else's action (a movie night's winner) adds: only to a profile
# that exists, so nobody who never rated, or who deleted their profile, gets one.
_SEEN_IF_KNOWN = """
INSERT INTO entries (owner, movie_id, kind, stars, updated_at, rated_at)
SELECT ?, ?, 'seen', NULL, ?, ? WHERE EXISTS (SELECT 1 FROM entries WHERE owner = ?)
ON CONFLICT (owner, movie_id) DO NOTHING
"""


@dataclass(frozen=True)
class QueuedImport:
    """An import a person sent, from its arrival until they were told how it went.

    ``data`` is None until the file is downloaded; ``outcome`` is None until the import ran,
    then :meth:`ImportResult.to_json` or ``{"refused": reason}``.
    """

    id: int
    owner: str
    chat_id: int
    message_id: int | None
    file_id: str
    file_name: str
    language: str | None
    data: bytes | None
    outcome: dict[str, Any] | None

    @property
    def refused(self) -> str | None:
        """Why the file was refused as a whole, or None."""
        return None if self.outcome is None else self.outcome.get("refused")

    def result(self) -> ImportResult | None:
        """What the import did (rows shown by number and reason only), or None."""
        out = self.outcome
        if out is None or "refused" in out:
            return None
        return ImportResult(
            format=out["format"],
            rows=out["rows"],
            matched=out["matched"],
            changed=out["changed"],
            unmatched=[Unmatched(u["row"], "", u["reason"]) for u in out["unmatched"]],
            notes=list(out["notes"]),
        )


class ProfileStore:
    """All profiles, in one SQLite file.

    ``path`` is the database file (``me.sqlite3``), or a folder to keep ``profiles.sqlite3``
    in (the bot passes its state folder; a missing one is created). ``clock``
    gives ``updated_at``, and ``rated_at`` of entries without a date (tests pass a fixed one).
    """

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time) -> None:
        path = Path(path)
        # A folder (existing, or new and named without a suffix like "state") gets
        # profiles.sqlite3; anything else is the database file itself.
        is_folder = path.is_dir() or (not path.exists() and not path.suffix)
        self.path = path / FILENAME if is_folder else path
        self._clock = clock
        self._file = open_peoples_file(self.path, PROFILES, _create_or_migrate)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ProfileStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is committed, or none of it."""
        try:
            with self._file.tx() as db:
                yield db
        except sqlite3.Error as exc:
            raise ProfileStoreError(f"{self.path}: could not save ({exc})") from None

    def _read(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._file.read(sql, args)
        except sqlite3.Error as exc:
            raise ProfileStoreError(f"{self.path}: could not read ({exc})") from None

    # -- reading ---------------------------------------------------------------------
    def profile(self, owner: str) -> Profile:
        """What the store knows of ``owner`` (an empty profile for someone new)."""
        ratings: dict[int, float] = {}
        seen: set[int] = set()
        not_interested: set[int] = set()
        rated_at: dict[int, float] = {}
        for movie_id, kind, stars, when in self._read(
            "SELECT movie_id, kind, stars, rated_at FROM entries WHERE owner = ?",
            (check_owner(owner),),
        ):
            if kind == "rating":
                ratings[movie_id] = stars
            elif kind == "seen":
                seen.add(movie_id)
            else:
                not_interested.add(movie_id)
                continue
            if when is not None:
                rated_at[movie_id] = when
        # Read-only mappings: plugins read profiles, they never change them.
        return Profile(
            ratings=MappingProxyType(ratings),
            seen=frozenset(seen),
            not_interested=frozenset(not_interested),
            rated_at=MappingProxyType(rated_at),
        )

    def entries(self, owner: str) -> list[Entry]:
        """Every entry of ``owner``, oldest change first (for a CSV export)."""
        rows = self._read(
            "SELECT movie_id, kind, stars, updated_at, rated_at FROM entries WHERE owner = ?"
            " ORDER BY updated_at, movie_id",
            (check_owner(owner),),
        )
        return [Entry(*row) for row in rows]

    def owners_count(self) -> int:
        return int(self._read("SELECT count(DISTINCT owner) FROM entries")[0][0])

    # -- changing --------------------------------------------------------------------
    def rate(self, owner: str, movie_id: int, stars: float, *, at: float | None = None) -> bool:
        """Rate a movie (replacing any mark of it), rated ``at`` (default: now). True when this
        changed something."""
        return self._set(owner, movie_id, "rating", check_stars(stars), at)

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
        """Delete everything of ``owner`` (entries and queued imports), leaving no copy in the
        file or its WAL; returns how many entries there were."""
        key = (check_owner(owner),)
        with self._tx() as db:
            count = db.execute("DELETE FROM entries WHERE owner = ?", key).rowcount
            db.execute("DELETE FROM queued_imports WHERE owner = ?", key)
        try:
            self._file.rewrite()
        except sqlite3.Error as exc:
            raise ProfileStoreError(f"{self.path}: could not rewrite the file ({exc})") from None
        self._empty_wal()
        return count

    def _empty_wal(self) -> None:
        """Copy the WAL into the file and truncate it: frames written before a delete hold
        the deleted rows (``secure_delete`` zeroes them in the file, not in old frames)."""
        try:
            (busy, *_) = self._file.read("PRAGMA wal_checkpoint(TRUNCATE)")[0]
        except sqlite3.Error as exc:
            raise ProfileStoreError(f"{self.path}: could not checkpoint ({exc})") from None
        if busy:  # another process is reading: its WAL is emptied at its next checkpoint
            log.warning("%s: the WAL could not be emptied now (a reader holds it)", self.path)

    def mark_seen_if_known(self, owner: str, movie_id: int) -> bool:
        """Seen, but only in an existing profile, and never over a rating or mark.

        For marks that come from someone else's action (a movie night won by a movie
        ``owner`` voted for): a person without a profile, or who deleted theirs, gets none.
        True when a mark was added.
        """
        now = self._clock()
        args = (check_owner(owner), check_movie_id(movie_id), now, now, owner)
        with self._tx() as db:
            return db.execute(_SEEN_IF_KNOWN, args).rowcount > 0

    # -- queued imports --------------------------------------------------------------
    def queue_import(
        self,
        owner: str,
        chat_id: int,
        file_id: str,
        file_name: str,
        *,
        message_id: int | None = None,
        language: str | None = None,
    ) -> QueuedImport:
        """Record an import before any work on it starts."""
        args = (check_owner(owner), chat_id, message_id, file_id, file_name, language)
        with self._tx() as db:
            row_id = db.execute(
                "INSERT INTO queued_imports (owner, chat_id, message_id, file_id, file_name,"
                " language, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*args, self._clock()),
            ).lastrowid
        assert row_id is not None
        return QueuedImport(row_id, *args, data=None, outcome=None)

    def attach_import_data(self, import_id: int, data: bytes) -> None:
        """Keep the downloaded file with its queued import (the download link expires)."""
        with self._tx() as db:
            db.execute("UPDATE queued_imports SET data = ? WHERE id = ?", (data, import_id))

    def refuse_import(self, import_id: int, reason: str) -> None:
        """Record that a queued import's file was refused as a whole."""
        outcome = json.dumps({"refused": reason})
        with self._tx() as db:
            db.execute(
                "UPDATE queued_imports SET outcome = ?, data = NULL WHERE id = ?",
                (outcome, import_id),
            )

    def queued_imports(self, owner: str | None = None) -> list[QueuedImport]:
        """Imports not yet reported to their person (of ``owner``, or all), oldest first."""
        sql = (
            "SELECT id, owner, chat_id, message_id, file_id, file_name, language, data, outcome"
            " FROM queued_imports"
        )
        args: tuple[str, ...] = ()
        if owner is not None:
            sql, args = sql + " WHERE owner = ?", (check_owner(owner),)
        rows = self._read(sql + " ORDER BY id", args)
        return [
            QueuedImport(
                id=row[0],
                owner=row[1],
                chat_id=row[2],
                message_id=row[3],
                file_id=row[4],
                file_name=row[5],
                language=row[6],
                data=row[7],
                outcome=None if row[8] is None else json.loads(row[8]),
            )
            for row in rows
        ]

    def drop_import(self, import_id: int) -> None:
        """Forget a queued import once its person has been told how it went."""
        with self._tx() as db:
            db.execute("DELETE FROM queued_imports WHERE id = ?", (import_id,))

    def apply(self, owner: str, parsed: ParsedImport, *, queued: int | None = None) -> ImportResult:
        """Store the matched rows of an import in one transaction and report what changed.

        A row replaces what the store holds for its movie, except that a "seen" row never
        replaces a rating or a "not interested" mark (it only fills gaps). Rows equal to what
        is stored change nothing, so importing the same file twice reports 0 changed.
        ``queued`` names the queued import this is: its outcome is recorded in the same
        transaction, so a restart never runs it again; one that :meth:`forget` removed
        meanwhile stores nothing.
        """
        check_owner(owner)
        now = self._clock()
        changed = 0
        with self._tx() as db:
            if (
                queued is not None
                and not db.execute(
                    "SELECT 1 FROM queued_imports WHERE id = ?", (queued,)
                ).fetchone()
            ):
                parsed = ParsedImport(
                    parsed.format, parsed.rows
                )  # deleted by forget(): store nothing
            for row in parsed.matched:
                stars = check_stars(row.stars) if row.kind == "rating" else None
                sql = _FILL_GAP if row.kind == "seen" else _UPSERT
                when = now if row.rated_at is None else row.rated_at
                args = (owner, check_movie_id(row.movie_id), row.kind, stars, now, when)
                changed += db.execute(sql, args).rowcount
            result = ImportResult(
                format=parsed.format,
                rows=parsed.rows,
                matched=parsed.matched_rows,
                changed=changed,
                unmatched=list(parsed.unmatched),
                notes=list(parsed.notes),
            )
            if queued is not None:
                db.execute(
                    "UPDATE queued_imports SET outcome = ?, data = NULL WHERE id = ?",
                    (json.dumps(result.to_json()), queued),
                )
        return result

    def _set(
        self, owner: str, movie_id: int, kind: Kind, stars: float | None, at: float | None = None
    ) -> bool:
        now = self._clock()
        when = now if at is None else at
        args = (check_owner(owner), check_movie_id(movie_id), kind, stars, now, when)
        with self._tx() as db:
            return db.execute(_UPSERT, args).rowcount > 0
