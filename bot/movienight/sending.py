"""Telegram calls the movie night makes, with its rules for failures.

A reply to a command is HTML, cut to Telegram's length; a side note (a toast's link, an
ambiguous-title question) must not stop its caller when Telegram refuses it, so it goes
through :func:`quiet` or :func:`send_text`, which log the failure instead of raising.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

from telegram import Bot, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from .texts import fit

log = logging.getLogger(__name__)

T = TypeVar("T")


async def reply(message: Message, text: str) -> Message:
    """Answer ``message`` with the HTML ``text`` (cut to fit one message)."""
    return await message.reply_text(fit(text), parse_mode=ParseMode.HTML)


async def quiet(awaitable: Awaitable[T]) -> T | None:
    """Await a Telegram call whose failure must not stop the caller (logged)."""
    try:
        return await awaitable
    except (BadRequest, Forbidden) as exc:
        log.info("telegram refused: %s", exc)
    except TelegramError as exc:
        log.warning("telegram call failed: %s", exc)
    return None


async def send_text(bot: Bot, chat_id: int, text: str) -> None:
    """A note to the chat (HTML); a failure is logged, not raised."""
    try:
        await bot.send_message(chat_id, fit(text), parse_mode=ParseMode.HTML)
    except TelegramError as exc:
        log.info("movie night note to chat %s failed: %s", chat_id, exc)
