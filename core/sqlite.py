"""One SQLite file shared by the event loop and worker threads.

A :class:`Connection` holds one connection in autocommit mode and one lock: writes go
through :meth:`Connection.tx` (``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` when the
block raises), reads through :meth:`Connection.read`. The stores of people's data (profiles,
movie nights) each open their file their own way (schema, checks, pragmas) and then share
this one way of writing and reading it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


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
