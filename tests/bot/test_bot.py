"""The Telegram bot, driven as a person would drive it, against the Bot API test server.

Each test runs the real Application (long polling inside the test's event loop) over HTTP
against tests/support/bot_api/, with cosine-CF on the real ml-latest-small and the real
poster folder (no TensorFlow).
"""

from __future__ import annotations

import logging
import re
import sys
import time

import pytest

from reelpick import NoAnswer, PluginInfo, hookimpl
from reelpick.app import Reelpick
from reelpick.bot.app import build_application
from reelpick.registry import Registry
from tests.support.bot_api import (
    BOT_USERNAME,
    album_captions,
    album_media,
    buttons,
    running,
)
from tests.support.bot_chats import GROUP, USER, albums, texts

pytestmark = pytest.mark.timeout(60)

HEAT = 6  # "Heat (1995)" in ml-latest-small


def expected_lines(app: Reelpick, movie_id: int, k: int, plugin: str = "cosine-cf") -> list[str]:
    [answer] = app.similar(movie_id, k, [plugin])
    return [app.dataset.label(n.movie_id) for n in answer.neighbours]


# -- the main flow -------------------------------------------------------------------------
async def test_title_gets_header_then_album_and_reuses_uploads(server, bot_config, reelpick_app):
    application = build_application(bot_config(), reelpick_app)
    async with running(application):
        asked = server.push_text(USER, "heat")
        await server.wait_for(lambda: albums(server, USER))

        header = server.calls("sendMessage", USER)[0]
        assert header.params["parse_mode"] == "HTML"
        assert "Heat (1995)" in header.params["text"]
        reply = header.result["reply_to_message"]
        assert reply["message_id"] == asked["message"]["message_id"]
        links = [e["url"] for e in header.result["entities"] if e["type"] == "text_link"]
        assert links == [
            "https://www.imdb.com/title/tt0113277/",
            "https://www.themoviedb.org/movie/949",
        ]

        [album] = albums(server, USER)
        captions = album_captions(album)
        assert captions[1:] == [""] * 4
        caption = album.result[0]["caption"]  # as Telegram shows it, entities parsed
        lines = caption.split("\n")
        assert lines[0] == "cosine-CF · like Heat (1995)"
        assert lines[1:] == [  # 🔖: a "watch later" link per title
            f"🔖 {i}. {t}" for i, t in enumerate(expected_lines(reelpick_app, HEAT, 5), 1)
        ]
        assert all(m.startswith("attach://") for m in album_media(album))
        assert len(album.files) == 5

        action = server.calls("sendChatAction", USER)[0]
        assert action.params["action"] == "upload_photo"
        assert action.at < album.at

        # The same movie again, from another chat: nothing is uploaded a second time (and
        # so no "sending photo..."), and TensorFlow stays out of the query path.
        uploads = server.uploads()
        modules = set(sys.modules)
        server.push_text(USER + 1, "Heat (1995)")
        await server.wait_for(lambda: albums(server, USER + 1))
        [again] = albums(server, USER + 1)
        assert server.uploads() == uploads
        assert not again.files
        assert not server.calls("sendChatAction", USER + 1)
        assert not [m for m in set(sys.modules) - modules if m.startswith(("tensorflow", "keras"))]
        first_ids = [m["photo"][-1]["file_id"] for m in album.result]
        assert album_media(again) == first_ids
        assert [m["photo"][-1]["file_unique_id"] for m in again.result] == [
            m["photo"][-1]["file_unique_id"] for m in album.result
        ]

    # setMyCommands ran at startup with the bot's commands, per scope (the English lists, set
    # without a language_code; tests/bot/test_i18n.py checks the other languages').
    default, private, groups = [
        c for c in server.calls("setMyCommands") if not c.params.get("language_code")
    ]
    names = [c["command"] for c in _json(default.params["commands"])]
    assert {"similar", "help", "plugins", "settings", "about"} <= set(names)
    assert _json(private.params["scope"]) == {"type": "all_private_chats"}
    assert _json(groups.params["scope"]) == {"type": "all_group_chats"}


async def test_file_ids_survive_a_restart(server, bot_config, reelpick_app):
    config = bot_config()
    async with running(build_application(config, reelpick_app)):
        server.push_text(USER, "Heat")
        await server.wait_for(lambda: albums(server, USER))
    uploads = server.uploads()
    assert uploads == 5
    async with running(build_application(config, reelpick_app)):
        server.push_text(USER, "Heat")
        await server.wait_for(lambda: len(albums(server, USER)) == 2)
    assert server.uploads() == uploads


async def test_stale_file_ids_are_uploaded_again(server, bot_config, reelpick_app):
    config = bot_config()
    async with running(build_application(config, reelpick_app)):
        server.push_text(USER, "Heat")
        await server.wait_for(lambda: albums(server, USER))
    server.files.clear()  # e.g. a reset self-hosted Bot API server forgot every file
    async with running(build_application(config, reelpick_app)):
        server.push_text(USER, "Heat")
        await server.wait_for(lambda: len(albums(server, USER)) == 2)
    refused = [r for r in server.calls("sendMediaGroup") if not r.ok]
    assert len(refused) == 1
    assert refused[0].error == "Bad Request: wrong file identifier/HTTP URL specified"
    assert len(albums(server, USER)[-1].files) == 5


async def test_ambiguous_title_offers_buttons_and_edits_the_question(
    server, bot_config, reelpick_app
):
    async with running(build_application(bot_config(), reelpick_app)):
        server.push_text(USER, "Hamlet")
        question = await server.wait_for(
            lambda: [r for r in server.calls("sendMessage", USER) if r.params.get("reply_markup")]
        )
        choices = buttons(question[0].params)
        labels = [label for label, _ in choices]
        assert "Hamlet (1996)" in labels and "Hamlet (1990)" in labels
        data = dict(choices)["Hamlet (1990)"]
        query_id = server.push_callback(USER, question[0].result["message_id"], data)
        await server.wait_for(lambda: albums(server, USER))

        [edit] = server.calls("editMessageText", USER)
        assert edit.result["text"] == "You picked Hamlet (1990)."
        assert "reply_markup" not in edit.result
        assert server.callback_queries[query_id]["answered"] is not None
        header = server.calls("sendMessage", USER)[-1]
        assert "Hamlet (1990)" in header.params["text"]


async def test_no_match_suggests_titles_as_buttons(server, bot_config, reelpick_app):
    async with running(build_application(bot_config(), reelpick_app)):
        server.push_text(USER, "zzzqqq")
        question = await server.wait_for(lambda: server.calls("sendMessage", USER))
        assert (
            question[0].result["text"].startswith("I found no movie called “zzzqqq”. Did you mean")
        )
        choices = buttons(question[0].params)
        assert choices and all(re.fullmatch(r"pick:\d+", data) for _, data in choices)
        server.push_callback(USER, question[0].result["message_id"], choices[0][1])
        await server.wait_for(lambda: albums(server, USER) or server.calls("sendPhoto", USER))


# -- plugins that fail ---------------------------------------------------------------------
class Broken:
    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(label="Broken", description="always raises", version="1")

    @hookimpl
    def reelpick_fit(self, dataset, params, store) -> None:
        pass

    @hookimpl
    def reelpick_similar(self, movie_id: int, k: int):
        raise RuntimeError("secret internals: index out of range")


class Slow(Broken):
    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(label="Slow", description="takes too long", version="1")

    @hookimpl
    def reelpick_similar(self, movie_id: int, k: int):
        time.sleep(2)
        return []


class Clueless(Broken):
    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(label="Clueless", description="never knows", version="1")

    @hookimpl
    def reelpick_similar(self, movie_id: int, k: int):
        raise NoAnswer("no features for this movie")


async def test_failing_plugins_become_one_line_and_others_still_answer(
    server, bot_config, reelpick_app, shared_cache, caplog
):
    order = ["broken", "cosine-cf", "slow", "clueless"]
    config = bot_config("plugin_timeout = 0.5\n", enabled=order)
    # The registry's cache is the module's, where cosine-CF's table already is.
    registry = Registry(bot_config(enabled=order, cache=shared_cache))
    for name, plugin in (("broken", Broken()), ("slow", Slow()), ("clueless", Clueless())):
        registry.register(plugin, name)
    registry.fit(reelpick_app.dataset)
    app = Reelpick(registry.config, reelpick_app.dataset, registry)
    caplog.set_level(logging.INFO)
    async with running(build_application(config, app)):
        server.push_text(USER, "Heat")
        await server.wait_for(lambda: len(server.calls("sendMessage", USER)) == 4, timeout=15)
        await server.wait_for(lambda: albums(server, USER))
    sent = [
        (r.method, r.params.get("text") or album_captions(r)[0].split("\n")[0])
        for r in server.requests
        if r.chat_id == USER and r.method in ("sendMessage", "sendMediaGroup")
    ]
    assert [m for m, _ in sent] == [
        "sendMessage",
        "sendMessage",
        "sendMediaGroup",
        "sendMessage",
        "sendMessage",
    ]
    assert sent[1][1] == "Broken had a problem with this movie."
    assert sent[2][1].startswith("<b>cosine-CF</b>")
    assert sent[3][1] == "Slow had a problem with this movie."
    assert sent[4][1] == "Clueless has no suggestions for this movie: no features for this movie."
    assert not any("secret internals" in text for _, text in sent)
    failure = [r for r in caplog.records if r.name == "reelpick.registry" and r.exc_info]
    assert failure and "secret internals" in caplog.text  # logged with its traceback
    assert any("took over 0.5 s" in r.getMessage() for r in caplog.records)


# -- faults on Telegram's side ---------------------------------------------------------------
async def test_429_5xx_and_dropped_connections_are_retried(server, bot_config, reelpick_app):
    server.inject("sendMessage", "500")
    server.inject("sendMediaGroup", "429", retry_after=1)
    server.inject("sendMediaGroup", "drop")
    async with running(build_application(bot_config(), reelpick_app)):
        server.inject("getUpdates", "drop")  # long polling loses its connection
        server.push_text(USER, "Heat")
        await server.wait_for(lambda: albums(server, USER), timeout=20)
        tried = [r.status for r in server.requests if r.method == "sendMediaGroup"]
        assert tried == [429, -1, 200]
        assert [r.status for r in server.requests if r.method == "sendMessage"] == [500, 200]
        server.push_text(USER, "Toy Story")  # polling still works afterwards
        await server.wait_for(lambda: len(albums(server, USER)) == 2, timeout=20)
    retry_gap = [r.at for r in server.requests if r.method == "sendMediaGroup"]
    assert retry_gap[1] - retry_gap[0] >= 1.0  # retry_after was respected
    # One album per query: no duplicates despite the retries.
    assert len(albums(server, USER)) == 2


async def test_slow_telegram_is_waited_for(server, bot_config, reelpick_app):
    server.inject("sendMediaGroup", "slow", delay=1.5)
    async with running(build_application(bot_config(), reelpick_app)):
        server.push_text(USER, "Heat")
        await server.wait_for(lambda: albums(server, USER), timeout=15)
    assert len(server.calls("sendMediaGroup")) == 1


# -- limits and junk --------------------------------------------------------------------------
async def test_per_chat_rate_limit_warns_once_then_stays_silent(server, bot_config, reelpick_app):
    async with running(build_application(bot_config("messages_per_minute = 3\n"), reelpick_app)):
        for _ in range(6):
            server.push_command(USER, "help")
        server.push_command(USER + 7, "help")  # another chat is not affected
        await server.wait_for(
            lambda: server.pending_updates() == 0 and len(server.calls("sendMessage")) >= 5
        )
    # Leaving `running` stops the application after every fetched update is handled.
    replies = texts(server, USER)
    assert len(replies) == 4  # updates run concurrently: the order of the replies may vary
    assert sum(r.startswith("That's a lot of requests. Please wait") for r in replies) == 1
    assert sum(r.startswith("<b>Send me a movie title") for r in replies) == 3
    assert len(texts(server, USER + 7)) == 1


async def test_flood_limit_paces_a_private_chat_after_a_burst(server, bot_config, reelpick_app):
    config = bot_config("max_messages_per_chat_second = 2.0\n")
    application = build_application(config, reelpick_app)
    async with running(application):
        for title in ("Heat", "Alien", "Fargo", "Jaws"):  # 8 messages; a burst of 3 goes at once
            server.push_text(USER, title)
        await server.wait_for(lambda: len(albums(server, USER)) == 4, timeout=20)
        # The chat's bucket: one whole answer (3) at once, refilled at 2 a second. How
        # fast that is in seconds is bench_bot's business; here, that it is the one in use.
        pacing = application.bot.rate_limiter._chat_limiters[USER]
        assert (pacing.max_rate, pacing.time_period) == (3, 1.5)
        assert application.bot.rate_limiter._chat_limiter("sendMessage", {"chat_id": -5}) is None
    sent = [r for r in server.requests if r.chat_id == USER and r.method != "sendChatAction"]
    assert len(sent) == 8 and all(r.ok for r in sent)


JUNK = [
    ("x" * 10_240, "That is too long for a movie title"),
    ("🍿🎬🍿", "I can only look up movie titles"),
    ("/similar", "Tell me which movie"),
    ("/similar 🙂🙂🙂", "I can only look up movie titles"),
    ("/similar " + "ab " * 3000, "That is too long for a movie title"),
    ("/settings banana 42", "I did not understand that"),
    ("/settings k 99", "I did not understand that"),
    ("/frobnicate now", "I don't know that command"),
    ("/start junk junk", "Hi! I find movies similar"),
    ("\u200b\u200b", "I can only look up movie titles"),  # zero-width spaces only
]


async def test_junk_input_gets_a_polite_reply(server, bot_config, reelpick_app, caplog):
    async with running(build_application(bot_config(), reelpick_app)):
        for i, (text, _) in enumerate(JUNK):
            server.push_text(USER + i, text)
        await server.wait_for(lambda: all(texts(server, USER + i) for i in range(len(JUNK))))
    for i, (text, expected) in enumerate(JUNK):
        replies = texts(server, USER + i)
        assert len(replies) == 1 and expected in replies[0], (text[:40], replies)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_stickers_and_photos_get_a_hint(server, bot_config, reelpick_app):
    async with running(build_application(bot_config(), reelpick_app)):
        chat = server.chat(USER)
        server.push_update(
            {
                "message": {
                    "message_id": chat.next_message_id,
                    "from": server.user(USER),
                    "chat": {"id": USER, "type": "private", "first_name": "U"},
                    "date": int(time.time()),
                    "sticker": {
                        "file_id": "CAACAgIAAxk",
                        "file_unique_id": "AgAD",
                        "type": "regular",
                        "width": 512,
                        "height": 512,
                        "is_animated": False,
                        "is_video": False,
                    },
                }
            }
        )
        reply = await server.wait_for(lambda: texts(server, USER))
    assert reply[0].startswith("Send me a movie title as text")


# -- settings ---------------------------------------------------------------------------------
async def test_settings_buttons_and_text_are_remembered_across_restarts(
    server, bot_config, reelpick_app
):
    config = bot_config()
    async with running(build_application(config, reelpick_app)):
        server.push_command(USER, "settings")
        view = await server.wait_for(lambda: server.calls("sendMessage", USER))
        assert "Posters per album: 5" in view[0].result["text"]
        assert ("3", "set:k:3") in buttons(view[0].params)
        server.push_callback(USER, view[0].result["message_id"], "set:k:3")
        edit = await server.wait_for(lambda: server.calls("editMessageText", USER))
        assert "Posters per album: 3" in edit[0].result["text"]
        assert ("• 3 •", "set:k:3") in buttons(edit[0].result)

    async with running(build_application(config, reelpick_app)):
        server.push_text(USER, "Heat")
        await server.wait_for(lambda: albums(server, USER))
        assert len(album_media(albums(server, USER)[0])) == 3
        server.push_command(USER, "settings", "k 1")
        await server.wait_for(
            lambda: any("Posters per album: 1." in t for t in texts(server, USER))
        )
        server.push_text(USER, "Heat")
        photo = await server.wait_for(lambda: server.calls("sendPhoto", USER))
    first = expected_lines(reelpick_app, HEAT, 1)[0]
    assert photo[0].result["caption"].endswith(f"1. {first}")


async def test_switching_off_the_last_plugin_is_refused(server, bot_config, reelpick_app):
    async with running(build_application(bot_config(), reelpick_app)):
        server.push_command(USER, "settings")
        view = await server.wait_for(lambda: server.calls("sendMessage", USER))
        query_id = server.push_callback(USER, view[0].result["message_id"], "set:p:cosine-cf")
        await server.wait_for(lambda: server.callback_queries[query_id]["answered"])
    assert "At least one" in server.callback_queries[query_id]["answered"]["text"]
    assert not server.calls("editMessageText")


# -- groups, commands, admin -------------------------------------------------------------------
async def test_groups_answer_mentions_replies_and_commands_only(server, bot_config, reelpick_app):
    async with running(build_application(bot_config(), reelpick_app)):
        server.push_text(GROUP, "Heat", user_id=1)  # chatter: ignored
        server.push_text(GROUP, f"@{BOT_USERNAME} Heat", user_id=1)
        await server.wait_for(lambda: len(albums(server, GROUP)) == 1)
        server.push_command(GROUP, f"similar@{BOT_USERNAME}", "Toy Story", user_id=2)
        await server.wait_for(lambda: len(albums(server, GROUP)) == 2)
        header = server.calls("sendMessage", GROUP)[-1]
        server.push_text(GROUP, "Alien", user_id=3, reply_to=header.result["message_id"])
        await server.wait_for(lambda: len(albums(server, GROUP)) == 3)
    headers = [t.split("\n")[0] for t in texts(server, GROUP)]
    assert headers == ["<b>Heat (1995)</b>", "<b>Toy Story (1995)</b>", "<b>Alien (1979)</b>"]


async def test_only_group_admins_change_group_settings(server, bot_config, reelpick_app):
    server.set_admins(GROUP, [10])
    async with running(build_application(bot_config(), reelpick_app)):
        server.push_command(GROUP, "settings", "k=3", user_id=11)
        await server.wait_for(lambda: texts(server, GROUP))
        server.push_command(GROUP, "settings", "k=3", user_id=10)
        await server.wait_for(lambda: len(texts(server, GROUP)) == 2)
    refused, done = texts(server, GROUP)
    assert refused == "Only the group's admins can change settings."
    assert done.startswith("Posters per album: 3.")
    assert [r.params["user_id"] for r in server.calls("getChatMember")] == ["11", "10"]


async def test_help_start_plugins_about(server, bot_config, reelpick_app):
    async with running(build_application(bot_config(), reelpick_app)):
        for command in ("start", "help", "plugins", "about"):
            server.push_command(USER, command)
        replies = await server.wait_for(
            lambda: len(texts(server, USER)) == 4 and texts(server, USER)
        )
    # Updates are handled concurrently: match the replies by their content.
    [help_text] = [r for r in replies if r.startswith("<b>Send me a movie title")]
    [plugins] = [r for r in replies if r.startswith("<b>Recommenders")]
    [about] = [r for r in replies if r.startswith("<b>About")]
    assert any(r.startswith("Hi! I find movies") for r in replies)
    assert "Heat" in help_text and "/similar" in help_text and "/settings" in help_text
    assert "cosine-CF" in plugins and "rated alike" in plugins
    assert "MovieLens" in about
    assert "This product uses the TMDB API but is not endorsed or certified by TMDB." in about


async def test_reload_is_for_admins_only(server, bot_config, reelpick_app, shared_cache):
    config = bot_config("admins = [1]\n", cache=shared_cache)  # fitted tables are in the cache
    async with running(build_application(config, reelpick_app)) as application:
        server.push_command(USER, "reload")
        refusal = await server.wait_for(lambda: texts(server, USER))
        assert refusal == ["Sorry, /reload is only for the bot's admins."]
        server.push_command(1, "reload")
        done = await server.wait_for(
            lambda: len(texts(server, 1)) == 2 and texts(server, 1), timeout=30
        )
        assert done[1].startswith("Reloaded in") and "cosine-CF ready" in done[1]
        shared = application.bot_data["reelpick"]
        assert shared.reelpick is not reelpick_app
        server.push_text(USER, "Heat")
        await server.wait_for(lambda: albums(server, USER))


# -- secrets ------------------------------------------------------------------------------------
async def test_token_never_reaches_logs_or_messages(
    server, bot_config, reelpick_app, caplog, monkeypatch
):
    caplog.set_level(logging.DEBUG)
    async with running(build_application(bot_config(), reelpick_app)):
        server.inject("sendMediaGroup", "500")
        server.inject("getUpdates", "drop")
        server.push_text(USER, "Heat")
        await server.wait_for(lambda: albums(server, USER), timeout=20)
    assert "sendMediaGroup" in caplog.text  # the retry was logged...
    assert server.token not in caplog.text  # ...without the token
    for record in caplog.records:
        assert server.token not in record.getMessage()
    for request in server.requests:
        assert server.token not in str(request.params)

    # A token Telegram rejects: PTB quotes it in InvalidToken; our log must not.
    from telegram.error import InvalidToken

    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:wrong-token-value-xyz")
    application = build_application(bot_config(), reelpick_app)
    with pytest.raises(InvalidToken) as raised:
        await application.initialize()
    assert "wrong-token-value-xyz" in str(raised.value)  # PTB does quote it...
    # ...so log it with its traceback, as the error handler would, inside an except block.
    try:
        raise raised.value
    except InvalidToken:
        logging.getLogger("test").error("failed", exc_info=True)
    [logged] = [r for r in caplog.records if r.name == "test"]
    assert logged.exc_info[0] is InvalidToken and "InvalidToken" in caplog.text
    assert "wrong-token-value-xyz" not in caplog.text
    assert server.calls("getMe")[-1].status == 401


def _json(value):
    import json

    return json.loads(value) if isinstance(value, str) else value
