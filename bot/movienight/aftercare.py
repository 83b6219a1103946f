"""After the night: the winner goes into each voter's existing profile as "seen", and the next day each
voter gets one private "How was <title>?" with ★1–★5 buttons (the shared rating buttons of
:mod:`reelpick.bot.rating_buttons`, so a press updates their profile like any rating).

Restart-safe like the deadlines: the questions are rows of the movie-night store, planned in
one transaction once the winner is announced (``nights.aftercare`` says it was done), and
every pending one is put back on the JobQueue when the bot starts. A question is claimed in
the store before it is sent, so none is asked twice. A voter who never opened a private chat
with the bot cannot be messaged: Telegram refuses, and that is logged quietly, never retried.
A voter who left the group is not asked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import cast

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from reelpick.profiles import ProfileStore
from reelpick.settings import MovieNightSettings

from ..context import BotApplication, BotContext
from ..i18n import translator
from ..rating_buttons import owner_of, rating_keyboard
from .catalogue import Catalogue
from .schema import Ask
from .store import MovieNightStore
from .texts import esc

log = logging.getLogger(__name__)


class Aftercare:
    """The voters' "seen" marks and next-day questions, on the application's JobQueue."""

    def __init__(
        self,
        application: BotApplication,
        store: MovieNightStore,
        settings: MovieNightSettings,
        profiles: ProfileStore,
        catalogue: Catalogue,
    ) -> None:
        self.application = application
        self.store = store
        self.settings = settings
        self.profiles = profiles
        self.catalogue = catalogue

    async def after_night(self, bot: Bot, night_id: int) -> None:
        """Once per night with a winner (safe to call again): marks, then the questions."""
        due = time.time() + self.settings.ask_after_hours * 3600
        voters = await asyncio.to_thread(self.store.plan_aftercare, night_id, due)
        if not voters:
            return
        winner = self.store.night(night_id).winner
        if winner is not None:
            await asyncio.to_thread(self._mark_seen, voters, winner)
        for ask in self.store.pending_asks():
            if ask.night_id == night_id:
                self.schedule_ask(ask)

    def _mark_seen(self, voters: list[int], movie_id: int) -> None:
        # Only into profiles that exist: a voter who never rated, or who deleted their
        # profile with /forget before the poll closed, gets nothing written. A rating stays.
        for user_id in voters:
            self.profiles.mark_seen_if_known(owner_of(user_id), movie_id)

    def schedule_ask(self, ask: Ask) -> None:
        job_queue = self.application.job_queue
        if job_queue is None:
            log.warning("no JobQueue: the question to %s waits for a restart", ask.user_id)
            return
        name = f"movienight-ask-{ask.night_id}-{ask.user_id}"
        for job in job_queue.get_jobs_by_name(name):
            job.schedule_removal()
        job_queue.run_once(
            self._ask_job,
            when=max(0.0, ask.due - time.time()),
            data=(ask.night_id, ask.user_id),
            name=name,
            job_kwargs={"misfire_grace_time": None},
        )

    async def _ask_job(self, context: BotContext) -> None:
        assert context.job is not None
        night_id, user_id = cast(tuple[int, int], context.job.data)
        await self.ask(context.bot, night_id, user_id)

    async def ask(self, bot: Bot, night_id: int, user_id: int) -> bool:
        """Send one voter their question (claimed first); True when Telegram took it."""
        ask = await asyncio.to_thread(self.store.claim_ask, night_id, user_id)
        if ask is None:
            return False
        _ = translator(ask.language)
        text = _(
            "How was <b>{title}</b>? Your rating improves your picks (and the next movie night).",
            title=esc(self.catalogue.label(ask.movie_id)),
        )
        try:
            await bot.send_message(
                user_id,
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=rating_keyboard(ask.movie_id, user_id, _, skip=False),
            )
        except (Forbidden, BadRequest) as exc:  # never started the bot privately, or blocked it
            log.info("movie night %s: cannot ask user %s (%s)", night_id, user_id, exc)
            return False
        except TelegramError as exc:
            log.warning("movie night %s: asking user %s failed: %s", night_id, user_id, exc)
            return False
        return True

    async def recover(self, bot: Bot) -> None:
        """After a restart: plan what a kill interrupted, and reschedule every pending question."""
        for night_id in self.store.unplanned_aftercare():
            await self.after_night(bot, night_id)
        for ask in self.store.pending_asks():
            self.schedule_ask(ask)
