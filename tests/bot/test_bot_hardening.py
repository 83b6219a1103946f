"""The bot against forged buttons, greedy members, hung plugins and concurrent reloads; its
command scopes, descriptions and deep links. The real Application against the test server,
with the fixtures of tests/bot/conftest.py.
"""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from reelpick import PluginInfo, hookimpl
from reelpick.app import Reelpick
from reelpick.bot.app import build_application
from reelpick.bot.breaker import PluginBreaker
from reelpick.registry import Registry
from tests.support.bot_api import running
from tests.support.bot_chats import GROUP, USER, albums, texts

pytestmark = pytest.mark.timeout(60)

FORGED = [
    "pick:" + "9" * 30,
    "pick:999999999",
    "pick:-6",
    "pick:6:extra",
    "set:k:٣",  # an Arabic-Indic three: isdigit() says yes
    "set:k:4",
    "set:k:" + "9" * 500,
    "set:p:nope",
    "set:p:",
    "set:x:3",
    "garbage",
    "",
    "mn",
    "🎬" * 20,
]


async def test_forged_button_data_is_answered_and_does_nothing(server, bot_config, reelpick_app):
    async with running(build_application(bot_config(), reelpick_app)) as application:
        server.push_command(USER, "settings")
        [view] = await server.wait_for(lambda: server.calls("sendMessage", USER))
        message_id = view.result["message_id"]
        queries = [server.push_callback(USER, message_id, data) for data in FORGED]
        await server.wait_for(lambda: not server.unanswered_callbacks(), timeout=20)
        # A real press twice: the second changes nothing and is no error.
        for _ in range(2):
            query = server.push_callback(USER, message_id, "set:k:3")
            await server.wait_for(lambda q=query: server.callback_queries[q]["answered"])
    for query in queries:
        answered = server.callback_queries[query]["answered"]
        assert answered.get("text") == "That button is out of date.", (query, answered)
    assert len(texts(server, USER)) == 1 and not albums(server, USER)  # only the view
    settings = application.bot_data["reelpick"].settings
    assert settings.get(USER, ["cosine-cf"]).k == 3
    assert len(server.calls("editMessageText", USER)) == 2  # the first press; the 2nd refused


async def test_every_button_press_is_answered_once(server, bot_config, reelpick_app):
    """A feature's button is answered by that feature alone: the catch-all for buttons no
    feature claims (a later handler group) never answers it a second time."""
    movie = int(reelpick_app.dataset.movies.index[0])
    pressed = [
        "set:k:3",  # /settings
        f"pick:{movie}",  # a title's candidate
        "photo:look:0123abcd",  # a photo result this chat never had
        f"rate:5:{movie}:{USER}",  # profiles
        f"forget:no:{USER}:{'0' * 16}",  # profiles, with a nonce never given
        "garbage",  # nobody's
    ]
    async with running(build_application(bot_config(), reelpick_app)):
        server.push_command(USER, "settings")
        [view] = await server.wait_for(lambda: server.calls("sendMessage", USER))
        message_id = view.result["message_id"]
        queries = [server.push_callback(USER, message_id, data) for data in pressed]
        await server.wait_for(lambda: not server.unanswered_callbacks(), timeout=20)
        await server.wait_for(lambda: albums(server, USER))  # the pick's answer, to its end
    answers = [r.params["callback_query_id"] for r in server.calls("answerCallbackQuery")]
    assert [answers.count(q) for q in queries] == [1] * len(pressed)


async def test_one_member_cannot_spend_the_whole_group_quota(server, bot_config, reelpick_app):
    config = bot_config("messages_per_user_minute = 2\n")
    async with running(build_application(config, reelpick_app)):
        for _ in range(4):
            server.push_command(GROUP, "help", user_id=1)
        await server.wait_for(lambda: len(texts(server, GROUP)) == 3)
        server.push_command(GROUP, "help", user_id=2)  # another member still gets an answer
        await server.wait_for(lambda: len(texts(server, GROUP)) == 4)
    replies = texts(server, GROUP)
    assert sum(r.startswith("That's a lot of requests") for r in replies) == 1
    assert sum(r.startswith("<b>Send me a movie title") for r in replies) == 3


async def test_the_bot_wide_cap_on_answers_says_busy(server, bot_config, reelpick_app):
    async with running(
        build_application(bot_config("heavy_answers_per_minute = 1\n"), reelpick_app)
    ):
        server.push_text(USER, "Heat")
        await server.wait_for(lambda: albums(server, USER))
        server.push_text(USER + 1, "Heat")
        busy = await server.wait_for(lambda: texts(server, USER + 1))
    assert busy == ["I'm answering a lot of requests right now. Please try again in a minute."]
    assert not albums(server, USER + 1)


async def test_a_second_reload_waits_its_turn(server, bot_config, reelpick_app, monkeypatch):
    async with running(build_application(bot_config("admins = [1]\n"), reelpick_app)) as app:
        shared = app.bot_data["reelpick"]
        release = asyncio.Event()
        reloads = []

        async def slow_reload() -> None:
            reloads.append(1)
            await release.wait()

        monkeypatch.setattr(shared, "reload", slow_reload)
        server.push_command(1, "reload")
        await server.wait_for(lambda: reloads)
        server.push_command(1, "reload")
        await server.wait_for(lambda: "A reload is already running." in texts(server, 1))
        release.set()
        await server.wait_for(lambda: any(t.startswith("Reloaded in") for t in texts(server, 1)))
    assert len(reloads) == 1


class Hung:
    """A plugin whose calls block until the test lets them go (a hung native call)."""

    calls = 0
    gate = threading.Event()

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(label="Hung", description="never answers", version="1")

    @hookimpl
    def reelpick_fit(self, dataset, params, store) -> None:
        pass

    @hookimpl
    def reelpick_similar(self, movie_id: int, k: int):
        Hung.calls += 1
        Hung.gate.wait(30)
        return []


async def test_a_plugin_that_keeps_timing_out_is_paused_and_others_answer(
    server, bot_config, reelpick_app, shared_cache, caplog
):
    order = ["hung", "cosine-cf"]
    extra = "plugin_timeout = 0.2\nplugin_failures_before_pause = 2\nplugin_pause_seconds = 600\n"
    config = bot_config(extra, enabled=order)
    registry = Registry(bot_config(enabled=order, cache=shared_cache))
    registry.register(Hung(), "hung")
    registry.fit(reelpick_app.dataset)
    app = Reelpick(registry.config, reelpick_app.dataset, registry)
    caplog.set_level(logging.INFO)
    Hung.calls, Hung.gate = 0, threading.Event()
    try:
        async with running(build_application(config, app)):
            for i, title in enumerate(("Heat", "Alien", "Fargo", "Jaws", "Up")):
                server.push_text(USER + i, title)
                await server.wait_for(lambda i=i: albums(server, USER + i), timeout=15)
    finally:
        Hung.gate.set()
    assert Hung.calls == 2  # paused after two timeouts: the last three never asked it
    assert any("not asking it for 600 s" in r.getMessage() for r in caplog.records)
    for i in range(5):
        assert "Hung had a problem with this movie." in texts(server, USER + i)


def test_breaker_pauses_then_tries_once_then_closes() -> None:
    breaker = PluginBreaker(failures=2, pause=10, max_running=2)
    for now in (0, 1):
        assert breaker.acquire("p", now) is None
        breaker.release("p")
        breaker.timed_out("p", now)
    assert breaker.is_paused("p") and breaker.acquire("p", 5) is not None
    assert breaker.acquire("p", 12) is None  # half-open: one trial...
    assert breaker.acquire("p", 12) is not None  # ...and only one
    breaker.release("p")
    breaker.timed_out("p", 12)  # the trial failed: paused again from now
    assert breaker.acquire("p", 20) is not None and breaker.acquire("p", 23) is None
    breaker.release("p")
    breaker.succeeded("p")
    assert not breaker.is_paused("p")
    # At most max_running calls at once, whatever the breaker says.
    assert breaker.acquire("q") is None and breaker.acquire("q") is None
    assert breaker.acquire("q") == "2 calls still running"


async def test_start_payloads_go_to_their_feature_and_others_get_the_welcome(
    server, bot_config, reelpick_app
):
    application = build_application(bot_config(), reelpick_app)
    seen = []

    async def trial(update, context, argument: str) -> None:
        seen.append(argument)
        await update.effective_message.reply_text(f"trial {argument}")

    application.bot_data["reelpick"].deep_links.register("trial", trial)
    with pytest.raises(ValueError):  # a name belongs to one feature ("rate" is the profiles')
        application.bot_data["reelpick"].deep_links.register("rate", trial)
    async with running(application):
        for i, payload in enumerate(("trial_6", "trial", "unknown_1", "bad/payload", "x" * 65)):
            server.push_command(USER + i, "start", payload)
        await server.wait_for(lambda: all(texts(server, USER + i) for i in range(5)))
    assert seen == ["6", ""]
    assert texts(server, USER) == ["trial 6"]
    for i in (2, 3, 4):
        assert texts(server, USER + i)[0].startswith("Hi! I find movies")


async def test_commands_per_scope_and_descriptions(server, bot_config, reelpick_app):
    async with running(build_application(bot_config(), reelpick_app)) as application:
        bot = application.bot
        from telegram import BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats

        private = {c.command for c in await bot.get_my_commands(BotCommandScopeAllPrivateChats())}
        groups = {c.command for c in await bot.get_my_commands(BotCommandScopeAllGroupChats())}
        default = {c.command for c in await bot.get_my_commands()}
        description = (await bot.get_my_description()).description
        short = (await bot.get_my_short_description()).short_description
    assert {"similar", "settings"} <= private and "movienight" not in private
    assert {"similar", "movienight", "night_vote", "night_close"} <= groups
    assert not {"vote", "close", "in", "status"} & groups  # only the prefixed names
    assert default == private
    assert description.startswith("Send me a movie title") and len(description) <= 512
    assert short and len(short) <= 120
