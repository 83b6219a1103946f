"""The movie-night store (bot/movienight/store.py): states, votes, history, durability."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from reelpick.bot.movienight.store import MovieNightStore, StoreError

CHAT, OTHER_CHAT = -1001, -1002
ALICE, BOB, CAROL = 11, 22, 33


@pytest.fixture
def store(tmp_path: Path) -> MovieNightStore:
    s = MovieNightStore(tmp_path / "nights.sqlite3")
    yield s
    s.close()


def voting_night(store: MovieNightStore, chat: int = CHAT, poll_id: str = "p1"):
    night = store.open_night(chat, ALICE, "Alice")
    store.add_seed(night.id, 1, ALICE, "Alice", max_seeds=20)
    store.start_voting(night.id, [(101, 0.3, "A"), (102, 0.2, "B"), (103, 0.1, "C")])
    return store.set_poll(night.id, poll_id, 555, deadline=1e10)


def test_one_open_night_per_chat_and_chats_are_independent(store: MovieNightStore) -> None:
    night = store.open_night(CHAT, ALICE, "Alice", now=1.0)
    assert night.state == "gathering" and night.opener_name == "Alice" and night.is_open
    with pytest.raises(StoreError, match="already has a movie night"):
        store.open_night(CHAT, BOB, "Bob")
    other = store.open_night(OTHER_CHAT, BOB, "Bob")
    assert store.current(CHAT).id == night.id and store.current(OTHER_CHAT).id == other.id
    assert store.cancel(night.id)
    assert store.current(CHAT) is None
    assert store.open_night(CHAT, BOB, "Bob").id not in (night.id, other.id)


def test_seeds_and_exclusions_remember_who_added_what(store: MovieNightStore) -> None:
    night = store.open_night(CHAT, ALICE, "Alice")
    assert store.add_seed(night.id, 1, ALICE, "Alice", max_seeds=2, now=1) == "added"
    assert store.add_seed(night.id, 1, BOB, "Bob", max_seeds=2) == "duplicate"
    assert store.add_exclusion(night.id, 1, "veto", BOB, "Bob") == "seed"
    assert store.add_exclusion(night.id, 5, "veto", BOB, "Bob", now=2) == "added"
    assert store.add_exclusion(night.id, 5, "seen", CAROL, "Carol") == "duplicate"
    assert store.add_seed(night.id, 5, CAROL, "Carol", max_seeds=2) == "excluded"
    assert store.add_seed(night.id, 2, BOB, "Bob", max_seeds=2, now=3) == "added"
    assert store.add_seed(night.id, 3, BOB, "Bob", max_seeds=2) == "full"
    assert [(e.movie_id, e.user_name) for e in store.seeds(night.id)] == [(1, "Alice"), (2, "Bob")]
    [veto] = store.exclusions(night.id)
    assert (veto.movie_id, veto.kind, veto.user_name) == (5, "veto", "Bob")


def test_votes_change_retract_and_tally(store: MovieNightStore) -> None:
    night = voting_night(store)
    assert store.record_vote("p1", ALICE, "Alice", [0]).id == night.id
    store.record_vote("p1", BOB, "Bob", [0])
    store.record_vote("p1", CAROL, "Carol", [2])
    assert store.tally(night.id) == [2, 0, 1]
    store.record_vote("p1", BOB, "Bob", [1])  # changed
    store.record_vote("p1", CAROL, "Carol", [])  # retracted
    store.record_vote("p1", CAROL, "Carol", [])  # retracting twice is harmless
    assert store.tally(night.id) == [1, 1, 0]
    assert store.record_vote("unknown-poll", ALICE, "Alice", [0]) is None
    store.record_vote("p1", 44, "Dan", [7, -1])  # options that do not exist count as nothing
    assert store.tally(night.id) == [1, 1, 0]
    assert [v.user_id for v in store.votes(night.id)] == [ALICE, BOB]


def test_an_older_update_handled_late_never_overwrites_a_newer_one(store: MovieNightStore) -> None:
    night = voting_night(store)
    store.record_vote("p1", ALICE, "Alice", [2], update_id=10)
    store.record_vote("p1", ALICE, "Alice", [0], update_id=9)  # sent earlier, handled later
    assert store.tally(night.id) == [0, 0, 1]
    store.record_vote("p1", ALICE, "Alice", [], update_id=12)  # retracted
    store.record_vote("p1", ALICE, "Alice", [1], update_id=11)
    assert store.tally(night.id) == [0, 0, 0] and store.votes(night.id) == []
    store.record_vote("p1", ALICE, "Alice", [1], update_id=13)  # votes again
    store.record_vote("p1", ALICE, "Alice", [1], update_id=13)  # the same update, redelivered
    assert store.tally(night.id) == [0, 1, 0]


def test_close_is_claimed_once_and_records_history(store: MovieNightStore) -> None:
    night = voting_night(store)
    store.record_vote("p1", ALICE, "Alice", [1])
    results = []
    barrier = threading.Barrier(8)

    def close() -> None:
        barrier.wait()
        results.append(store.claim_close(night.id, [0, 1, 0], winner=102, now=50.0))

    threads = [threading.Thread(target=close) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [r for r in results if r is not None]
    assert len(claimed) == 1
    assert claimed[0].state == "closing" and claimed[0].winner == 102
    assert claimed[0].winner_votes == 1 and claimed[0].tally == (0, 1, 0)
    assert store.watched(CHAT) == [102]
    # Votes after the close are ignored; the announcement is marked once.
    assert store.record_vote("p1", BOB, "Bob", [0]) is None
    assert store.unfinished()[0].id == night.id
    assert store.mark_announced(night.id, 777)
    assert not store.mark_announced(night.id, 778)
    done = store.night(night.id)
    assert (done.state, done.announced, done.announce_message_id) == ("closed", True, 777)
    assert store.unfinished() == []
    assert store.current(CHAT) is None


def test_no_votes_then_random_pick(store: MovieNightStore) -> None:
    night = voting_night(store)
    closed = store.claim_close(night.id, [0, 0, 0], winner=None)
    assert closed.state == "novotes" and closed.winner is None and not closed.is_open
    assert store.watched(CHAT) == []
    assert [n.id for n in store.unfinished()] == [night.id]  # the "no votes" message is owed
    assert not store.mark_announced(night.id, 9, state="closing")
    assert store.mark_announced(night.id, 9, state="novotes")
    assert store.unfinished() == []
    picked = store.claim_random_pick(night.id, 103)
    assert picked.state == "closing" and picked.random_pick and picked.winner == 103
    assert not picked.announced and [n.id for n in store.unfinished()] == [night.id]
    assert store.claim_random_pick(night.id, 101) is None
    assert store.watched(CHAT) == [103]
    assert store.mark_announced(night.id, 10)
    assert store.night(night.id).state == "closed"


def test_state_rules(store: MovieNightStore) -> None:
    night = voting_night(store)
    with pytest.raises(StoreError, match="voting, not gathering"):
        store.add_seed(night.id, 9, ALICE, "Alice", max_seeds=20)
    with pytest.raises(StoreError, match="voting, not gathering"):
        store.start_voting(night.id, [(9, 0.1, "x")])
    with pytest.raises(StoreError, match="no movie night"):
        store.night(999)


OPTION_ROW = (
    "INSERT INTO options (night_id, position, movie_id, score, text) VALUES (?, 0, ?, 0.1, ?)"
)


def test_a_failed_transaction_leaves_nothing_behind(store: MovieNightStore) -> None:
    night = store.open_night(CHAT, ALICE, "Alice")
    # The same position twice: the second insert fails, and the first is rolled back with it.
    with pytest.raises(sqlite3.IntegrityError), store.database.tx() as db:
        db.execute(OPTION_ROW, (night.id, 1, "a"))
        db.execute(OPTION_ROW, (night.id, 2, "b"))
    assert store.options(night.id) == []


def test_state_survives_a_killed_process(tmp_path: Path) -> None:
    """A process writes votes and is killed with SIGKILL; everything committed is there."""
    path = tmp_path / "nights.sqlite3"
    script = f"""
import os, signal
from reelpick.bot.movienight.store import MovieNightStore
s = MovieNightStore({str(path)!r})
n = s.open_night(-5, 1, "A")
s.add_seed(n.id, 1, 1, "A", max_seeds=5)
s.start_voting(n.id, [(10, 1.0, "x"), (11, 0.5, "y")])
s.set_poll(n.id, "poll", 9, deadline=123.0)
for user in range(100):
    s.record_vote("poll", user, "u", [user % 2])
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", script], env=os.environ.copy(), timeout=60)
    assert proc.returncode == -9
    store = MovieNightStore(path)
    [night] = store.unfinished()
    assert (night.poll_id, night.deadline) == ("poll", 123.0)
    assert store.tally(night.id) == [50, 50]
    store.close()
