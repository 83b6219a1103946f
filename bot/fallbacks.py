"""What no feature answers: out-of-date buttons, unknown commands, other messages, errors.

These handlers sit in the last handler groups (``HandlerGroup.FALLBACK`` and ``UNKNOWN``), so
they see only what every feature let through: a feature stops the updates it answers
(:func:`~reelpick.bot.stopping.stop_after`). An error anywhere is logged with its traceback,
the person gets one polite line, and the update goes no further.
"""

from __future__ import annotations

import contextlib
import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from .context import BotApplication, BotContext
from .handler_groups import HandlerGroup
from .i18n import translator_for
from .replies import STALE
from .resolve import examples
from .services import BotServices

log = logging.getLogger(__name__)


def register(application: BotApplication, services: BotServices) -> None:
    """Answer what no feature claimed, and every error."""
    application.add_handler(CallbackQueryHandler(stale_button), HandlerGroup.FALLBACK)
    application.add_handler(MessageHandler(filters.COMMAND, unknown_command), HandlerGroup.UNKNOWN)
    application.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & ~filters.TEXT, other_message
        ),
        HandlerGroup.UNKNOWN,
    )
    application.add_error_handler(on_error)


async def stale_button(update: Update, context: BotContext) -> None:
    """Any callback data no feature takes (old, foreign or forged): answer, do nothing."""
    if update.callback_query is None:
        return
    with contextlib.suppress(TelegramError):
        await update.callback_query.answer(translator_for(update)(STALE))


async def unknown_command(update: Update, context: BotContext) -> None:
    """A command no handler knows (checked across every handler, every feature's included)."""
    message = update.effective_message
    if message is None or message.chat.type != ChatType.PRIVATE or not message.text:
        return
    command = message.text.split()[0][1:].split("@")[0].lower()
    known = {
        c
        for handlers in context.application.handlers.values()
        for h in handlers
        if isinstance(h, CommandHandler)
        for c in h.commands
    }
    if command in known:
        return
    _ = translator_for(update)
    await message.reply_text(_("I don't know that command. /help lists what I can do."))


async def other_message(update: Update, context: BotContext) -> None:
    """Stickers, voice, locations... in a private chat: say what works."""
    message = update.effective_message
    if message is None:
        return
    _ = translator_for(update)
    await message.reply_text(
        _("Send me a movie title as text, for example {examples}.", examples=examples(_))
    )


async def on_error(update: object, context: BotContext) -> None:
    """Log every unhandled error with its traceback; tell the person something went wrong.

    Then stop the update: after "something went wrong", no later handler group answers it
    (a failed button press would otherwise also be called out of date).
    """
    log.error("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update):
        return
    if update.callback_query is not None:
        with contextlib.suppress(TelegramError):  # the client must not spin; may be answered
            await update.callback_query.answer()
    elif update.effective_chat is not None:
        with contextlib.suppress(TelegramError):
            _ = translator_for(update)
            await context.bot.send_message(
                update.effective_chat.id, _("Sorry, something went wrong. Please try again.")
            )
    raise ApplicationHandlerStop
