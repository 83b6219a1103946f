"""The next day's questions: one row per voter of a night with a winner.

The rows are planned in one transaction once the winner is announced (``nights.aftercare``
says it was done); a row is claimed before its question is sent, so a restart never asks
twice (at worst a kill in that instant loses one question).
"""

from __future__ import annotations

from .database import Database
from .schema import Ask, option_ids_from_json


class AskRecords:
    """The ``asks`` table."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def plan_aftercare(self, night_id: int, due: float) -> list[int]:
        """Once per closed night with a winner: one ask per voter still in the group, due at
        ``due``. Returns the voters (empty when already planned or nothing to plan)."""
        with self.database.tx() as db:
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
        rows = self.database.read(
            "SELECT id FROM nights WHERE state = 'closed' AND winner IS NOT NULL AND aftercare = 0"
            " AND announced = 1 ORDER BY id"
        )
        return [r["id"] for r in rows]

    def pending_asks(self) -> list[Ask]:
        rows = self.database.read(
            "SELECT night_id, user_id, movie_id, language, due FROM asks WHERE sent = 0"
            " ORDER BY due, night_id, user_id"
        )
        return [Ask(**dict(r)) for r in rows]

    def claim_ask(self, night_id: int, user_id: int) -> Ask | None:
        """Mark one ask sent; the Ask when this call claimed it (None: claimed already)."""
        with self.database.tx() as db:
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
