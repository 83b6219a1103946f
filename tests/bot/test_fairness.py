"""Fair scheduling under load: a bounded waiting line per chat and person, senders on behalf
of a chat limited as that chat, inline queries throttled per person, and inline answers
degraded by load never shared (the fake Bot API on 127.0.0.1, cosine-CF on ml-latest-small)."""

from __future__ import annotations

import asyncio

import pytest
from PIL import Image
from telegram.ext import ApplicationBuilder

from reelpick.bot.app import build_application
from reelpick.bot.inline import InlineState
from reelpick.bot.scheduling import BusyNotices, FairBudget
from reelpick.bot.services import SERVICES, BotServices
from tests.support.bot_api import BOT_USERNAME, running
from tests.support.bot_chats import GROUP, USER, albums, texts
from tests.support.photo_variants import jpeg

pytestmark = pytest.mark.timeout(90)

BUSY_IN_CHAT = "Busy in this chat right now, try again in a moment."
OVER_LIMIT = "That's a lot of requests. Please wait"
STILL_LOOKING = "I'm still looking at your last photo. One moment, please."
CHANNEL = -100_777_000  # a channel a group member posts as
HEAT = 6


def picture(colour: str) -> bytes:
    return jpeg(Image.new("RGB", (40, 60), colour))


def services_of(application) -> BotServices:
    return application.bot_data[SERVICES]


async def test_a_flooding_chat_is_told_busy_while_another_chat_is_answered(
    server, bot_config, reelpick_app
):
    config = bot_config("waiting_per_chat = 2\n")
    # Slow albums keep the first answers in the group's line while the rest arrive.
    server.inject("sendMediaGroup", "slow", times=3, delay=1.0)
    async with running(build_application(config, reelpick_app)) as application:
        for member in range(6):
            server.push_command(GROUP, "similar", "Heat", user_id=2000 + member)
        await server.wait_for(lambda: BUSY_IN_CHAT in texts(server, GROUP))
        server.push_text(USER, "Toy Story")  # another chat: not behind the group's line
        await server.wait_for(lambda: albums(server, USER), timeout=30)
        await server.wait_for(lambda: len(albums(server, GROUP)) == 2, timeout=30)
        line = services_of(application).waiting
        await server.wait_for(lambda: line.waiting(GROUP) == 0)  # every place given back
    assert len(albums(server, GROUP)) == 2  # two admitted, four refused
    assert texts(server, GROUP).count(BUSY_IN_CHAT) == 1  # one line for the whole flood


async def test_the_waiting_line_is_per_person_too(server, bot_config, reelpick_app):
    config = bot_config("waiting_per_chat = 0\nwaiting_per_person = 1\n")
    server.inject("sendMediaGroup", "slow", times=2, delay=1.0)
    async with running(build_application(config, reelpick_app)):
        for _ in range(3):
            server.push_command(GROUP, "similar", "Heat", user_id=2001)
        server.push_command(GROUP, "similar", "Alien", user_id=2002)  # someone else: answered
        await server.wait_for(lambda: BUSY_IN_CHAT in texts(server, GROUP))
        await server.wait_for(lambda: len(albums(server, GROUP)) == 2, timeout=30)
    assert len(albums(server, GROUP)) == 2


async def test_anonymous_admins_are_limited_as_their_group(server, bot_config, reelpick_app):
    config = bot_config("messages_per_user_minute = 2\n")
    async with running(build_application(config, reelpick_app)):
        for _ in range(4):  # from GroupAnonymousBot, sender_chat = the group
            server.push_command(GROUP, "help", sender_chat=GROUP)
        server.push_command(GROUP, "help", user_id=2001)  # a member: a person of their own
        await server.wait_for(
            lambda: server.pending_updates() == 0 and len(texts(server, GROUP)) >= 4
        )
    replies = texts(server, GROUP)
    assert sum(r.startswith(OVER_LIMIT) for r in replies) == 1
    assert sum(r.startswith("<b>In this group") for r in replies) == 3


async def test_channel_senders_are_limited_by_their_channel(server, bot_config, reelpick_app):
    config = bot_config("messages_per_user_minute = 2\n")
    async with running(build_application(config, reelpick_app)):
        for _ in range(3):  # from Channel_Bot, sender_chat = the channel
            server.push_command(GROUP, "help", sender_chat=CHANNEL)
        server.push_command(GROUP, "help", sender_chat=CHANNEL - 1)  # another channel
        await server.wait_for(
            lambda: server.pending_updates() == 0 and len(texts(server, GROUP)) >= 4
        )
    replies = texts(server, GROUP)
    assert sum(r.startswith(OVER_LIMIT) for r in replies) == 1
    assert sum(r.startswith("<b>In this group") for r in replies) == 3


async def test_inline_queries_are_throttled_per_person(server, bot_config, reelpick_app):
    config = bot_config("[inline]\nqueries_per_minute = 2\n")
    async with running(build_application(config, reelpick_app)):
        asked = [server.push_inline_query(USER, "heat") for _ in range(2)]
        for query_id in asked:
            await server.wait_for(lambda q=query_id: server.inline_queries[q]["answered"])
        over = server.push_inline_query(USER, "heat")
        refused = await server.wait_for(lambda: server.inline_queries[over]["answered"])
        dropped = server.push_inline_query(USER, "heat")
        other = server.push_inline_query(USER + 1, "heat")  # someone else: served
        served = await server.wait_for(lambda: server.inline_queries[other]["answered"])
    # Leaving `running` handled every fetched update: the one over the limit stays unanswered.
    assert all(server.inline_queries[q]["answered"]["results"] for q in asked)
    assert refused["results"] == [] and refused["is_personal"] and refused["cache_time"] == 0
    assert server.inline_queries[dropped]["answered"] is None
    assert served["results"]


async def test_an_inline_answer_degraded_by_load_is_personal_and_not_kept(
    server, bot_config, reelpick_app
):
    config = bot_config("plugin_failures_before_pause = 1\n")
    async with running(build_application(config, reelpick_app)) as application:
        s = services_of(application)
        s.breaker.timed_out("cosine-cf")  # paused: refused without being asked
        query_id = server.push_inline_query(USER, "heat")
        degraded = await server.wait_for(lambda: server.inline_queries[query_id]["answered"])
        assert degraded["is_personal"] and degraded["cache_time"] == 5
        assert "similar:" not in degraded["results"][0]["input_message_content"]["message_text"]
        assert not s.features.get(InlineState)._cards  # asked afresh next time
        s.breaker.succeeded("cosine-cf")
        query_id = server.push_inline_query(USER, "heat")
        full = await server.wait_for(lambda: server.inline_queries[query_id]["answered"])
    assert not full["is_personal"] and full["cache_time"] == 300
    assert "similar:" in full["results"][0]["input_message_content"]["message_text"]


def test_busy_chats_cannot_spend_a_quiet_chats_part_of_the_budget():
    budget = FairBudget(10)
    busy, quiet = -1, 7
    # Alone, a chat's share is the whole budget.
    assert [budget.allow(busy, now=float(t)) for t in range(10)] == [True] * 10
    assert not budget.allow(quiet, now=10.0)  # the whole budget is spent within the minute
    budget = FairBudget(10)
    assert [budget.allow(busy, now=0.0) for _ in range(5)] == [True] * 5
    assert budget.allow(quiet, now=1.0)  # 6 of 10 spent, two chats: a share is 5
    assert not budget.allow(busy, now=2.0)  # the busy chat had its 5
    assert [budget.allow(quiet, now=3.0) for _ in range(4)] == [True] * 4
    assert not budget.allow(quiet, now=4.0)  # all 10 spent
    assert budget.allow(busy, now=61.0)  # the minute is over for the first answers


async def test_no_busy_notice_is_started_once_the_bot_stops() -> None:
    refused: list[int] = []
    notices = BusyNotices(lambda: refused.append(1))
    stopped = ApplicationBuilder().token("123:abc").updater(None).build()
    tasks_before = len(asyncio.all_tasks())
    notices.post(stopped, 7, "busy")
    assert refused == [1]  # counted in the metrics all the same
    assert len(asyncio.all_tasks()) == tasks_before  # no task left that nobody awaits


async def test_one_photo_per_person_and_a_bound_on_photos_waiting(server, bot_config, reelpick_app):
    config = bot_config("[photo]\nwaiting = 1\n")
    server.inject("getFile", "slow", delay=5.0)  # the first photo stays in the line a while
    async with running(build_application(config, reelpick_app)):
        server.push_photo(USER, picture("red"))
        await server.wait_for(lambda: server.calls("sendChatAction", USER))  # looking at it
        # The same person in a group, while their first photo is being looked at.
        server.push_photo(GROUP, picture("blue"), user_id=USER, caption=f"@{BOT_USERNAME} this?")
        await server.wait_for(lambda: texts(server, GROUP))
        server.push_photo(USER + 1, picture("green"))  # the one worker's line is full
        await server.wait_for(lambda: texts(server, USER + 1))
        await server.wait_for(lambda: texts(server, USER))
    assert texts(server, GROUP) == [STILL_LOOKING]
    assert texts(server, USER + 1) == [BUSY_IN_CHAT]
    assert len(server.calls("getFile")) == 1
