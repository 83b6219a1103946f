"""Who may manage things in a chat (settings, movie nights): one admin check for the bot."""

from __future__ import annotations

import logging
from collections.abc import Collection

from telegram import Bot, Chat, User
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError

from reelpick.redact import redact

log = logging.getLogger(__name__)


async def is_chat_admin(
    bot: Bot, chat: Chat, user: User | None, bot_admins: Collection[int]
) -> bool:
    """Whether ``user`` manages ``chat``: anyone in a private chat, the bot's configured admins
    (``bot.admins``), and the chat's creator and administrators (asked from Telegram; a failed
    question counts as no)."""
    if user is None:
        return False
    if chat.type == ChatType.PRIVATE or user.id in bot_admins:
        return True
    try:
        member = await bot.get_chat_member(chat.id, user.id)
    except TelegramError as exc:
        log.warning("could not check admin rights in chat %s: %s", chat.id, redact(exc))
        return False
    return member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)
