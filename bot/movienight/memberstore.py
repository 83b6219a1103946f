"""Who is in a night: ``/in``, the "I'm in" button and votes join; ``/out`` leaves.

``/in`` (or the "I'm in" button, or a vote) adds a person to the chat's open night; ``/in``
while a poll runs puts them on the chat's *waiting* list, which the chat's next night takes
over when it opens (:func:`admit_waiting`, inside the transaction that opens it). A person
who leaves the group stays counted but is never messaged about its nights.
"""

from __future__ import annotations

import sqlite3
import time

from .database import Database
from .schema import JoinOutcome, Member, NightState


class MemberRecords:
    """The ``members`` and ``waiting`` tables."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def join(
        self,
        chat_id: int,
        user_id: int,
        user_name: str,
        language: str | None = None,
        now: float | None = None,
    ) -> tuple[JoinOutcome, int | None]:
        """``user_id`` joins the chat's night: (joined or already, night id) while it gathers;
        (waiting, None) when no night gathers (a poll runs, or none is open)."""
        now = time.time() if now is None else now
        with self.database.tx() as db:
            night = db.execute(
                "SELECT id, state FROM nights WHERE chat_id = ? AND state IN ('gathering','voting')",
                (chat_id,),
            ).fetchone()
            if night is None or night["state"] != NightState.GATHERING:
                db.execute(
                    "INSERT INTO waiting VALUES (?, ?, ?, ?, ?) ON CONFLICT (chat_id, user_id) DO UPDATE"
                    " SET user_name = excluded.user_name, language = excluded.language",
                    (chat_id, user_id, user_name, language, now),
                )
                return JoinOutcome.WAITING, None
            added = self._add_member(db, night["id"], user_id, user_name, language, now)
            return (JoinOutcome.JOINED if added else JoinOutcome.ALREADY), night["id"]

    def join_by_vote(
        self, night_id: int, user_id: int, user_name: str, language: str | None = None
    ) -> bool:
        """A voter counts as joined (True when they were not a member yet)."""
        with self.database.tx() as db:
            return self._add_member(db, night_id, user_id, user_name, language, time.time())

    @staticmethod
    def _add_member(
        db: sqlite3.Connection,
        night_id: int,
        user_id: int,
        user_name: str,
        language: str | None,
        now: float,
    ) -> bool:
        cur = db.execute(
            "INSERT INTO members VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT (night_id, user_id) DO UPDATE"
            " SET gone = 0, user_name = excluded.user_name WHERE members.gone = 1",
            (night_id, user_id, user_name, language, now),
        )
        return cur.rowcount == 1

    def leave(self, chat_id: int, user_id: int) -> bool:
        """``/out``: leave the chat's gathering night and its waiting list. True if they were in."""
        with self.database.tx() as db:
            removed = db.execute(
                "DELETE FROM waiting WHERE chat_id = ? AND user_id = ?", (chat_id, user_id)
            ).rowcount
            removed += db.execute(
                "DELETE FROM members WHERE user_id = ? AND night_id IN (SELECT id FROM nights"
                " WHERE chat_id = ? AND state = 'gathering')",
                (user_id, chat_id),
            ).rowcount
            return removed > 0

    def left_chat(self, chat_id: int, user_id: int) -> None:
        """The person left the group: their votes stay, but they are never messaged for it."""
        with self.database.tx() as db:
            db.execute("DELETE FROM waiting WHERE chat_id = ? AND user_id = ?", (chat_id, user_id))
            db.execute(
                "UPDATE members SET gone = 1 WHERE user_id = ? AND night_id IN"
                " (SELECT id FROM nights WHERE chat_id = ?)",
                (user_id, chat_id),
            )
            db.execute(
                "UPDATE asks SET sent = 1 WHERE user_id = ? AND sent = 0 AND night_id IN"
                " (SELECT id FROM nights WHERE chat_id = ?)",
                (user_id, chat_id),
            )

    def members(self, night_id: int, *, with_gone: bool = False) -> list[Member]:
        """Who joined the night, in joining order."""
        rows = self.database.read(
            "SELECT user_id, user_name, language, gone FROM members WHERE night_id = ?"
            + ("" if with_gone else " AND gone = 0")
            + " ORDER BY joined_at, user_id",
            (night_id,),
        )
        return [Member(r["user_id"], r["user_name"], r["language"], bool(r["gone"])) for r in rows]

    def waiting(self, chat_id: int) -> list[Member]:
        rows = self.database.read(
            "SELECT user_id, user_name, language FROM waiting WHERE chat_id = ? ORDER BY joined_at",
            (chat_id,),
        )
        return [Member(r["user_id"], r["user_name"], r["language"]) for r in rows]


def admit_waiting(db: sqlite3.Connection, chat_id: int, night_id: int) -> None:
    """A new night takes over the chat's waiting list (inside the transaction that opens it)."""
    db.execute(
        "INSERT OR IGNORE INTO members SELECT ?, user_id, user_name, language, joined_at, 0"
        " FROM waiting WHERE chat_id = ?",
        (night_id, chat_id),
    )
    db.execute("DELETE FROM waiting WHERE chat_id = ?", (chat_id,))
