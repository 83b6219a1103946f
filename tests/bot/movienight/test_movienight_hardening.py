"""Movie nights against forged buttons, races between /vote and /close, a poll sent but never
saved, and damaged store files. The real bot against the Bot API test server, as in
tests/bot/movienight/test_movienight.py (fixtures: tests/bot/movienight/conftest.py).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from reelpick.bot.movienight.store import MovieNightStore, StoreError
from tests.support.movienight import ALICE, BOB, GROUP, OTHER_GROUP, Bot

TOY_STORY = 1


async def _no_votes_night(bot: Bot) -> tuple[object, dict]:
    """A night in GROUP that closed without votes; returns it and the "Nobody voted" message."""
    night, _ = await bot.open_vote(GROUP, "Jumanji", user=ALICE)
    bot.server.push_command(GROUP, "night_close", user_id=ALICE)
    message = await bot.server.wait_for(
        lambda: next(
            (m for m in bot.server.sent(GROUP) if "Nobody voted" in m.get("text", "")), None
        ),
        timeout=15,
    )
    return night, message


async def _press(bot: Bot, chat: int, message: dict, data: str, user: int = BOB) -> dict:
    """Press a (possibly forged) button under ``message``; returns how the bot answered."""
    query = bot.server.push_callback(chat, message["message_id"], data, user_id=user)
    return await bot.server.wait_for(
        lambda: (
            bot.server.callback_queries[query]["answered"] is not None
            and bot.server.callback_queries[query]["answered"]
        ),
        timeout=10,
    ) or {"answered": True}


async def test_a_random_pick_forged_in_another_chat_changes_nothing(bot: Bot) -> None:
    night, _ = await _no_votes_night(bot)
    sent_before = len(bot.server.sent(GROUP))
    elsewhere = await bot.say(OTHER_GROUP, "night_status", user=BOB)  # any bot message over there
    answer = await _press(bot, OTHER_GROUP, elsewhere, f"mn:r:{night.id}")
    assert answer["text"] == "That button is out of date."
    assert bot.store.night(night.id).state == "novotes"
    assert bot.store.watched(GROUP) == [] and bot.store.watched(OTHER_GROUP) == []
    assert len(bot.server.sent(GROUP)) == sent_before
    assert not bot.announcements(GROUP) and not bot.announcements(OTHER_GROUP)


async def test_forged_add_buttons_are_refused_and_answered(bot: Bot) -> None:
    await bot.say(GROUP, "movienight", user=ALICE)
    other = await bot.say(OTHER_GROUP, "movienight", user=BOB)
    night = bot.store.current(GROUP)
    other_night = bot.store.current(OTHER_GROUP)
    status = await bot.say(GROUP, "night_status", user=ALICE)
    forged = [
        f"mn:a:x:{night.id}:{TOY_STORY}",  # unknown kind code
        f"mn:a:s:{night.id}:{10**30}",  # movie id past int64
        f"mn:a:s:{10**30}:{TOY_STORY}",  # night id past int64
        f"mn:a:s:{night.id}:999999999",  # no such movie
        f"mn:a:s:{night.id}:-1",
        f"mn:a:s:{other_night.id}:{TOY_STORY}",  # the other group's night, from this group
        f"mn:a:s:{night.id}:{TOY_STORY}:extra",
        "mn:",
        "mn:a",
        "mn:r:",
        "mn:r:abc",
        "mn:zz:1",
        "mn:a:s:1:1\n",
    ]
    for data in forged:
        answer = await _press(bot, GROUP, status, data)
        assert answer.get("text") in (
            "That button is out of date.",
            "That movie night's list is closed.",
        ), data
    assert bot.store.seeds(night.id) == [] and bot.store.exclusions(night.id) == []
    assert bot.store.seeds(other_night.id) == []
    # The other group's own button data, pressed there, still works.
    answer = await _press(bot, OTHER_GROUP, other, f"mn:a:s:{other_night.id}:{TOY_STORY}")
    assert "Added" in answer["text"]
    assert [s.movie_id for s in bot.store.seeds(other_night.id)] == [TOY_STORY]
    assert bot.server.unanswered_callbacks() == []


async def test_close_while_vote_uploads_the_album_waits_for_the_poll(bot: Bot) -> None:
    server = bot.server
    await bot.say(GROUP, "movienight", "Toy Story; Jumanji", user=ALICE)
    server.inject("sendMediaGroup", "slow", delay=1.5)
    server.push_command(GROUP, "night_vote", user_id=ALICE)
    # /close arrives while the album is still uploading (its request is in flight).
    await server.wait_for(
        lambda: any(r.method == "sendMediaGroup" and r.status == 0 for r in server.requests),
        timeout=15,
    )
    server.push_command(GROUP, "night_close", user_id=ALICE)
    night = await server.wait_for(
        lambda: (n := bot.store.latest(GROUP)) is not None and n.state == "novotes" and n,
        timeout=20,
    )
    [poll] = server.calls("sendPoll", GROUP)
    assert night.poll_message_id == poll.result["message_id"]
    assert [r.ok for r in server.calls("stopPoll", GROUP)] == [True]
    assert server.polls[poll.result["poll"]["id"]]["poll"]["is_closed"]


async def test_a_poll_that_cannot_be_saved_is_stopped(bot: Bot, monkeypatch) -> None:
    night = bot.store.open_night(GROUP, ALICE, "Alice")
    bot.store.add_seed(night.id, TOY_STORY, ALICE, "Alice", max_seeds=20)
    night = bot.store.start_voting(night.id, [(2, 1.0, "1. A"), (3, 0.5, "2. B")])

    def ended_meanwhile(*args, **kwargs):
        raise StoreError("the movie night is novotes, not voting")

    monkeypatch.setattr(bot.store, "set_poll", ended_meanwhile)
    await bot.feature.lifecycle.send_ballot(bot.application.bot, night)
    [poll] = bot.server.calls("sendPoll", GROUP)
    assert bot.server.polls[poll.result["poll"]["id"]]["poll"]["is_closed"]


class Killed(BaseException):
    """Stands for SIGKILL between Telegram's answer to sendPoll and saving the poll."""


async def test_a_poll_sent_but_not_saved_is_found_after_a_restart_not_sent_again(
    bot: Bot, monkeypatch, caplog
) -> None:
    server, store = bot.server, bot.store
    night = store.open_night(GROUP, ALICE, "Alice")
    store.add_seed(night.id, TOY_STORY, ALICE, "Alice", max_seeds=20)
    night = store.start_voting(night.id, [(2, 1.0, "1. Jumanji"), (3, 0.5, "2. Grumpier")])

    def killed(*args, **kwargs):
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(store, "set_poll", killed)
        with pytest.raises(Killed):
            await bot.feature.lifecycle.send_ballot(bot.application.bot, night)
    [orphan] = server.calls("sendPoll", GROUP)
    orphan_id = orphan.result["poll"]["id"]
    assert store.night(night.id).poll_id is None and store.night(night.id).poll_intent_at
    server.push_text(GROUP, "meanwhile, a member talks", user_id=BOB)  # between anchor and poll
    server.push_poll_answer(orphan_id, BOB, [1])  # votes on the orphan while the bot is "down"

    caplog.set_level(logging.WARNING)
    await bot.feature.lifecycle.recover(bot.application.bot)
    caption = (await bot.announced(GROUP))["caption"]
    assert "with 1 vote" in caption
    assert len(server.calls("sendPoll", GROUP)) == 1  # no second poll
    assert server.polls[orphan_id]["poll"]["is_closed"]
    done = store.night(night.id)
    assert (done.state, done.winner, done.poll_id) == ("closed", 3, orphan_id)
    assert any("found the poll sent before the restart" in r.getMessage() for r in caplog.records)


async def test_without_an_album_the_vote_command_anchors_the_orphan_search(
    bot: Bot, monkeypatch
) -> None:
    """The album fails (no anchor of its own), then the bot dies between sendPoll and saving
    the poll: the /vote message still tells the restarted bot where to look."""
    server, store = bot.server, bot.store
    night = store.open_night(GROUP, ALICE, "Alice")
    store.add_seed(night.id, TOY_STORY, ALICE, "Alice", max_seeds=20)
    night = store.start_voting(night.id, [(2, 1.0, "1. Jumanji"), (3, 0.5, "2. Grumpier")])
    vote = server.push_text(GROUP, "/night_vote", user_id=ALICE)["message"]["message_id"]
    server.inject("sendMediaGroup", "502", times=100)  # Telegram keeps refusing the album

    def killed(*args, **kwargs):
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(store, "set_poll", killed)
        with pytest.raises(Killed):
            await bot.feature.lifecycle.send_ballot(bot.application.bot, night, after=vote)
    assert server.calls("sendMediaGroup", GROUP)  # tried, and
    assert not [r for r in server.calls("sendMediaGroup", GROUP) if r.ok]  # refused
    assert store.night(night.id).poll_anchor_id == vote
    [orphan] = server.calls("sendPoll", GROUP)
    await bot.feature.lifecycle.recover(bot.application.bot)
    assert len(server.calls("sendPoll", GROUP)) == 1  # found and stopped, not sent again
    assert server.polls[orphan.result["poll"]["id"]]["poll"]["is_closed"]
    assert store.night(night.id).poll_id == orphan.result["poll"]["id"]


async def test_an_intent_without_a_poll_sends_the_ballot_once(bot: Bot) -> None:
    store = bot.store
    night = store.open_night(GROUP, ALICE, "Alice")
    store.add_seed(night.id, TOY_STORY, ALICE, "Alice", max_seeds=20)
    night = store.start_voting(night.id, [(2, 1.0, "1. Jumanji"), (3, 0.5, "2. Grumpier")])
    anchor = await bot.say(GROUP, "night_status", user=ALICE)
    store.record_poll_intent(night.id, anchor["message_id"])  # killed before sendPoll went out
    await bot.feature.lifecycle.recover(bot.application.bot)
    assert len(bot.server.calls("sendPoll", GROUP)) == 1
    assert store.night(night.id).poll_id is not None
    await bot.feature.lifecycle.recover(
        bot.application.bot
    )  # and a second restart sends nothing more
    assert len(bot.server.calls("sendPoll", GROUP)) == 1


# -- damaged files ----------------------------------------------------------------------------
def test_a_corrupt_store_file_is_set_aside_and_a_fresh_one_started(tmp_path: Path, caplog) -> None:
    path = tmp_path / "nights.db"
    path.write_bytes(b"this is not a database at all" * 100)
    with caplog.at_level(logging.ERROR):
        store = MovieNightStore(path)
    night = store.open_night(GROUP, ALICE, "Alice")
    assert store.current(GROUP) == night
    store.close()
    [kept] = tmp_path.glob("nights.db.corrupt-*")
    assert kept.read_bytes().startswith(b"this is not a database")
    assert len([r for r in caplog.records if "unreadable" in r.getMessage()]) == 1


def test_a_bad_tally_row_closes_that_night_only(tmp_path: Path, caplog) -> None:
    store = MovieNightStore(tmp_path / "nights.db")
    bad = store.open_night(GROUP, ALICE, "Alice")
    good = store.open_night(OTHER_GROUP, BOB, "Bob")
    store.close()
    with sqlite3.connect(tmp_path / "nights.db") as db:
        db.execute(
            "UPDATE nights SET state = 'closing', tally = '[1, \"x\"' WHERE id = ?", (bad.id,)
        )
    store = MovieNightStore(tmp_path / "nights.db")
    with caplog.at_level(logging.ERROR):
        assert [n.id for n in store.unfinished()] == []
        assert store.current(GROUP) is None
    assert store.night(bad.id).state == "closed"
    assert any("bad row" in r.getMessage() for r in caplog.records)
    assert store.current(OTHER_GROUP) == good
    assert store.open_night(GROUP, ALICE, "Alice").state == "gathering"  # the chat goes on
    store.close()


async def test_channel_senders_are_told_apart_and_anonymous_admins_manage(bot: Bot) -> None:
    """Every channel posts as the same Channel_Bot user: the night's opener is the channel,
    so another channel cannot call it off; an anonymous admin (posting as the group) can."""
    channel, other_channel = -1009000001, -1009000002

    async def send(command: str, sender_chat: int) -> str:
        pushed = bot.server.push_command(GROUP, command, sender_chat=sender_chat)
        message_id = pushed["message"]["message_id"]
        answer = await bot.server.wait_for(lambda: bot.reply_to(GROUP, message_id), timeout=15)
        return answer.get("text", "")

    await send("movienight", channel)
    assert bot.feature.store.current(GROUP) is not None
    refused = await send("night_close", other_channel)
    assert refused.startswith("Sorry, only")
    assert bot.feature.store.current(GROUP) is not None
    assert (await send("night_close", GROUP)).startswith("Movie night called off")
    assert bot.feature.store.current(GROUP) is None

    await send("movienight", channel)
    assert (await send("night_close", channel)).startswith("Movie night called off")
