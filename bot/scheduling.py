"""Fair scheduling: who "the person" behind an update is, and a bounded line per chat and person.

Every update PTB runs holds one of its concurrent update slots until its handler returns. A
title answer waits for its chat's earlier answers (one chat's albums never interleave) and a
group's answers wait for the group's outgoing flood limit, so without a bound a busy group
(or one member) would hold every slot and nobody else would be answered. :class:`WaitingLine`
admits a few requests per chat and per person; the rest are told "busy, try again in a
moment" at once (:class:`BusyNotices`), without waiting for anything. The machine-wide budget
of answers per minute is shared fairly between chats (:class:`FairBudget`).

:func:`sender_key` names the person for limits: a user by their id, but an anonymous group
admin (Telegram's ``GroupAnonymousBot``) or a member posting as a channel by the chat they
post as (``sender_chat``), since all of them share one bot user id.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import Application

from reelpick.redact import redact

from .i18n import N_

log = logging.getLogger(__name__)

QUEUE_FULL = N_("Busy in this chat right now, try again in a moment.")
NOTICE_SECONDS = 10.0  # at most one "busy" line per chat in this long

# Chats whose line the running task has already entered: a title answer admitted by the title
# handler is not counted again by the movie answer it ends in.
_admitted: ContextVar[frozenset[int]] = ContextVar("reelpick_admitted", default=frozenset())


def sender_key(update: Update) -> int | None:
    """The id that stands for the person behind ``update``, for limits; None for a bot.

    A message sent on behalf of a chat (an anonymous admin: the group; a channel) is keyed by
    that chat's id (negative, so never a user's); a poll answer by its ``voter_chat`` the same
    way; everything else by the user's id. Other bots (``is_bot``) get None: Telegram does not
    deliver their messages, and the service accounts are keyed by their ``sender_chat``.
    """
    message = update.effective_message
    if message is not None and message.sender_chat is not None and update.callback_query is None:
        return message.sender_chat.id
    answer = update.poll_answer
    if answer is not None and answer.voter_chat is not None:
        return answer.voter_chat.id
    user = update.effective_user
    if user is None or user.is_bot:
        return None
    return user.id


class WaitingLine:
    """How many requests wait or run per chat and per person; beyond the bounds, none enter.

    ``enter(chat, person)`` is a context manager giving True when the request may go on (and
    holding its place until the block ends), False when the chat or the person already has
    as many as allowed. A bound of 0 or less admits everyone.
    """

    def __init__(self, per_chat: int, per_person: int) -> None:
        self.per_chat = per_chat
        self.per_person = per_person
        self._chats: dict[int, int] = {}
        self._people: dict[int, int] = {}

    def waiting(self, chat_id: int) -> int:
        """Requests of ``chat_id`` waiting or running now."""
        return self._chats.get(chat_id, 0)

    @contextmanager
    def enter(self, chat_id: int, person: int | None) -> Iterator[bool]:
        admitted = _admitted.get()
        if chat_id in admitted:  # this task holds a place in this chat's line already
            yield True
            return
        full_chat = 0 < self.per_chat <= self._chats.get(chat_id, 0)
        full_person = person is not None and 0 < self.per_person <= self._people.get(person, 0)
        if full_chat or full_person:
            yield False
            return
        _count(self._chats, chat_id, 1)
        if person is not None:
            _count(self._people, person, 1)
        token = _admitted.set(admitted | {chat_id})
        try:
            yield True
        finally:
            _admitted.reset(token)
            _count(self._chats, chat_id, -1)
            if person is not None:
                _count(self._people, person, -1)


class FairBudget:
    """The machine-wide budget of answers that ask the plugins, per minute, shared by chats.

    Up to half of it, first come first served. Beyond half, a chat that has had its equal
    share of the whole (the budget over the chats that asked within the minute) is refused,
    so a few busy groups cannot spend what a quiet chat needs. A budget of 0 or less is off.
    """

    def __init__(self, per_minute: int, window: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window = window
        self._spent: deque[tuple[float, int]] = deque()  # (when, chat), oldest first
        self._by_chat: Counter[int] = Counter()

    def allow(self, chat_id: int, now: float | None = None) -> bool:
        """Whether ``chat_id`` may have one more answer now (and if so, count it)."""
        if self.per_minute <= 0:
            return True
        now = time.monotonic() if now is None else now
        while self._spent and self._spent[0][0] <= now - self.window:
            _, old = self._spent.popleft()
            _count(self._by_chat, old, -1)
        spent = len(self._spent)
        if spent >= self.per_minute:
            return False
        if spent * 2 >= self.per_minute:
            share = self.per_minute / (len(self._by_chat) + (chat_id not in self._by_chat))
            if self._by_chat[chat_id] >= share:
                return False
        self._spent.append((now, chat_id))
        self._by_chat[chat_id] += 1
        return True


class BusyNotices:
    """Sends the "busy" line without holding the update: from a task of its own, at most one
    per chat every :data:`NOTICE_SECONDS` (a flood gets one line, not one per request), so a
    group's drained flood limit delays the line, never another update."""

    def __init__(self, refused: Callable[[], None] = lambda: None) -> None:
        self._last: dict[int, float] = {}
        self.refused = refused  # called for each refusal, noticed or not (the metrics)

    def post(
        self, application: Application[Any, Any, Any, Any, Any, Any], chat_id: int, text: str
    ) -> None:
        self.refused()
        if not application.running:
            return  # shutting down: a task created now would never be awaited
        now = time.monotonic()
        last = self._last.get(chat_id)
        if last is not None and now - last < NOTICE_SECONDS:
            return
        if len(self._last) > 10_000:
            self._last = {c: t for c, t in self._last.items() if now - t < NOTICE_SECONDS}
        self._last[chat_id] = now
        application.create_task(_send(application.bot, chat_id, text), name=f"busy-{chat_id}")


async def _send(bot: Bot, chat_id: int, text: str) -> None:
    try:
        await bot.send_message(chat_id, text)
    except TelegramError as exc:
        log.info("busy notice to chat %s not sent: %s", chat_id, redact(exc))


def _count(counts: MutableMapping[int, int], key: int, step: int) -> None:
    value = counts.get(key, 0) + step
    if value > 0:
        counts[key] = value
    else:
        counts.pop(key, None)
