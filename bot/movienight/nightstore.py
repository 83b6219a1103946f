"""Movie nights on disk: one SQLite file (standard library), WAL journal, one transaction per change.

A movie night moves through these states::

    gathering --/vote--> voting --close--> closing --announced--> closed
                                    \\--no votes--> novotes --random pick--> closing --> closed

``closing`` means: the winner, the tally and the watch-history entry are committed, and the
announcement may not have reached the chat yet. Leaving ``voting`` is a compare-and-set inside
one transaction, so a deadline job, ``/close`` and a restart racing each other close a night
once. After a crash, nights still in ``voting`` get their deadline back and nights in
``closing`` get their announcement.

Exactly-once announcements: the winner, the tally and the history entry are committed together
before anything is sent, and ``announced`` is set right after Telegram confirms the message.
Only a night whose ``announced`` is still 0 is announced after a restart, so a second
announcement needs a kill in the instant between Telegram's reply and the next commit, and
no announcement is ever lost.

Every public method is one short transaction; the store is safe to share between the
event loop and worker threads (one connection, guarded by a lock).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .memberstore import MemberQueries
from .schema import (
    MIGRATIONS,
    OPEN_STATES,
    SCHEMA,
    SCHEMA_VERSION,
    Entry,
    Night,
    Option,
    StoreError,
    Vote,
    night_from_row,
    option_ids_from_json,
)

log = logging.getLogger(__name__)

__all__ = ["OPEN_STATES", "Entry", "MovieNightStore", "Night", "Option", "StoreError", "Vote"]


class MovieNightStore(MemberQueries):
    """All movie nights of all chats, in one SQLite file (members' queries: memberstore.py)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._db = self._connect()
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
            self._db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        # autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE below.
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

    def _night(self, row: sqlite3.Row) -> Night:
        """``row`` as a Night; a malformed row is closed for good (one log line), not fatal."""
        try:
            return night_from_row(row)
        except ValueError as exc:
            log.error("movie night %s: bad row (%s); treating it as closed", row["id"], exc)
            with self._tx() as db:
                db.execute(
                    "UPDATE nights SET state = 'closed', tally = NULL, announced = 1 WHERE id = ?",
                    (row["id"],),
                )
            return night_from_row(self._read("SELECT * FROM nights WHERE id = ?", (row["id"],))[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is committed, or none of it."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, args: Sequence = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- nights ----------------------------------------------------------------------
    def open_night(
        self,
        chat_id: int,
        opener_id: int,
        opener_name: str,
        now: float | None = None,
        *,
        rewatch: bool = False,
        language: str | None = None,
    ) -> Night:
        """Start a movie night (the chat's waiting members join it); StoreError if one is open."""
        now = time.time() if now is None else now
        try:
            with self._tx() as db:
                cur = db.execute(
                    "INSERT INTO nights (chat_id, opener_id, opener_name, created_at, rewatch,"
                    " language) VALUES (?, ?, ?, ?, ?, ?)",
                    (chat_id, opener_id, opener_name, now, int(rewatch), language),
                )
                night_id = cur.lastrowid
                self._admit_waiting(db, chat_id, night_id)
        except sqlite3.IntegrityError:
            raise StoreError("this chat already has a movie night open") from None
        return self.night(night_id)

    def night(self, night_id: int) -> Night:
        rows = self._read("SELECT * FROM nights WHERE id = ?", (night_id,))
        if not rows:
            raise StoreError(f"no movie night {night_id}")
        return self._night(rows[0])

    def current(self, chat_id: int) -> Night | None:
        """The chat's open movie night, if any."""
        rows = self._read(
            "SELECT * FROM nights WHERE chat_id = ? AND state IN ('gathering','voting','closing')",
            (chat_id,),
        )
        night = self._night(rows[0]) if rows else None
        return night if night is not None and night.is_open else None

    def latest(self, chat_id: int) -> Night | None:
        """The chat's most recent movie night, open or not."""
        rows = self._read(
            "SELECT * FROM nights WHERE chat_id = ? ORDER BY id DESC LIMIT 1", (chat_id,)
        )
        return self._night(rows[0]) if rows else None

    def by_poll(self, poll_id: str) -> Night | None:
        rows = self._read("SELECT * FROM nights WHERE poll_id = ?", (poll_id,))
        return self._night(rows[0]) if rows else None

    def unfinished(self) -> list[Night]:
        """Nights a restarted bot must pick up: running polls and unsent announcements."""
        rows = self._read(
            "SELECT * FROM nights WHERE state IN ('voting', 'closing')"
            " OR (state = 'novotes' AND announced = 0) ORDER BY id"
        )
        return [n for n in map(self._night, rows) if n.state != "closed"]

    # -- seeds and exclusions --------------------------------------------------------
    def add_seed(
        self,
        night_id: int,
        movie_id: int,
        user_id: int,
        user_name: str,
        max_seeds: int,
        now: float | None = None,
    ) -> str:
        """Add a seed title. Returns "added", "duplicate", "excluded" or "full"."""
        now = time.time() if now is None else now
        with self._tx() as db:
            self._require_state(db, night_id, "gathering")
            if _listed(db, "seeds", night_id, movie_id):
                return "duplicate"
            if _listed(db, "exclusions", night_id, movie_id):
                return "excluded"
            (count,) = db.execute(
                "SELECT COUNT(*) FROM seeds WHERE night_id = ?", (night_id,)
            ).fetchone()
            if count >= max_seeds:
                return "full"
            db.execute(
                "INSERT INTO seeds VALUES (?, ?, ?, ?, ?)",
                (night_id, movie_id, user_id, user_name, now),
            )
            return "added"

    def add_exclusion(
        self,
        night_id: int,
        movie_id: int,
        kind: str,
        user_id: int,
        user_name: str,
        now: float | None = None,
    ) -> str:
        """Exclude a movie (kind "seen" or "veto"). Returns "added", "duplicate" or "seed"."""
        now = time.time() if now is None else now
        with self._tx() as db:
            self._require_state(db, night_id, "gathering")
            if _listed(db, "exclusions", night_id, movie_id):
                return "duplicate"
            if _listed(db, "seeds", night_id, movie_id):
                return "seed"
            db.execute(
                "INSERT INTO exclusions VALUES (?, ?, ?, ?, ?, ?)",
                (night_id, movie_id, kind, user_id, user_name, now),
            )
            return "added"

    # -- voting ----------------------------------------------------------------------
    def start_voting(self, night_id: int, options: Sequence[tuple]) -> Night:
        """gathering -> voting with the poll options (movie_id, score, option text[, note]).

        Raises StoreError when the night is not gathering (someone else already started it).
        """
        if not options:
            raise StoreError("a poll needs at least one option")
        with self._tx() as db:
            self._require_state(db, night_id, "gathering")
            db.executemany(
                "INSERT INTO options VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (night_id, i, *o[:3], o[3] if len(o) > 3 else None)
                    for i, o in enumerate(options)
                ],
            )
            db.execute("UPDATE nights SET state = 'voting' WHERE id = ?", (night_id,))
        return self.night(night_id)

    def set_poll(self, night_id: int, poll_id: str, message_id: int, deadline: float) -> Night:
        """Remember the poll Telegram created and when it closes."""
        with self._tx() as db:
            self._require_state(db, night_id, "voting")
            db.execute(
                "UPDATE nights SET poll_id = ?, poll_message_id = ?, deadline = ? WHERE id = ?",
                (poll_id, message_id, deadline, night_id),
            )
        return self.night(night_id)

    def record_poll_intent(self, night_id: int, anchor_message_id: int | None) -> None:
        """About to call sendPoll for the night (committed first, so a restart knows).

        ``anchor_message_id`` is the bot's last message in the chat before the poll (the
        candidates' album), so a restarted bot can find and stop a poll it sent but never
        saved instead of sending a second one.
        """
        with self._tx() as db:
            self._require_state(db, night_id, "voting")
            db.execute(
                "UPDATE nights SET poll_intent_at = ?, poll_anchor_id = ? WHERE id = ?"
                " AND poll_id IS NULL",
                (time.time(), anchor_message_id, night_id),
            )

    def clear_poll_intent(self, night_id: int) -> None:
        """No poll went out after all (a restarted bot found none): sending one is safe."""
        with self._tx() as db:
            db.execute(
                "UPDATE nights SET poll_intent_at = NULL, poll_anchor_id = NULL WHERE id = ?",
                (night_id,),
            )

    def set_deadline(self, night_id: int, deadline: float) -> None:
        with self._tx() as db:
            db.execute("UPDATE nights SET deadline = ? WHERE id = ?", (deadline, night_id))

    def options(self, night_id: int) -> list[Option]:
        rows = self._read(
            "SELECT position, movie_id, score, text, note FROM options WHERE night_id = ?"
            " ORDER BY position",
            (night_id,),
        )
        return [Option(**dict(r)) for r in rows]

    def record_vote(
        self,
        poll_id: str,
        user_id: int,
        user_name: str,
        option_ids: Sequence[int],
        update_id: int = 0,
        now: float | None = None,
    ) -> Night | None:
        """Store a user's answer (empty ``option_ids``: the vote was retracted).

        Returns the night, or None when the poll is unknown or no longer counting votes.
        Telegram sends a user's whole current choice each time, so a replayed update is
        harmless; ``update_id`` keeps an older update handled late (updates are handled
        concurrently) from overwriting a newer choice.
        """
        now = time.time() if now is None else now
        with self._tx() as db:
            row = db.execute(
                "SELECT id, state FROM nights WHERE poll_id = ?", (poll_id,)
            ).fetchone()
            if row is None or row["state"] != "voting":
                return None
            (n_options,) = db.execute(
                "SELECT COUNT(*) FROM options WHERE night_id = ?", (row["id"],)
            ).fetchone()
            chosen = sorted({int(i) for i in option_ids if 0 <= int(i) < n_options})
            db.execute(
                "INSERT INTO votes VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (night_id, user_id)"
                " DO UPDATE SET user_name = excluded.user_name, option_ids = excluded.option_ids,"
                " update_id = excluded.update_id, updated_at = excluded.updated_at"
                " WHERE excluded.update_id >= votes.update_id",
                (row["id"], user_id, user_name, json.dumps(chosen), update_id, now),
            )
            night_id = row["id"]
        return self.night(night_id)

    def votes(self, night_id: int) -> list[Vote]:
        """Current votes (retracted ones left out), by user id."""
        rows = self._read(
            "SELECT user_id, user_name, option_ids FROM votes"
            " WHERE night_id = ? AND option_ids != '[]' ORDER BY user_id",
            (night_id,),
        )
        return [
            Vote(r["user_id"], r["user_name"], option_ids_from_json(r["option_ids"])) for r in rows
        ]

    def tally(self, night_id: int) -> list[int]:
        """Votes per option (by position) from the stored answers."""
        counts = [0] * len(self.options(night_id))
        for vote in self.votes(night_id):
            for i in vote.option_ids:
                if isinstance(i, int) and 0 <= i < len(counts):  # a damaged row counts nothing
                    counts[i] += 1
        return counts

    # -- closing ---------------------------------------------------------------------
    def claim_close(
        self,
        night_id: int,
        tally: Sequence[int],
        winner: int | None,
        tie_broken: bool = False,
        now: float | None = None,
    ) -> Night | None:
        """Close the voting: record tally and winner, and the winner in the chat's history.

        All in one transaction, and only if the night is still ``voting``: whoever calls
        first wins, everyone else gets None and must not announce. With a winner the night
        becomes ``closing`` (announcement pending), without one ``novotes``.
        """
        now = time.time() if now is None else now
        with self._tx() as db:
            row = db.execute(
                "SELECT chat_id, state FROM nights WHERE id = ?", (night_id,)
            ).fetchone()
            if row is None or row["state"] != "voting":
                return None
            votes = None
            if winner is not None:
                position = db.execute(
                    "SELECT position FROM options WHERE night_id = ? AND movie_id = ?",
                    (night_id, winner),
                ).fetchone()
                votes = tally[position["position"]] if position else None
                db.execute(
                    "INSERT INTO history VALUES (?, ?, ?, ?)",
                    (row["chat_id"], winner, night_id, now),
                )
            db.execute(
                "UPDATE nights SET state = ?, tally = ?, winner = ?, winner_votes = ?,"
                " tie_broken = ?, closed_at = ? WHERE id = ?",
                (
                    "closing" if winner is not None else "novotes",
                    json.dumps(list(tally)),
                    winner,
                    votes,
                    int(tie_broken),
                    now,
                    night_id,
                ),
            )
        return self.night(night_id)

    def claim_random_pick(
        self, night_id: int, movie_id: int, now: float | None = None
    ) -> Night | None:
        """novotes -> closing with a randomly picked winner; None if already picked."""
        now = time.time() if now is None else now
        with self._tx() as db:
            row = db.execute(
                "SELECT chat_id, state FROM nights WHERE id = ?", (night_id,)
            ).fetchone()
            if row is None or row["state"] != "novotes":
                return None
            if db.execute(
                "SELECT 1 FROM nights WHERE chat_id = ? AND state IN ('gathering','voting','closing')",
                (row["chat_id"],),
            ).fetchone():
                raise StoreError("this chat has started another movie night since")
            db.execute(
                "INSERT INTO history VALUES (?, ?, ?, ?)", (row["chat_id"], movie_id, night_id, now)
            )
            db.execute(
                "UPDATE nights SET state = 'closing', winner = ?, winner_votes = 0,"
                " random_pick = 1, announced = 0 WHERE id = ?",
                (movie_id, night_id),
            )
        return self.night(night_id)

    def mark_announced(self, night_id: int, message_id: int | None, state: str = "closing") -> bool:
        """The result message of ``state`` was sent: closing -> closed, novotes stays novotes.

        False when it was already marked (or the night has moved on since).
        """
        if state not in ("closing", "novotes"):
            raise ValueError(f"only a closing or novotes night is announced, not {state!r}")
        with self._tx() as db:
            cur = db.execute(
                "UPDATE nights SET announced = 1, announce_message_id = ?,"
                " state = CASE state WHEN 'closing' THEN 'closed' ELSE state END"
                " WHERE id = ? AND state = ? AND announced = 0",
                (message_id, night_id, state),
            )
            return cur.rowcount == 1

    def cancel(self, night_id: int) -> bool:
        """Give up a night that is still gathering (no poll yet)."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE nights SET state = 'closed', closed_at = ? WHERE id = ? AND state = 'gathering'",
                (time.time(), night_id),
            )
            return cur.rowcount == 1

    def _require_state(self, db: sqlite3.Connection, night_id: int, state: str) -> None:
        row = db.execute("SELECT state FROM nights WHERE id = ?", (night_id,)).fetchone()
        if row is None:
            raise StoreError(f"no movie night {night_id}")
        if row["state"] != state:
            raise StoreError(f"the movie night is {row['state']}, not {state}")


def _listed(db: sqlite3.Connection, table: str, night_id: int, movie_id: int) -> bool:
    """Whether ``movie_id`` is already among the night's seeds or exclusions (``table``)."""
    query = f"SELECT 1 FROM {table} WHERE night_id = ? AND movie_id = ?"  # table: ours, not input
    return db.execute(query, (night_id, movie_id)).fetchone() is not None
