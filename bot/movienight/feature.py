"""The movie-night feature of one bot: its parts built from the bot's services, and its handlers.

:class:`MovieNight` owns everything the feature keeps (the store, the night locks inside the
lifecycle, the random source) and wires its parts together by passing each the
collaborators it uses. :meth:`MovieNight.add_handlers` puts the handlers on the application;
:meth:`MovieNight.close` closes the store when the bot shuts down.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Message, Update
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    PollAnswerHandler,
    filters,
)

from reelpick.settings import MovieNightSettings

from ..context import BotApplication, BotContext
from ..handler_groups import HandlerGroup
from ..i18n import N_
from ..services import BotServices
from ..stopping import stop_after_politely
from .aftercare import Aftercare
from .ballot import Ballot
from .buttons import ButtonHandlers
from .callbacks import CALLBACK_PREFIX
from .catalogue import Catalogue
from .commands import PREFIX, SHORT_NAMES, CommandHandlers
from .lifecycle import NightLifecycle
from .lists import NightLists
from .members import MemberHandlers
from .store import MovieNightStore

log = logging.getLogger(__name__)

APOLOGY = N_("Sorry, something went wrong with the movie night.")

Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


class MovieNight:
    """Movie nights in every chat of one bot: the store, the lifecycle and the handlers."""

    def __init__(
        self,
        application: BotApplication,
        services: BotServices,
        *,
        settings: MovieNightSettings | None = None,
        store: MovieNightStore | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings or services.config.settings.movienight
        self.store = store or MovieNightStore(self.settings.db)
        self.catalogue = Catalogue(services)
        aftercare = Aftercare(
            application, self.store, self.settings, services.profiles, self.catalogue
        )
        self.lifecycle = NightLifecycle(
            application, self.store, self.settings, services.sender, self.catalogue, aftercare
        )
        self.ballot = Ballot(services, self.store, self.settings, self.catalogue)
        lists = NightLists(self.store, self.settings)
        self.members = MemberHandlers(self.store, services.profiles, services.deep_links)
        self.commands = CommandHandlers(
            self.store,
            self.settings,
            self.catalogue,
            lists,
            self.ballot,
            self.lifecycle,
            services.admins,
        )
        self.buttons = ButtonHandlers(
            self.store, self.catalogue, lists, self.members, self.lifecycle, rng or random.Random()
        )

    def add_handlers(self, application: BotApplication) -> None:
        """Add the handlers, and restart recovery for when the application starts."""
        group = HandlerGroup.MOVIENIGHT
        prefixed: dict[str, Handler] = {
            "suggest": self.commands.cmd_suggest,
            "seen": self.commands.cmd_seen,
            "veto": self.commands.cmd_veto,
            "in": self.members.cmd_in,
            "out": self.members.cmd_out,
            "status": self.commands.cmd_status,
            "vote": self.commands.cmd_vote,
            "close": self.commands.cmd_close,
        }
        assert set(prefixed) == set(SHORT_NAMES)
        application.add_handler(
            CommandHandler("movienight", _stop_after(self.commands.cmd_movienight)), group
        )
        for name, callback in prefixed.items():
            # /night_in and /night_in@bot; the short /in only as /in@bot (no clash).
            application.add_handler(CommandHandler(PREFIX + name, _stop_after(callback)), group)
            application.add_handler(
                CommandHandler(name, _stop_after(callback), filters=ADDRESSED), group
            )
        application.add_handler(
            CallbackQueryHandler(
                _stop_after(self.buttons.on_button), pattern=f"^{CALLBACK_PREFIX}"
            ),
            group,
        )
        application.add_handler(PollAnswerHandler(_stop_after(self.commands.on_poll_answer)), group)
        # Not stopped: other features may want to see people leave too.
        application.add_handler(
            ChatMemberHandler(self.members.on_left_member, ChatMemberHandler.CHAT_MEMBER), group
        )
        application.add_handler(
            MessageHandler(filters.StatusUpdate.LEFT_CHAT_MEMBER, self.members.on_left_member),
            group,
        )
        if application.job_queue is not None:
            # misfire_grace_time=None: run even if the application starts long after this.
            application.job_queue.run_once(
                self._recover_job,
                when=0,
                name="movienight-recover",
                job_kwargs={"misfire_grace_time": None},
            )
        else:  # no JobQueue installed: recover from post_init instead
            previous = application.post_init

            async def post_init(application: BotApplication) -> None:
                if previous is not None:
                    await previous(application)
                application.create_task(self.lifecycle.recover(application.bot))

            application.post_init = post_init

    async def _recover_job(self, context: BotContext) -> None:
        await self.lifecycle.recover(context.bot)

    def close(self) -> None:
        """Close the store (at the bot's shutdown)."""
        self.store.close()


class _Addressed(filters.MessageFilter):
    """A command written with the bot's name: ``/in@reelpick_bot`` (CommandHandler itself
    checks that the name after ``@`` is this bot's)."""

    def filter(self, message: Message) -> bool:
        command = (message.text or "").split(maxsplit=1)[0] if message.text else ""
        return "@" in command


ADDRESSED = _Addressed(name="addressed to the bot")


def _stop_after(callback: Handler) -> Handler:
    """``callback`` claiming its update; a failure in a chat gets one polite line."""
    return stop_after_politely(callback, feature="movie night", apology=APOLOGY)
