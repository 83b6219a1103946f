"""Claiming an update: a handler that answered it stops every later handler group.

PTB runs the first matching handler of every group, lowest group first, until one raises
``ApplicationHandlerStop``. A feature wraps each of its buttons (and whatever else it fully
answers) in :func:`stop_after`, so the catch-all for buttons nobody claimed
(``HandlerGroup.FALLBACK``) only ever sees presses no feature took, whatever the order of
registration. A handler that fails instead goes to the bot's error handler, which stops the
update the same way after its one polite line.
"""

from __future__ import annotations

import contextlib
import logging

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from .context import BotContext, Handler
from .i18n import translator_for

log = logging.getLogger(__name__)


def stop_after(callback: Handler) -> Handler:
    """Run ``callback``, then keep later handler groups from seeing the same update."""

    async def handle(update: Update, context: BotContext) -> None:
        await callback(update, context)
        raise ApplicationHandlerStop

    handle.__name__ = getattr(callback, "__name__", "handler")
    handle.__doc__ = callback.__doc__
    handle.__wrapped__ = callback  # type: ignore[attr-defined]  # metrics name the handler by it
    return handle


def stop_after_politely(
    callback: Handler, *, feature: str, apology: str, button_apology: str | None = None
) -> Handler:
    """:func:`stop_after` for a feature's handler whose failure the person should hear of.

    A failure is logged with its traceback and answered with one line in the sender's
    language: ``apology`` (a message id) in the chat, ``button_apology`` to a button press
    (nothing when None); either way the update stops here, so no later group answers it.
    """

    async def handle(update: Update, context: BotContext) -> None:
        try:
            await callback(update, context)
        except ApplicationHandlerStop:
            raise
        except Exception:
            log.exception("%s handler %s failed", feature, getattr(callback, "__name__", "?"))
            _ = translator_for(update)
            with contextlib.suppress(TelegramError):
                if update.callback_query is not None:
                    if button_apology is not None:
                        await update.callback_query.answer(_(button_apology))
                elif update.effective_chat is not None:
                    await context.bot.send_message(update.effective_chat.id, _(apology))

    handle.__name__ = getattr(callback, "__name__", "handler")
    handle.__doc__ = callback.__doc__
    handle.__wrapped__ = callback  # type: ignore[attr-defined]  # metrics name the handler by it
    return stop_after(handle)
