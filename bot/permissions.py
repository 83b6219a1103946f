"""Who may manage things in a chat (settings, movie nights): one admin check for the bot."""

from __future__ import annotations

import logging
from collections.abc import Collection

from telegram import Bot, Chat, Update, User
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


async def sender_manages_chat(bot: Bot, update: Update, bot_admins: Collection[int]) -> bool:
    """Whether whoever sent ``update`` manages its chat. A message sent on behalf of the chat
    itself comes from one of its administrators (only they can post anonymously); one sent as
    a channel comes from nobody the chat made an admin (its sender, ``Channel_Bot``, is shared
    by every channel); anyone else is asked about as :func:`is_chat_admin` says."""
    chat, message = update.effective_chat, update.effective_message
    if chat is None:
        return False
    sender_chat = message.sender_chat if message is not None else None
    if sender_chat is not None and update.callback_query is None:
        return sender_chat.id == chat.id
    return await is_chat_admin(bot, chat, update.effective_user, bot_admins)
