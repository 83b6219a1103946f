"""The nights themselves: opening, finding, and every change of a night's state.

A movie night moves through these states (:class:`~.schema.NightState`)::

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
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Sequence

from .database import Database
from .memberstore import admit_waiting
from .schema import Night, NightState, StoreError, night_from_row

log = logging.getLogger(__name__)

OptionRow = tuple[int, float, str] | tuple[int, float, str, str | None]


class NightRecords:
    """The ``nights`` table (and the options and history rows a state change writes)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def from_row(self, row: sqlite3.Row) -> Night:
        """``row`` as a Night; a malformed row is closed for good (one log line), not fatal."""
        try:
            return night_from_row(row)
        except ValueError as exc:
            log.error("movie night %s: bad row (%s); treating it as closed", row["id"], exc)
            with self.database.tx() as db:
                db.execute(
                    "UPDATE nights SET state = 'closed', tally = NULL, announced = 1 WHERE id = ?",
                    (row["id"],),
                )
            rows = self.database.read("SELECT * FROM nights WHERE id = ?", (row["id"],))
            return night_from_row(rows[0])

    # -- opening and finding -----------------------------------------------------------
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
            with self.database.tx() as db:
                cur = db.execute(
                    "INSERT INTO nights (chat_id, opener_id, opener_name, created_at, rewatch,"
                    " language) VALUES (?, ?, ?, ?, ?, ?)",
                    (chat_id, opener_id, opener_name, now, int(rewatch), language),
                )
                night_id = int(cur.lastrowid or 0)
                admit_waiting(db, chat_id, night_id)
        except sqlite3.IntegrityError:
            raise StoreError("this chat already has a movie night open") from None
        return self.night(night_id)

    def night(self, night_id: int) -> Night:
        rows = self.database.read("SELECT * FROM nights WHERE id = ?", (night_id,))
        if not rows:
            raise StoreError(f"no movie night {night_id}")
        return self.from_row(rows[0])

    def current(self, chat_id: int) -> Night | None:
        """The chat's open movie night, if any."""
        rows = self.database.read(
            "SELECT * FROM nights WHERE chat_id = ? AND state IN ('gathering','voting','closing')",
            (chat_id,),
        )
        night = self.from_row(rows[0]) if rows else None
        return night if night is not None and night.is_open else None

    def count_open(self) -> int:
        """Open nights (gathering, voting or closing) in every chat: for the metrics."""
        rows = self.database.read(
            "SELECT COUNT(*) FROM nights WHERE state IN ('gathering','voting','closing')"
        )
        return int(rows[0][0])

    def latest(self, chat_id: int) -> Night | None:
        """The chat's most recent movie night, open or not."""
        rows = self.database.read(
            "SELECT * FROM nights WHERE chat_id = ? ORDER BY id DESC LIMIT 1", (chat_id,)
        )
        return self.from_row(rows[0]) if rows else None

    def by_poll(self, poll_id: str) -> Night | None:
        rows = self.database.read("SELECT * FROM nights WHERE poll_id = ?", (poll_id,))
        return self.from_row(rows[0]) if rows else None

    def unfinished(self) -> list[Night]:
        """Nights a restarted bot must pick up: running polls and unsent announcements."""
        rows = self.database.read(
            "SELECT * FROM nights WHERE state IN ('voting', 'closing')"
            " OR (state = 'novotes' AND announced = 0) ORDER BY id"
        )
        return [n for n in map(self.from_row, rows) if n.state != NightState.CLOSED]

    # -- voting ----------------------------------------------------------------------
    def start_voting(self, night_id: int, options: Sequence[OptionRow]) -> Night:
        """gathering -> voting with the poll options (movie_id, score, option text[, note]).

        Raises StoreError when the night is not gathering (someone else already started it).
        """
        if not options:
            raise StoreError("a poll needs at least one option")
        with self.database.tx() as db:
            require_state(db, night_id, NightState.GATHERING)
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
        with self.database.tx() as db:
            require_state(db, night_id, NightState.VOTING)
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
        with self.database.tx() as db:
            require_state(db, night_id, NightState.VOTING)
            db.execute(
                "UPDATE nights SET poll_intent_at = ?, poll_anchor_id = ? WHERE id = ?"
                " AND poll_id IS NULL",
                (time.time(), anchor_message_id, night_id),
            )

    def clear_poll_intent(self, night_id: int) -> None:
        """No poll went out after all (a restarted bot found none): sending one is safe."""
        with self.database.tx() as db:
            db.execute(
                "UPDATE nights SET poll_intent_at = NULL, poll_anchor_id = NULL WHERE id = ?",
                (night_id,),
            )

    def set_deadline(self, night_id: int, deadline: float) -> None:
        with self.database.tx() as db:
            db.execute("UPDATE nights SET deadline = ? WHERE id = ?", (deadline, night_id))

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
        with self.database.tx() as db:
            row = db.execute(
                "SELECT chat_id, state FROM nights WHERE id = ?", (night_id,)
            ).fetchone()
            if row is None or row["state"] != NightState.VOTING:
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
                    NightState.CLOSING if winner is not None else NightState.NOVOTES,
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
        with self.database.tx() as db:
            row = db.execute(
                "SELECT chat_id, state FROM nights WHERE id = ?", (night_id,)
            ).fetchone()
            if row is None or row["state"] != NightState.NOVOTES:
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

    def mark_announced(
        self, night_id: int, message_id: int | None, state: NightState = NightState.CLOSING
    ) -> bool:
        """The result message of ``state`` was sent: closing -> closed, novotes stays novotes.

        False when it was already marked (or the night has moved on since).
        """
        if state not in (NightState.CLOSING, NightState.NOVOTES):
            raise ValueError(f"only a closing or novotes night is announced, not {str(state)!r}")
        with self.database.tx() as db:
            cur = db.execute(
                "UPDATE nights SET announced = 1, announce_message_id = ?,"
                " state = CASE state WHEN 'closing' THEN 'closed' ELSE state END"
                " WHERE id = ? AND state = ? AND announced = 0",
                (message_id, night_id, state),
            )
            return cur.rowcount == 1

    def cancel(self, night_id: int) -> bool:
        """Give up a night that is still gathering (no poll yet)."""
        with self.database.tx() as db:
            cur = db.execute(
                "UPDATE nights SET state = 'closed', closed_at = ? WHERE id = ? AND state = 'gathering'",
                (time.time(), night_id),
            )
            return cur.rowcount == 1


def require_state(db: sqlite3.Connection, night_id: int, state: NightState) -> None:
    """Inside a transaction: StoreError unless night ``night_id`` is in ``state``."""
    row = db.execute("SELECT state FROM nights WHERE id = ?", (night_id,)).fetchone()
    if row is None:
        raise StoreError(f"no movie night {night_id}")
    if row["state"] != state:
        raise StoreError(f"the movie night is {row['state']}, not {state}")
