"""The context every handler and job receives: PTB's ``CallbackContext`` with typed services.

As in PTB's ``examples/contexttypesbot.py``, shared state is reached through the context, not
module globals: ``context.services`` is the one :class:`~reelpick.bot.services.BotServices`
the wiring created. :func:`context_types` is passed to ``ApplicationBuilder.context_types``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from .services import SERVICES, BotServices

BotData = dict[str, Any]


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """A handler's context; ``services`` is what every feature shares."""

    @property
    def services(self) -> BotServices:
        services: BotServices = self.application.bot_data[SERVICES]
        return services


BotApplication = Application[ExtBot[int], BotContext, dict[Any, Any], dict[Any, Any], BotData, Any]
Handler = Callable[
    [Update, BotContext], Coroutine[Any, Any, None]
]  # what every feature's handler is


def context_types() -> ContextTypes[BotContext, dict[Any, Any], dict[Any, Any], BotData]:
    """The ``ContextTypes`` that make every handler's context a :class:`BotContext`."""
    return ContextTypes(context=BotContext, bot_data=dict, chat_data=dict, user_data=dict)
