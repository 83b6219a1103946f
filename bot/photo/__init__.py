"""A photo as the query: "That looks like Heat (1995)", or the closest guesses, and always
"posters that look like this". Wiring: ``register_photo(application, config, services=...)``.

Modules: ``handlers`` (messages and buttons), ``service`` (worker, per-chat state),
``judge`` (thresholds -> match / unsure / unknown), ``texts`` (every sentence shown).
"""

from __future__ import annotations

from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from reelpick.config import Config

from ..services import BotServices
from .handlers import photo_button, photo_message
from .service import FEATURE, PhotoService

# After the bot's own text handlers (group 0); before the hint for other messages (50),
# which the photo handler stops once it has answered.
PHOTO_GROUP = 1


def register_photo(
    application: Application, config: Config, *, services: BotServices
) -> PhotoService:
    """Answer photos and image documents; add the buttons of the answers."""
    photos = PhotoService(config)
    services.features[FEATURE] = photos
    pictures = (filters.PHOTO | filters.Document.ALL) & filters.UpdateType.MESSAGE
    application.add_handler(MessageHandler(pictures, photo_message), group=PHOTO_GROUP)
    application.add_handler(CallbackQueryHandler(photo_button, pattern=r"^photo:"))
    return photos


__all__ = ["PHOTO_GROUP", "PhotoService", "register_photo"]
