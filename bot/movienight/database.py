"""The movie nights' SQLite file: one connection, one lock, one transaction per change.

:class:`Database` opens (or creates and migrates) the file and hands out write transactions
(:meth:`Database.tx`) and reads (:meth:`Database.read`). Every record class of the store
(nights, ballots, members, asks) is given the same :class:`Database`, so they share one
connection and one lock and stay safe to use from the event loop and worker threads alike.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from reelpick.sqlite import Connection

from .schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION

log = logging.getLogger(__name__)


class Database:
    """One SQLite file in WAL mode; a file that is not a database is set aside, not fatal."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()  # also guards the schema set-up in _connect
        try:
            self._file = Connection(self._connect(), self._lock)
        except sqlite3.DatabaseError as exc:
            # A file that is not a database (or a damaged one) must not keep the bot down:
            # keep it for a post-mortem under another name and start with an empty store.
            kept = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            log.error("movie-night store %s is unreadable (%s); moved to %s", self.path, exc, kept)
            self.path.rename(kept)
            for suffix in ("-wal", "-shm"):
                side = self.path.with_name(self.path.name + suffix)
                if side.exists():
                    side.rename(kept.with_name(kept.name + suffix))
            self._file = Connection(self._connect(), self._lock)

    def _connect(self) -> sqlite3.Connection:
        # autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE in tx().
        # A short busy timeout: a locked file fails a call after 5 s instead of stalling 30.
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed vote or winner survives power loss, not only a killed process.
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            with self._lock:
                db.executescript(SCHEMA)
                columns = {
                    (table, r["name"])
                    for table in {t for t, _, _ in MIGRATIONS}
                    for r in db.execute(f"PRAGMA table_info({table})")  # our names, not input
                }
                for table, column, kind in MIGRATIONS:
                    if (table, column) not in columns:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                (check,) = db.execute("PRAGMA quick_check").fetchone()
                if check != "ok":
                    raise sqlite3.DatabaseError(f"quick_check: {check}")
        except BaseException:
            db.close()
            raise
        return db

    def tx(self) -> AbstractContextManager[sqlite3.Connection]:
        """One write transaction: all of it is committed, or none of it."""
        return self._file.tx()

    def read(self, sql: str, args: Sequence[object] = ()) -> list[sqlite3.Row]:
        """The rows of one query, read under the lock."""
        rows: list[sqlite3.Row] = self._file.read(sql, args)
        return rows

    def close(self) -> None:
        self._file.close()
