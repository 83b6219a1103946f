"""Claiming an update: a handler that answered it stops every later handler group.

PTB runs the first matching handler of every group, lowest group first, until one raises
``ApplicationHandlerStop``. A feature wraps each of its buttons (and whatever else it fully
answers) in :func:`stop_after`, so the catch-all for buttons nobody claimed
(``HandlerGroup.FALLBACK``) only ever sees presses no feature took, whatever the order of
registration. A handler that fails instead goes to the bot's error handler, which stops the
update the same way after its one polite line.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from .context import BotContext, Handler


def stop_after(callback: Handler) -> Handler:
    """Run ``callback``, then keep later handler groups from seeing the same update."""

    async def handle(update: Update, context: BotContext) -> None:
        await callback(update, context)
        raise ApplicationHandlerStop

    handle.__name__ = getattr(callback, "__name__", "handler")
    handle.__doc__ = callback.__doc__
    return handle
