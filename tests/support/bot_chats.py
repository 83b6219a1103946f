"""The chats the bot tests talk in, and what the bot sent there as the test server saw it."""

from __future__ import annotations

from tests.support.bot_api import BotAPIServer

USER = 4242  # a private chat with this user
GROUP = -100555


def albums(server: BotAPIServer, chat_id: int) -> list:
    return [r for r in server.calls("sendMediaGroup", chat_id) if r.ok]


def texts(server: BotAPIServer, chat_id: int) -> list[str]:
    return [r.params.get("text", "") for r in server.calls("sendMessage", chat_id) if r.ok]
