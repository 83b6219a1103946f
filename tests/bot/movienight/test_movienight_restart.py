"""Restart safety: ``reelpick bot`` as a real process, killed with SIGKILL during a movie night.

The Bot API test server lives in this (the test) process, so, like Telegram, it keeps the
updates that arrive while the bot is down and delivers them after the restart.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from reelpick.bot.movienight.store import MovieNightStore
from tests.support.bot_api import BotAPIServer
from tests.support.bot_process import NightBot, open_poll

GROUP = -100777
ALICE = 1001
VOTERS = range(2001, 2031)  # 30 group members vote


def choice_of(user: int) -> list[int]:
    return [user % 3]  # spread over the first three options


@pytest.fixture(autouse=True)
def _supergroup(server: BotAPIServer) -> None:
    """GROUP is a supergroup on the server (the conftest's ``server``)."""
    server.chat(GROUP, "supergroup")


def announcements(server: BotAPIServer) -> list:
    return [
        r
        for r in server.calls("sendPhoto", GROUP) + server.calls("sendMessage", GROUP)
        if r.ok and "Tonight's movie" in (r.params.get("caption") or r.params.get("text") or "")
    ]


def final_counts(server: BotAPIServer, poll_id: str) -> list[int]:
    return [o["voter_count"] for o in server.polls[poll_id]["poll"]["options"]]


@pytest.mark.slow
def test_sigkill_mid_poll_then_a_deadline_passing_while_down(
    server: BotAPIServer, tmp_path: Path
) -> None:
    """Two movie nights in one group, three bot processes, two SIGKILLs.

    1. Night 1: the bot is killed while votes stream in (some arrive while it is down, with
       a changed vote and a retraction); restarted, it counts them all; /close announces once.
    2. Night 2 (a 3 s deadline): killed after the first vote; two more votes and the deadline
       pass while it is down; restarted, it closes at once with all three votes counted, and
       night 1 is not announced again.
    """
    bot = NightBot(server, tmp_path, voting_minutes=30, cache=tmp_path / "cache")
    try:
        bot.start()
        poll_id = open_poll(server, GROUP, ALICE)
        store = MovieNightStore(tmp_path / "nights.db")
        night = store.current(GROUP)

        # Votes keep arriving while the bot is killed and while it is down.
        expected: dict[int, list[int]] = {}
        pushed = threading.Event()

        def voters() -> None:
            for i, user in enumerate(VOTERS):
                expected[user] = choice_of(user)
                server.push_poll_answer(poll_id, user, choice_of(user))
                if i == 9:
                    pushed.set()
                time.sleep(0.01)
            # While down: a changed vote and a retraction.
            server.push_poll_answer(poll_id, VOTERS[0], [2])
            expected[VOTERS[0]] = [2]
            server.push_poll_answer(poll_id, VOTERS[1], [])
            expected[VOTERS[1]] = []

        thread = threading.Thread(target=voters)
        thread.start()
        pushed.wait(10)
        bot.kill()
        thread.join()
        assert sum(store.tally(night.id)) < len(VOTERS)  # killed mid-stream: votes pending

        bot.write_config(voting_minutes=0.05)  # for night 2; night 1 keeps its stored deadline
        bot.start()
        counts = Counter(i for choice in expected.values() for i in choice)
        want = [counts.get(i, 0) for i in range(len(store.options(night.id)))]
        assert final_counts(server, poll_id) == want  # the server agrees with the script
        server.wait_for_sync(lambda: store.tally(night.id) == want, timeout=30)

        server.push_command(GROUP, "night_close", user_id=ALICE)
        server.wait_for_sync(lambda: store.night(night.id).announced, timeout=30)
        [announcement] = announcements(server)
        assert f"with {max(want)} votes" in announcement.params["caption"]
        assert store.night(night.id).tally == tuple(want)

        # Night 2: the deadline passes while the bot is down.
        poll_2 = open_poll(server, GROUP, ALICE)
        night_2 = store.current(GROUP)
        assert night_2.id != night.id
        server.push_poll_answer(poll_2, 3001, [1])
        server.wait_for_sync(lambda: sum(store.tally(night_2.id)) == 1, timeout=10)
        bot.kill()
        server.push_poll_answer(poll_2, 3002, [1])
        server.push_poll_answer(poll_2, 3003, [0])
        deadline = store.night(night_2.id).deadline
        server.wait_for_sync(lambda: time.time() > deadline, timeout=30)  # passes while down
        assert len(announcements(server)) == 1

        bot.start()
        server.wait_for_sync(lambda: store.night(night_2.id).announced, timeout=30)
        assert len(announcements(server)) == 2
        assert "with 2 votes" in announcements(server)[1].params["caption"]
        assert store.night(night_2.id).tally[:2] == (1, 2)
        winners = [store.options(night.id)[want.index(max(want))].movie_id]
        winners.append(store.options(night_2.id)[1].movie_id)
        assert store.watched(GROUP) == winners
        bot.terminate()  # once it has exited nothing more can come: each night announced once
        assert len(announcements(server)) == 2
        assert len(server.calls("stopPoll", GROUP)) == 2
        store.close()
    finally:
        bot.stop()
