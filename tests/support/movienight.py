"""The movie-night tests' chats and people, and :class:`Bot`: the running bot with the test
server, and what a test does through them (say a command, open a vote, wait for the result)."""

from __future__ import annotations

from reelpick.bot.movienight import MovieNight
from tests.support.bot_api import BotAPIServer

GROUP, OTHER_GROUP = -100111, -100222
ALICE, BOB, CAROL, ADMIN = 1001, 1002, 1003, 1009


class Bot:
    """The running bot and the test server, with what a test needs to talk to them."""

    def __init__(self, server: BotAPIServer, application, feature: MovieNight) -> None:
        self.server = server
        self.application = application
        self.feature = feature
        self.store = feature.store

    async def say(self, chat: int, command: str, args: str = "", user: int = ALICE) -> dict:
        """A user sends ``/command args``; returns the bot's reply to that message."""
        pushed = self.server.push_command(chat, command, args, user_id=user)
        message_id = pushed["message"]["message_id"]
        return await self.server.wait_for(lambda: self.reply_to(chat, message_id), timeout=15)

    def reply_to(self, chat: int, message_id: int) -> dict | None:
        for message in self.server.sent(chat):
            if message.get("reply_to_message", {}).get("message_id") == message_id:
                return message
        return None

    async def open_vote(self, chat: int, *seeds: str, user: int = ALICE):
        """/movienight with ``seeds`` and /vote; returns (night, poll request)."""
        await self.say(chat, "movienight", "; ".join(seeds), user=user)
        polls_before = len(self.server.calls("sendPoll", chat))
        self.server.push_command(chat, "night_vote", user_id=user)
        await self.server.wait_for(
            lambda: len(self.server.calls("sendPoll", chat)) > polls_before, timeout=15
        )
        night = await self.server.wait_for(lambda: self._polled(chat), timeout=5)
        return night, self.server.calls("sendPoll", chat)[-1]

    def _polled(self, chat: int):
        night = self.store.current(chat)
        return night if night is not None and night.poll_id else None

    async def vote(self, night, user: int, options: list[int]) -> None:
        self.server.push_poll_answer(night.poll_id, user, options)

    async def votes_are(self, night, counts: list[int]) -> None:
        await self.server.wait_for(lambda: self.store.tally(night.id) == counts, timeout=10)

    def announcements(self, chat: int) -> list[dict]:
        return [
            m
            for m in self.server.sent(chat)
            if "Tonight's movie" in (m.get("caption") or m.get("text") or "")
        ]

    async def announced(self, chat: int, count: int = 1) -> dict:
        found = await self.server.wait_for(
            lambda: len(self.announcements(chat)) >= count and self.announcements(chat),
            timeout=15,
        )
        return found[-1]
