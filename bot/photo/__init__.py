"""A photo as the query: "That looks like Heat (1995)", or the closest guesses, and always
"posters that look like this".

Modules: ``handlers`` (messages and buttons), ``service`` (per-chat state; the pictures go
to the bot's image worker, ``BotServices.pictures``),
``judge`` (thresholds -> match / unsure / unknown), ``texts`` (every sentence shown).
"""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from ..context import BotApplication
from ..handler_groups import HandlerGroup
from ..services import BotServices
from ..stopping import stop_after
from .handlers import photo_button, photo_message
from .service import PhotoService


def register(application: BotApplication, services: BotServices) -> None:
    """Answer photos and image documents (after the text handlers), and their buttons."""
    services.features.add(PhotoService(services.config))
    pictures = (filters.PHOTO | filters.Document.ALL) & filters.UpdateType.MESSAGE
    application.add_handler(MessageHandler(pictures, photo_message), HandlerGroup.PHOTO)
    application.add_handler(
        CallbackQueryHandler(stop_after(photo_button), pattern=r"^photo:"), HandlerGroup.DEFAULT
    )


__all__ = ["PhotoService", "register"]
