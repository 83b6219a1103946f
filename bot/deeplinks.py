"""Deep links: ``t.me/<bot>?start=<payload>`` opens the chat and sends ``/start <payload>``.

Features register a handler for a payload name; ``/start`` hands matching payloads to it and
gives everything else (no payload, unknown or malformed ones) the normal welcome::

    services.deep_links.register("rate", rate_from_link)    # in a feature's register
    # t.me/reelpick_bot?start=rate_6  ->  await rate_from_link(update, context, "6")

A payload is what Telegram allows: 1-64 characters of ``A-Z a-z 0-9 _ -``. Its name is the
part before the first ``_``; the rest, possibly empty, is the handler's argument. Payloads
come from links anyone can craft, so handlers must check their argument like any input.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from telegram import Update

if TYPE_CHECKING:  # the context module imports this one (through services)
    from .context import BotContext

log = logging.getLogger(__name__)

PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
NAME = re.compile(r"[A-Za-z0-9-]{1,32}")

DeepLinkHandler = Callable[[Update, "BotContext", str], Awaitable[None]]


class DeepLinks:
    """Payload name -> handler."""

    def __init__(self) -> None:
        self._handlers: dict[str, DeepLinkHandler] = {}

    def register(self, name: str, handler: DeepLinkHandler) -> None:
        """Send ``/start <name>`` and ``/start <name>_<argument>`` to ``handler``."""
        if not NAME.fullmatch(name):
            raise ValueError(f"deep-link name {name!r}: 1-32 of A-Z a-z 0-9 -")
        if name in self._handlers:
            raise ValueError(f"deep-link name {name!r} is registered already")
        self._handlers[name] = handler

    def link(self, bot_username: str, name: str, argument: str = "") -> str:
        """The ``t.me`` link that starts the bot with this payload."""
        payload = f"{name}_{argument}" if argument else name
        if not PAYLOAD.fullmatch(payload):
            raise ValueError(f"deep-link payload {payload!r} is not allowed by Telegram")
        return f"https://t.me/{bot_username}?start={payload}"

    async def dispatch(self, update: Update, context: BotContext, payload: str) -> bool:
        """Run the handler of ``payload``; False when there is none (welcome as usual)."""
        if not PAYLOAD.fullmatch(payload):
            return False
        name, _, argument = payload.partition("_")
        handler = self._handlers.get(name)
        if handler is None:
            log.debug("unknown deep-link payload %r", name)
            return False
        await handler(update, context, argument)
        return True
