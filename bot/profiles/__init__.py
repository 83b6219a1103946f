"""Personal recommendations (issue 12): people rate movies, the bot recommends for them.

Commands (private chat; in a group each one points to the private chat instead)::

    /rate         one movie at a time: ★1…★5, seen, not interested, skip (one tap each)
    /forme        one album per recommending plugin, plus "Picks" fusing them, with reasons
    /myratings    a summary and the whole profile as a CSV document
    /forget       delete the profile (after a confirmation button)
    <a CSV file>  import a Letterboxd or IMDb ratings export

Profiles live in :class:`~reelpick.profiles.ProfileStore` (``BotServices.profiles``, SQLite
in the bot's state folder), keyed ``tg:<user id>``: whatever one person sends never touches
another's profile. Rating buttons also go under the bot's single-movie answers in a private
chat (:func:`rating_markup`, called from the answer's header in :mod:`reelpick.bot.handlers`).

Modules by job: ``rate`` (/rate and every rating button), ``forme``, ``manage`` (/myratings,
/forget), ``upload`` (documents) and ``texts`` (wording, button data, keyboards).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from ..i18n import N_, translator_for
from ..services import BotServices
from .forme import ForMe
from .manage import Manage
from .rate import Rating
from .upload import Upload

__all__ = ["COMMANDS", "Profiles", "register_profiles"]

log = logging.getLogger(__name__)

# After the bot's rate limit (-100), before movie nights (-1) and the bot's own handlers (0);
# each handler here stops the update, so no later group answers it a second time.
HANDLER_GROUP = -2
# (command, description): descriptions are message ids, translated per language at startup.
COMMANDS = [
    ("rate", N_("Rate movies, one tap each, for personal picks")),
    ("forme", N_("Personal picks from your ratings")),
    ("myratings", N_("Your ratings, with a CSV file of them")),
    ("forget", N_("Delete your ratings")),
]
# /start payloads this feature answers (the t.me/<bot>?start=... links it sends in groups).
DEEP_LINKS = ("rate", "forme")

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


class Profiles:
    """The whole feature: one object per bot, kept in ``application.bot_data["profiles"]``."""

    def __init__(self) -> None:
        self.rating = Rating()
        self.forme = ForMe()
        self.manage = Manage()
        self.upload = Upload()

    def register(self, application: Application) -> None:
        private = filters.ChatType.PRIVATE
        for name, callback in (
            ("rate", self.rating.cmd_rate),
            ("forme", self.forme.cmd_forme),
            ("myratings", self.manage.cmd_myratings),
            ("forget", self.manage.cmd_forget),
        ):
            application.add_handler(CommandHandler(name, _stop_after(callback)), HANDLER_GROUP)
        application.add_handler(
            CallbackQueryHandler(_stop_after(self.rating.on_button), pattern=r"^rate:"),
            HANDLER_GROUP,
        )
        application.add_handler(
            CallbackQueryHandler(_stop_after(self.manage.on_forget_button), pattern=r"^forget:"),
            HANDLER_GROUP,
        )
        application.add_handler(
            MessageHandler(
                # Pictures are the photo feature's (a poster as the query).
                filters.Document.ALL
                & ~filters.Document.IMAGE
                & private
                & filters.UpdateType.MESSAGE,
                _stop_after(self.upload.on_document),
            ),
            HANDLER_GROUP,
        )

    async def deep_link(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, argument: str
    ) -> None:
        """``t.me/<bot>?start=rate`` / ``start=forme``: where the group replies lead.

        The links carry no argument; one crafted with an argument is treated as the same
        request (the person is only ever acting on their own profile).
        """
        if update.effective_chat is None or update.effective_chat.type != "private":
            return
        payload = (update.effective_message.text or "").split()[-1].partition("_")[0]
        handler = self.rating.cmd_rate if payload == "rate" else self.forme.cmd_forme
        await _stop_after(handler)(update, context)


def _stop_after(callback: Handler) -> Handler:
    """Run ``callback``; a failure is logged and gets one polite line; then stop the update."""

    async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await callback(update, context)
        except ApplicationHandlerStop:
            raise
        except Exception:
            log.exception("profile handler %s failed", getattr(callback, "__name__", "?"))
            _ = translator_for(update)
            with contextlib.suppress(TelegramError):
                if update.callback_query is not None:
                    await update.callback_query.answer(_("Sorry, something went wrong."))
                elif update.effective_chat is not None:
                    await context.bot.send_message(
                        update.effective_chat.id,
                        _("Sorry, something went wrong. Please try again."),
                    )
        raise ApplicationHandlerStop

    handle.__name__ = getattr(callback, "__name__", "handler")
    return handle


def register_profiles(application: Application, services: BotServices) -> Profiles:
    """Add /rate, /forme, /myratings, /forget and CSV imports to the bot (from app.py)."""
    feature = Profiles()
    feature.register(application)
    for name in DEEP_LINKS:
        services.deep_links.register(name, feature.deep_link)
    application.bot_data["profiles"] = feature
    services.commands.extend(COMMANDS)
    return feature
