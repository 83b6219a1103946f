"""Personal recommendations: people rate movies, the bot recommends for them.

Commands (private chat; in a group each one points to the private chat instead)::

    /rate         one movie at a time: ★1…★5, seen, not interested, skip (one tap each)
    /forme        one album per recommending plugin, plus "Picks" fusing them, with reasons
    /myratings    a summary and the whole profile as a CSV document
    /export       the whole profile as a Letterboxd-compatible CSV document
    /forget       delete the profile (after a confirmation button)
    /privacy      what the bot stores, for how long, how to export and delete it (any chat)
    <a CSV file>  import a Letterboxd or IMDb ratings export

Profiles live in :class:`~reelpick.profiles.ProfileStore` (``BotServices.profiles``, SQLite
in the bot's state folder), keyed ``tg:<user id>``: whatever one person sends never touches
another's profile. This feature answers every rating button, wherever it was sent (the
buttons come from :mod:`reelpick.bot.rating_buttons`).

Modules by job: ``rate`` (/rate and every rating button), ``forme``, ``manage`` (/myratings,
/forget), ``privacy`` (/privacy, /export), ``upload`` (documents), ``importer`` (the import
queue, run on the feature's own pool and resumed after a restart) and ``texts`` (wording,
button data, keyboards).
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler

from ..context import BotApplication, BotContext, Handler
from ..handler_groups import HandlerGroup
from ..i18n import N_
from ..services import BotServices
from ..stopping import stop_after_politely
from ..updates import PRIVATE_FILES
from .forme import ForMe
from .importer import Importer
from .manage import Manage
from .privacy import Privacy
from .rate import Rating
from .upload import Upload

__all__ = ["COMMANDS", "Profiles", "register"]

log = logging.getLogger(__name__)

APOLOGY = N_("Sorry, something went wrong. Please try again.")
BUTTON_APOLOGY = N_("Sorry, something went wrong.")

# (command, description): descriptions are message ids, translated per language at startup.
COMMANDS = [
    ("rate", N_("Rate movies, one tap each, for personal picks")),
    ("forme", N_("Personal picks from your ratings")),
    ("myratings", N_("Your ratings, with a CSV file of them")),
    ("export", N_("Your ratings and marks as a CSV file for Letterboxd")),
    ("forget", N_("Delete your ratings")),
    ("privacy", N_("What I store about you, and how to delete it")),
]
# /start payloads this feature answers (the t.me/<bot>?start=... links it sends in groups).
DEEP_LINKS = ("rate", "forme")


class Profiles:
    """The feature's state, one object per bot: its parts, each with the handlers of its job."""

    def __init__(self) -> None:
        self.rating = Rating()
        self.forme = ForMe()
        self.manage = Manage()
        self.privacy = Privacy()
        self.importer = Importer()
        self.upload = Upload(self.importer)

    async def deep_link(self, update: Update, context: BotContext, argument: str) -> None:
        """``t.me/<bot>?start=rate`` / ``start=forme``: where the group replies lead.

        The links carry no argument; one crafted with an argument is treated as the same
        request (the person is only ever acting on their own profile).
        """
        if update.effective_chat is None or update.effective_chat.type != ChatType.PRIVATE:
            return
        message = update.effective_message
        payload = ((message.text if message else None) or "").split()[-1].partition("_")[0]
        handler = self.rating.cmd_rate if payload == "rate" else self.forme.cmd_forme
        await _answered(handler)(update, context)


def register(application: BotApplication, services: BotServices) -> None:
    """Add /rate, /forme, /myratings, /export, /forget, /privacy, rating buttons and CSV
    imports, and the resumption of imports a stop interrupted.

    In their own handler group, before movie nights and the title answers; each handler
    here stops the update, so no later group answers it a second time.
    """
    feature = services.features.add(Profiles())
    services.metrics.track(
        "import_queue_length",
        "Rating imports queued and not yet reported",
        lambda: len(services.profiles.queued_imports()),
    )
    group = HandlerGroup.PROFILES
    for name, callback in (
        ("rate", feature.rating.cmd_rate),
        ("forme", feature.forme.cmd_forme),
        ("myratings", feature.manage.cmd_myratings),
        ("export", feature.privacy.cmd_export),
        ("forget", feature.manage.cmd_forget),
        ("privacy", feature.privacy.cmd_privacy),
    ):
        application.add_handler(CommandHandler(name, _answered(callback)), group)
    application.add_handler(
        CallbackQueryHandler(_answered(feature.rating.on_button), pattern=r"^rate:"), group
    )
    application.add_handler(
        CallbackQueryHandler(_answered(feature.manage.on_forget_button), pattern=r"^forget:"),
        group,
    )
    application.add_handler(
        MessageHandler(PRIVATE_FILES, _answered(feature.upload.on_document)),
        group,
    )
    for name in DEEP_LINKS:
        services.deep_links.register(name, feature.deep_link)
    services.commands.extend(COMMANDS)
    _resume_imports_at_start(application, services, feature.importer)


def _resume_imports_at_start(
    application: BotApplication, services: BotServices, importer: Importer
) -> None:
    """Once the application runs: the imports a stop interrupted, each reported."""

    async def resume(application: BotApplication) -> None:
        try:
            await importer.resume(application.bot, services)
        except Exception:
            log.exception("resuming imports failed")

    previous_init, previous_stop = application.post_init, application.post_stop
    running: set[asyncio.Task[None]] = set()

    async def post_init(application: BotApplication) -> None:
        if previous_init is not None:
            await previous_init(application)
        # A task of its own, kept until done: the bot answers others while imports run.
        task = asyncio.create_task(resume(application), name="profiles-resume-imports")
        running.add(task)
        task.add_done_callback(running.discard)

    async def post_stop(application: BotApplication) -> None:
        importer.close()
        if previous_stop is not None:
            await previous_stop(application)

    application.post_init = post_init
    application.post_stop = post_stop


def _answered(callback: Handler) -> Handler:
    """``callback`` claiming its update; a failure gets one polite line."""
    return stop_after_politely(
        callback, feature="profile", apology=APOLOGY, button_apology=BUTTON_APOLOGY
    )
