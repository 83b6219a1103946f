"""One SQLite file shared by the event loop and worker threads.

A :class:`Connection` holds one connection in autocommit mode and one lock: writes go
through :meth:`Connection.tx` (``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` when the
block raises), reads through :meth:`Connection.read`. The stores of people's data (profiles,
watchlists, movie nights) share this one way of writing and reading their file, and the
profile and watchlist stores open theirs with :func:`open_peoples_file`: the same header
checks (another program's file, a newer schema), the same durability and the same messages.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ReelpickError


class Connection:
    """``db`` (opened with ``isolation_level=None`` and ``check_same_thread=False``) under one
    re-entrant lock (``lock``, when the opener already guards the file with one)."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock | None = None) -> None:
        self.db = db
        self.lock = lock or threading.RLock()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is committed, or none of it."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def read(self, sql: str, args: Sequence[object] = ()) -> list[Any]:
        """The rows of one query, read under the lock."""
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    def rewrite(self) -> None:
        """Rewrite the file (``VACUUM``) after a person's data was deleted: rows that updates
        moved within a page can leave stale copies in the page's unused space, which
        ``secure_delete`` never sees. Milliseconds for a store of thousands of people."""
        with self.lock:
            self.db.execute("VACUUM")

    def close(self) -> None:
        with self.lock:
            self.db.close()


@dataclass(frozen=True)
class FileKind:
    """What one kind of people's-data file is: its name in messages (``noun``, ``plural``),
    the ``PRAGMA application_id`` that marks it as ours, the schema version this code
    writes, and the error its store raises."""

    noun: str  # "profile": "the profile database"
    plural: str  # "profiles": "not reelpick's profiles", "start with empty profiles"
    application_id: int
    schema_version: int
    error: type[ReelpickError]


def open_peoples_file(
    path: Path, kind: FileKind, create: Callable[[sqlite3.Connection, int], None]
) -> Connection:
    """Open (and create the folder of) a file of people's data: refuse another program's
    SQLite file or one written by a newer schema, set ``secure_delete`` (a delete zeroes what
    it frees), WAL and ``synchronous=FULL`` (a committed change survives power loss), then
    run ``create(db, version)`` in one transaction to create or migrate the tables from the
    file's ``version`` (0: new); the version and id are written after it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE.
        file = Connection(
            sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        )
    except (OSError, sqlite3.Error) as exc:
        raise kind.error(f"{path}: cannot open the {kind.noun} database ({exc})") from None
    try:
        db = file.db
        # Reading the header first: a damaged or foreign file fails here, before any write.
        version = db.execute("PRAGMA user_version").fetchone()[0]
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id != kind.application_id and (app_id or tables):
            raise kind.error(
                f"{path}: this SQLite file belongs to another program, not reelpick's {kind.plural}"
            )
        if version > kind.schema_version:
            raise kind.error(
                f"{path}: written by a newer reelpick ({kind.noun} schema {version}; this "
                f"version reads up to {kind.schema_version})"
            )
        db.execute("PRAGMA secure_delete=ON")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        with file.tx():
            create(db, version)
            db.execute(f"PRAGMA application_id={kind.application_id}")
            db.execute(f"PRAGMA user_version={kind.schema_version}")
    except sqlite3.Error as exc:
        file.close()
        raise kind.error(
            f"{path}: not a readable {kind.noun} database ({exc}); move it aside to start "
            f"with empty {kind.plural}"
        ) from None
    except BaseException:
        file.close()
        raise
    return file
