"""Movie nights on disk, second half: lists read per night, who joined, the next day's questions.

A mixin of :class:`~.store.MovieNightStore` (same connection, lock and one-transaction-per-call
rule); kept apart so that each file keeps one job.

Members: ``/in`` (or the "I'm in" button, or a vote) adds a person to the chat's open night;
``/in`` while a poll runs puts them on the chat's *waiting* list, which the chat's next night
takes over when it opens. Asks: when a night with a winner is closed, each voter gets one row
(due the next day); the row is claimed before the question is sent, so a restart never asks
twice (at worst a kill in that instant loses one question).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from .schema import Ask, Entry, Member, option_ids_from_json


class MemberQueries:
    """Queries on seeds, exclusions, history, members and asks (see the module doc)."""

    # Provided by MovieNightStore.
    _tx: Any
    _read: Any

    # -- lists of a night --------------------------------------------------------------
    def seeds(self, night_id: int) -> list[Entry]:
        rows = self._read(
            "SELECT movie_id, user_id, user_name, added_at FROM seeds"
            " WHERE night_id = ? ORDER BY added_at, movie_id",
            (night_id,),
        )
        return [Entry(**dict(r)) for r in rows]

    def exclusions(self, night_id: int) -> list[Entry]:
        rows = self._read(
            "SELECT movie_id, user_id, user_name, added_at, kind FROM exclusions"
            " WHERE night_id = ? ORDER BY added_at, movie_id",
            (night_id,),
        )
        return [Entry(**dict(r)) for r in rows]

    def watched(self, chat_id: int) -> list[int]:
        """Movies this chat has watched on earlier movie nights, oldest first."""
        rows = self._read(
            "SELECT movie_id FROM history WHERE chat_id = ? ORDER BY watched_at, night_id",
            (chat_id,),
        )
        return [r["movie_id"] for r in rows]

    # -- members ---------------------------------------------------------------------
    def join(
        self,
        chat_id: int,
        user_id: int,
        user_name: str,
        language: str | None = None,
        now: float | None = None,
    ) -> tuple[str, int | None]:
        """``user_id`` joins the chat's night: ("joined" | "already", night id) while it gathers
        or votes; ("waiting", None) when no night gathers (a poll runs, or none is open)."""
        now = time.time() if now is None else now
        with self._tx() as db:
            night = db.execute(
                "SELECT id, state FROM nights WHERE chat_id = ? AND state IN ('gathering','voting')",
                (chat_id,),
            ).fetchone()
            if night is None or night["state"] != "gathering":
                db.execute(
                    "INSERT INTO waiting VALUES (?, ?, ?, ?, ?) ON CONFLICT (chat_id, user_id) DO UPDATE"
                    " SET user_name = excluded.user_name, language = excluded.language",
                    (chat_id, user_id, user_name, language, now),
                )
                return "waiting", None
            added = self._add_member(db, night["id"], user_id, user_name, language, now)
            return ("joined" if added else "already"), night["id"]

    def join_by_vote(
        self, night_id: int, user_id: int, user_name: str, language: str | None = None
    ) -> bool:
        """A voter counts as joined (True when they were not a member yet)."""
        with self._tx() as db:
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
        with self._tx() as db:
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
        with self._tx() as db:
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
        rows = self._read(
            "SELECT user_id, user_name, language, gone FROM members WHERE night_id = ?"
            + ("" if with_gone else " AND gone = 0")
            + " ORDER BY joined_at, user_id",
            (night_id,),
        )
        return [Member(r["user_id"], r["user_name"], r["language"], bool(r["gone"])) for r in rows]

    def waiting(self, chat_id: int) -> list[Member]:
        rows = self._read(
            "SELECT user_id, user_name, language FROM waiting WHERE chat_id = ? ORDER BY joined_at",
            (chat_id,),
        )
        return [Member(r["user_id"], r["user_name"], r["language"]) for r in rows]

    @staticmethod
    def _admit_waiting(db: sqlite3.Connection, chat_id: int, night_id: int) -> None:
        """A new night takes over the chat's waiting list (inside open_night's transaction)."""
        db.execute(
            "INSERT OR IGNORE INTO members SELECT ?, user_id, user_name, language, joined_at, 0"
            " FROM waiting WHERE chat_id = ?",
            (night_id, chat_id),
        )
        db.execute("DELETE FROM waiting WHERE chat_id = ?", (chat_id,))

    # -- after the night ---------------------------------------------------------------
    def plan_aftercare(self, night_id: int, due: float) -> list[int]:
        """Once per closed night with a winner: one ask per voter still in the group, due at
        ``due``. Returns the voters (empty when already planned or nothing to plan)."""
        with self._tx() as db:
            night = db.execute(
                "SELECT winner, aftercare FROM nights WHERE id = ? AND state = 'closed'",
                (night_id,),
            ).fetchone()
            if night is None or night["aftercare"] or night["winner"] is None:
                return []
            db.execute("UPDATE nights SET aftercare = 1 WHERE id = ?", (night_id,))
            voters = []
            for row in db.execute(
                "SELECT v.user_id, v.option_ids, m.language, m.gone FROM votes v LEFT JOIN members"
                " m ON m.night_id = v.night_id AND m.user_id = v.user_id WHERE v.night_id = ?",
                (night_id,),
            ).fetchall():
                if not option_ids_from_json(row["option_ids"]) or row["gone"]:
                    continue
                voters.append(row["user_id"])
                db.execute(
                    "INSERT OR IGNORE INTO asks VALUES (?, ?, ?, ?, ?, 0)",
                    (night_id, row["user_id"], night["winner"], row["language"], due),
                )
            return voters

    def unplanned_aftercare(self) -> list[int]:
        """Closed nights with a winner whose voters were not looked after yet (a restart)."""
        rows = self._read(
            "SELECT id FROM nights WHERE state = 'closed' AND winner IS NOT NULL AND aftercare = 0"
            " AND announced = 1 ORDER BY id"
        )
        return [r["id"] for r in rows]

    def pending_asks(self) -> list[Ask]:
        rows = self._read(
            "SELECT night_id, user_id, movie_id, language, due FROM asks WHERE sent = 0"
            " ORDER BY due, night_id, user_id"
        )
        return [Ask(**dict(r)) for r in rows]

    def claim_ask(self, night_id: int, user_id: int) -> Ask | None:
        """Mark one ask sent; the Ask when this call claimed it (None: claimed already)."""
        with self._tx() as db:
            row = db.execute(
                "SELECT night_id, user_id, movie_id, language, due FROM asks"
                " WHERE night_id = ? AND user_id = ? AND sent = 0",
                (night_id, user_id),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE asks SET sent = 1 WHERE night_id = ? AND user_id = ?", (night_id, user_id)
            )
            return Ask(**dict(row))
