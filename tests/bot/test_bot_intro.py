"""The bot introduces itself (bot/intro.py), end to end over the Bot API test server: /start
and /help name every feature in private chats and what works in groups, in English and in
German; their deep links lead where they say; the inline results button opens the welcome."""

from __future__ import annotations

import re

import pytest
from telegram import BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats

from reelpick.bot.app import build_application
from reelpick.bot.i18n import translator
from reelpick.bot.intro import GROUP_NIGHTS, TITLES
from tests.support.bot_api import BotAPIServer, running
from tests.support.bot_api.state import BOT_USERNAME
from tests.support.bot_chats import GROUP, USER

pytestmark = pytest.mark.timeout(60)

# What a newcomer must learn from the private /help: every feature, by command or by words.
PRIVATE_FEATURES = [
    "/similar TITLE",
    "/plugins",
    "/rate",
    "/forme",
    "CSV file",
    "Letterboxd, IMDb or MovieLens",
    "photo of a poster",
    "/watchlist",
    "card",
    f"@{BOT_USERNAME} Heat",
    "/movienight",
    "/settings",
    "/about",
    "/privacy",
    "/export",
    "/forget",
    "/help",
]
GROUP_FEATURES = [
    f"@{BOT_USERNAME} Heat",
    "/similar TITLE",
    "/movienight",
    "/night_suggest TITLE",
    "/night_seen TITLE",
    "/night_veto TITLE",
    "/night_in",
    "/night_out",
    "/night_status",
    "/night_vote",
    "/night_close",
    "/settings",
    "CSV file",
    "/watchlist",
]


def sent(server: BotAPIServer, chat_id: int) -> list[dict]:
    """The bot's messages in a chat, texts and photos (a photo's caption as its text)."""
    found = [r for m in ("sendMessage", "sendPhoto") for r in server.calls(m, chat_id) if r.ok]
    found.sort(key=lambda r: r.result["message_id"])
    return [
        {**r.result, "text": r.result.get("text") or r.result.get("caption", "")} for r in found
    ]


async def ask(server: BotAPIServer, chat_id: int, command: str, args: str = "", **kw) -> dict:
    """One command, and the bot's reply to it."""
    before = len(sent(server, chat_id))
    server.push_command(chat_id, command, args, **kw)
    await server.wait_for(lambda: len(sent(server, chat_id)) > before)
    return sent(server, chat_id)[before]


def links(message: dict) -> list[str]:
    """The URLs of a message's text links."""
    return [e["url"] for e in message.get("entities", []) if e["type"] == "text_link"]


async def test_private_help_names_every_feature_and_start_welcomes_with_it(
    server, bot_config, reelpick_app
):
    async with running(build_application(bot_config(), reelpick_app)) as application:
        help_message = await ask(server, USER, "help")
        welcome = (await ask(server, USER, "start"))["text"]
        german_shown = (await ask(server, USER + 1, "help", language_code="de"))["text"]
        private = await application.bot.get_my_commands(BotCommandScopeAllPrivateChats())
    shown = help_message["text"]  # as the person sees it: HTML parsed into entities
    missing = [f for f in PRIVATE_FEATURES if f not in shown]
    assert not missing, f"the private /help does not mention {missing}"
    # Every command of the private menu is explained (another feature's command included).
    unexplained = [c.command for c in private if f"/{c.command}" not in shown]
    assert not unexplained, f"commands in the menu but not in /help: {unexplained}"
    assert links(help_message) == [f"https://t.me/{BOT_USERNAME}?startgroup=help"]
    assert shown.startswith("Send me a movie title and I answer")
    assert welcome.startswith("Hi! I find movies similar to the ones you like.\n\n")
    assert welcome.endswith(shown)
    # A few lines per feature: the whole help stays one readable message.
    assert len(shown) < 2000 and max(len(p) for p in shown.split("\n\n")) < 330
    first_line = re.sub(r"<[^>]+>", "", translator("de")(TITLES).split("\n")[0])
    assert german_shown.startswith(first_line)
    assert "Schick mir eine CSV-Datei" in german_shown and "/night_" not in german_shown
    # The commands are the same words in every language.
    commands = re.compile(r"/[a-z_]+")
    assert commands.findall(german_shown) == commands.findall(shown)


async def test_group_help_says_what_works_here_and_links_to_the_private_chat(
    server, bot_config, reelpick_app
):
    server.chat(GROUP, "supergroup")
    async with running(build_application(bot_config(), reelpick_app)) as application:
        group_help = await ask(server, GROUP, "help", user_id=7)
        welcome = await ask(server, GROUP, f"start@{BOT_USERNAME}", user_id=7)
        german = await ask(server, GROUP, "help", user_id=8, language_code="de")
        in_groups = await application.bot.get_my_commands(BotCommandScopeAllGroupChats())
        # Each link of the group help, followed in a private chat: it does what it says.
        payloads = [u.split("?start=")[1] for u in links(group_help) if "?start=" in u]
        followed = {}
        for chat, payload in enumerate(payloads, start=USER):
            server.chat(chat, "private")
            followed[payload] = (await ask(server, chat, "start", payload, user_id=chat))["text"]
    text = group_help["text"]
    missing = [f for f in GROUP_FEATURES if f not in text]
    assert not missing, f"the group /help does not mention {missing}"
    night_commands = [c.command for c in in_groups if c.command.startswith("night_")]
    assert len(night_commands) == 8 and all(f"/{c}" in text for c in night_commands)
    assert "/in " not in text and "/vote" not in text.replace("/night_vote", "")
    assert welcome["text"].startswith("Hi! I find movies") and welcome["text"].endswith(text)
    assert payloads == ["rate", "forme", "help"]
    assert not any(t.startswith("Hi! I find movies") for t in followed.values())
    assert followed["forme"].startswith("I don't know your taste yet.")
    assert followed["help"].startswith("Send me a movie title")  # the private help
    assert followed["rate"] and followed["rate"] != followed["forme"]
    assert re.sub(r"<[^>]+>", "", translator("de")(GROUP_NIGHTS)) in german["text"]


async def test_inline_results_button_opens_the_welcome_and_says_when_nothing_matched(
    server, bot_config, reelpick_app
):
    async def answer(query: str, user: int = USER, **kw) -> dict:
        query_id = server.push_inline_query(user, query, **kw)
        return await server.wait_for(lambda: server.inline_queries[query_id]["answered"])

    async with running(build_application(bot_config(), reelpick_app)):
        heat = await answer("heat")
        empty = await answer("")
        spaces = await answer("   ")
        nothing = await answer("🍿🍿")
        too_long = await answer("The " + "very " * 80 + "long title")  # no title can be that
        german = await answer("🍿🍿", user=USER + 1, language_code="de")
        server.chat(USER, "private")
        welcome = await ask(server, USER, "start", heat["button"]["start_parameter"])
    found = {"text": "Personal picks: open a chat with me", "start_parameter": "inline"}
    assert heat["results"] and heat["button"] == found
    assert empty["results"] and empty["button"] == found and spaces["button"] == found
    assert nothing["results"] == [] and nothing["next_offset"] == ""
    assert nothing["button"] == {
        "text": "No movie matches “🍿🍿”. Ask me in a chat",
        "start_parameter": "inline",
    }
    assert too_long["results"] == []
    assert (
        too_long["button"]["text"]
        == "No movie matches “The very very very very…”. Ask me in a chat"
    )
    assert german["button"]["text"] == "Kein Film passt zu „🍿🍿“. Frag mich im Chat"
    assert german["is_personal"] is True
    assert welcome["text"].startswith("Hi! I find movies similar to the ones you like.")
