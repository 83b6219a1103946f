"""Movie nights on disk: one SQLite file (standard library), WAL journal, one transaction per change.

:class:`MovieNightStore` is the store the feature and its tests use. It is composed of one
:class:`~.database.Database` (the connection, its lock, ``tx()`` and ``read()``) and the
record classes that share it, one job each:

- :class:`~.nightstore.NightRecords`: opening, finding and every state change of a night
  (the state diagram and the exactly-once rules are described there);
- :class:`~.ballotstore.BallotRecords`: seeds, exclusions, poll options, votes, watch history;
- :class:`~.memberstore.MemberRecords`: who joined a night, and the chat's waiting list;
- :class:`~.askstore.AskRecords`: the voters' next-day questions.

The store's methods are its parts' methods, so every public method is still one short
transaction, and the store is safe to share between the event loop and worker threads.
"""

from __future__ import annotations

from pathlib import Path

from .askstore import AskRecords
from .ballotstore import BallotRecords
from .database import Database
from .memberstore import MemberRecords
from .nightstore import NightRecords
from .schema import OPEN_STATES, Entry, Night, Option, StoreError, Vote

__all__ = ["OPEN_STATES", "Entry", "MovieNightStore", "Night", "Option", "StoreError", "Vote"]


class MovieNightStore:
    """All movie nights of all chats, in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.database = Database(path)
        self.path = self.database.path
        nights = NightRecords(self.database)
        ballots = BallotRecords(self.database, nights)
        members = MemberRecords(self.database)
        asks = AskRecords(self.database)
        # nights
        self.open_night = nights.open_night
        self.night = nights.night
        self.current = nights.current
        self.count_open = nights.count_open
        self.latest = nights.latest
        self.by_poll = nights.by_poll
        self.unfinished = nights.unfinished
        self.start_voting = nights.start_voting
        self.set_poll = nights.set_poll
        self.record_poll_intent = nights.record_poll_intent
        self.clear_poll_intent = nights.clear_poll_intent
        self.set_deadline = nights.set_deadline
        self.claim_close = nights.claim_close
        self.claim_random_pick = nights.claim_random_pick
        self.mark_announced = nights.mark_announced
        self.cancel = nights.cancel
        # a night's lists, options and votes; the chat's history
        self.seeds = ballots.seeds
        self.exclusions = ballots.exclusions
        self.watched = ballots.watched
        self.add_seed = ballots.add_seed
        self.add_exclusion = ballots.add_exclusion
        self.options = ballots.options
        self.record_vote = ballots.record_vote
        self.votes = ballots.votes
        self.tally = ballots.tally
        # members
        self.join = members.join
        self.join_by_vote = members.join_by_vote
        self.leave = members.leave
        self.left_chat = members.left_chat
        self.members = members.members
        self.waiting = members.waiting
        # the next day's questions
        self.plan_aftercare = asks.plan_aftercare
        self.unplanned_aftercare = asks.unplanned_aftercare
        self.pending_asks = asks.pending_asks
        self.claim_ask = asks.claim_ask

    def close(self) -> None:
        self.database.close()
