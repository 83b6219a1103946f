"""The rate-limit guard: runs before every other handler, for every update with a chat.

Per-chat and per-person limits against spam (:class:`~reelpick.bot.limits.ChatLimiter`): a
request over a limit is warned about once, then ignored until the minute is over, and no
feature sees it. The person is :func:`~reelpick.bot.scheduling.sender_key`: an anonymous
admin or a member posting as a channel is limited as the chat they post as.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, TypeHandler

from reelpick.redact import redact

from .context import BotApplication, BotContext
from .handler_groups import HandlerGroup
from .i18n import translator_for
from .limits import LimitVerdict
from .scheduling import sender_key
from .services import BotServices

log = logging.getLogger(__name__)


def register(application: BotApplication, services: BotServices) -> None:
    """Check every update against the limits before any feature answers it."""
    application.add_handler(TypeHandler(Update, guard), HandlerGroup.GUARD)


async def guard(update: Update, context: BotContext) -> None:
    """Warn once, then ignore until the minute is over (a refused button press is still
    answered, silently); stops the update either way."""
    chat, person = update.effective_chat, sender_key(update)
    if chat is None or person is None:
        return
    s = context.services
    limiter, key = s.limiter, chat.id
    verdict = limiter.check(key)
    if verdict == LimitVerdict.OK:
        limiter, key = s.user_limiter, person
        verdict = limiter.check(key)
    if verdict == LimitVerdict.OK:
        return
    notice = None
    if verdict == LimitVerdict.WARN:
        wait = max(1, round(limiter.wait_seconds(key)))
        _ = translator_for(update)
        notice = _("That's a lot of requests. Please wait {seconds} s and try again.", seconds=wait)
    if update.callback_query:
        await _notify(update.callback_query.answer(notice))
    elif notice and update.effective_message and context.application.running:
        # From a task of its own: a group's drained flood limit must not hold this update.
        # Not once the bot stops: nothing would await the task.
        reply = update.effective_message.reply_text(notice)
        context.application.create_task(_notify(reply), update=update)
    log.info("chat %s / sender %s is over the limit (%s)", chat.id, person, verdict)
    raise ApplicationHandlerStop


async def _notify(sending: Awaitable[object]) -> None:
    try:
        await sending
    except TelegramError as exc:
        log.info("rate-limit notice not sent: %s", redact(exc))
