"""What a night's lists hold: seed titles, exclusions, the poll's options and votes, and the
chat's watch history.

Seeds and exclusions are added only while the night gathers; a vote counts only while it
votes. Every method is one short transaction or read on the shared :class:`~.database.Database`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence

from .database import Database
from .nightstore import NightRecords, require_state
from .schema import (
    Entry,
    EntryKind,
    Night,
    NightState,
    Option,
    TitleOutcome,
    Vote,
    option_ids_from_json,
)


class BallotRecords:
    """Seeds, exclusions, options, votes and history of the nights in ``nights``."""

    def __init__(self, database: Database, nights: NightRecords) -> None:
        self.database = database
        self.nights = nights

    # -- lists of a night --------------------------------------------------------------
    def seeds(self, night_id: int) -> list[Entry]:
        rows = self.database.read(
            "SELECT movie_id, user_id, user_name, added_at FROM seeds"
            " WHERE night_id = ? ORDER BY added_at, movie_id",
            (night_id,),
        )
        return [Entry(**dict(r)) for r in rows]

    def exclusions(self, night_id: int) -> list[Entry]:
        rows = self.database.read(
            "SELECT movie_id, user_id, user_name, added_at, kind FROM exclusions"
            " WHERE night_id = ? ORDER BY added_at, movie_id",
            (night_id,),
        )
        return [Entry(**{**dict(r), "kind": EntryKind(r["kind"])}) for r in rows]

    def watched(self, chat_id: int) -> list[int]:
        """Movies this chat has watched on earlier movie nights, oldest first."""
        rows = self.database.read(
            "SELECT movie_id FROM history WHERE chat_id = ? ORDER BY watched_at, night_id",
            (chat_id,),
        )
        return [r["movie_id"] for r in rows]

    # -- seeds and exclusions --------------------------------------------------------
    def add_seed(
        self,
        night_id: int,
        movie_id: int,
        user_id: int,
        user_name: str,
        max_seeds: int,
        now: float | None = None,
    ) -> TitleOutcome:
        """Add a seed title: added, duplicate, excluded (by a /seen or /veto) or full."""
        now = time.time() if now is None else now
        with self.database.tx() as db:
            require_state(db, night_id, NightState.GATHERING)
            if _listed(db, "seeds", night_id, movie_id):
                return TitleOutcome.DUPLICATE
            if _listed(db, "exclusions", night_id, movie_id):
                return TitleOutcome.EXCLUDED
            (count,) = db.execute(
                "SELECT COUNT(*) FROM seeds WHERE night_id = ?", (night_id,)
            ).fetchone()
            if count >= max_seeds:
                return TitleOutcome.FULL
            db.execute(
                "INSERT INTO seeds VALUES (?, ?, ?, ?, ?)",
                (night_id, movie_id, user_id, user_name, now),
            )
            return TitleOutcome.ADDED

    def add_exclusion(
        self,
        night_id: int,
        movie_id: int,
        kind: EntryKind,
        user_id: int,
        user_name: str,
        now: float | None = None,
    ) -> TitleOutcome:
        """Exclude a movie (kind seen or veto): added, duplicate, or seed (it stays a seed)."""
        now = time.time() if now is None else now
        with self.database.tx() as db:
            require_state(db, night_id, NightState.GATHERING)
            if _listed(db, "exclusions", night_id, movie_id):
                return TitleOutcome.DUPLICATE
            if _listed(db, "seeds", night_id, movie_id):
                return TitleOutcome.SEED
            db.execute(
                "INSERT INTO exclusions VALUES (?, ?, ?, ?, ?, ?)",
                (night_id, movie_id, str(kind), user_id, user_name, now),
            )
            return TitleOutcome.ADDED

    # -- votes -----------------------------------------------------------------------
    def options(self, night_id: int) -> list[Option]:
        rows = self.database.read(
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
        with self.database.tx() as db:
            row = db.execute(
                "SELECT id, state FROM nights WHERE poll_id = ?", (poll_id,)
            ).fetchone()
            if row is None or row["state"] != NightState.VOTING:
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
        return self.nights.night(night_id)

    def votes(self, night_id: int) -> list[Vote]:
        """Current votes (retracted ones left out), by user id."""
        rows = self.database.read(
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


def _listed(db: sqlite3.Connection, table: str, night_id: int, movie_id: int) -> bool:
    """Whether ``movie_id`` is already among the night's seeds or exclusions (``table``)."""
    query = f"SELECT 1 FROM {table} WHERE night_id = ? AND movie_id = ?"  # table: ours, not input
    return db.execute(query, (night_id, movie_id)).fetchone() is not None
