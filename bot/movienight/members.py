"""Movie nights that know the group: /in, /out, the "I'm in" button, and candidates from the
joined members' profiles.

Joining: ``/in`` or the button under the night's opening message joins the chat's night;
``/in`` while a poll runs joins the chat's *next* night (the reply says so); ``/out`` leaves;
a vote counts as joining. A member without ratings gets one line pointing to ``/rate`` in
the private chat (a ``t.me/<bot>?start=rate`` deep link); the night works without them.

Candidates (:meth:`NightMembers.ballot_options`), computed at /vote time from the *live*
profiles (so a member who ``/forget``s mid-night is out of them at once): each joined member's
picks from every recommending plugin (``[groups] depth`` long, in a thread), aggregated by the
``[groups]`` strategy (:mod:`reelpick.groups`) with a prior: the chat's title seeds fused by
rank when there are any, otherwise the most rated movies. Left out: vetoed and /seen movies,
and, unless the night was opened with ``/movienight rewatch``, the chat's watch history and
every movie a joined member has rated or marked seen. The fairness rule then gives every
member with a profile at least one option from their own top ``fair_depth``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update, User
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from reelpick.groups import GroupSettings, recommend_for_group
from reelpick.picks import PickSettings, pick
from reelpick.types import Profile

from ..i18n import N_, Translator, translator_for
from ..rating_buttons import owner_of
from .aftercare import NightAftercare
from .lifecycle import CALLBACK_PREFIX
from .schema import Night
from .texts import OPTION_MAX_CHARS, esc, fit, person, shorten

log = logging.getLogger(__name__)

JOIN = re.compile(rf"{re.escape(CALLBACK_PREFIX)}j:(\d{{1,12}})")
NAMES_SHOWN = 2  # "for Ann, Bob +1"
INVALID = N_("That button is out of date.")


def join_button_data(night_id: int) -> str:
    return f"{CALLBACK_PREFIX}j:{night_id}"


def join_markup(_: Translator, night_id: int) -> InlineKeyboardMarkup:
    """The "I'm in" button under a night's opening message."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(_("🙋 I'm in"), callback_data=join_button_data(night_id))]]
    )


class NightMembers(NightAftercare):
    """Joining, leaving, and the ballot from the members' profiles."""

    @property
    def groups(self) -> GroupSettings:
        return GroupSettings.from_config(self.config)

    def _profile(self, user_id: int) -> Profile:
        if self.services is None:
            return Profile()
        return self.services.profiles.profile(owner_of(user_id))

    # -- joining ---------------------------------------------------------------------
    async def cmd_in(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        if user is None:
            return
        _ = translator_for(update)
        text = await self._join(context, chat.id, user, _)
        await self._reply(message, text)

    async def _join(
        self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, user: User, _: Translator
    ) -> str:
        """Join ``user`` to the chat's night; the reply (with the /rate nudge when needed)."""
        outcome, _night = await asyncio.to_thread(
            self.store.join, chat_id, user.id, person(user), user.language_code
        )
        name = esc(person(user))
        if outcome == "waiting":
            night = self.store.current(chat_id)
            if night is None:
                text = _("{name}, you're in for the next movie night here.", name=name)
            else:
                text = _(
                    "{name}, this poll is already running, so you're in for the next movie night.",
                    name=name,
                )
        elif outcome == "already":
            text = _("{name}, you're already in.", name=name)
        else:
            text = _("{name} is in for tonight's movie night.", name=name)
        profile = await asyncio.to_thread(self._profile, user.id)
        if not profile.ratings and self.services is not None and context.bot.username:
            link = self.services.deep_links.link(context.bot.username, "rate")
            text += "\n" + _(
                'Rate a few movies in a private chat with me so the list knows your taste: <a href="{link}">/rate</a>',
                link=esc(link),
            )
        return text

    async def cmd_out(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        if user is None:
            return
        _ = translator_for(update)
        left = await asyncio.to_thread(self.store.leave, chat.id, user.id)
        name = esc(person(user))
        if left:
            text = _("{name} is out of this movie night.", name=name)
        else:
            night = self.store.current(chat.id)
            if night is not None and night.state != "gathering":
                text = _("The poll is already running; a vote there still counts.")
            else:
                text = _("{name}, you had not joined.", name=name)
        await self._reply(message, text)

    async def button_join(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        query: CallbackQuery,
        answer: Any,
        chat_id: int,
        night_id: int,
    ) -> None:
        """The "I'm in" button: only the night of the chat the button is in, never another's."""
        _ = translator_for(query.from_user)
        night = self.store.current(chat_id)
        if night is None or night.id != night_id:
            latest = self.store.latest(chat_id)
            if latest is None or latest.id != night_id:  # another chat's night, or forged
                log.info("join button for night %s pressed in chat %s: refused", night_id, chat_id)
                await answer(_(INVALID))
                return
        text = await self._join(context, chat_id, query.from_user, _)
        await answer(shorten(re.sub(r"<[^>]+>", "", text).split("\n")[0], 190))
        if "\n" in text:  # the /rate nudge goes to the chat: a toast cannot carry a link
            await self._send_text(context.bot, chat_id, text)

    async def on_left_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Someone left the group: their votes stay, they are not messaged about its nights."""
        chat = update.effective_chat
        users = []
        if update.chat_member is not None:
            if update.chat_member.new_chat_member.status in ("left", "kicked", "banned"):
                users.append(update.chat_member.new_chat_member.user)
        elif update.effective_message is not None and update.effective_message.left_chat_member:
            users.append(update.effective_message.left_chat_member)
        for user in users:
            await asyncio.to_thread(self.store.left_chat, chat.id, user.id)

    # -- the ballot ------------------------------------------------------------------
    async def ballot_options(self, night: Night, _: Translator) -> tuple[list[tuple], list[str]]:
        """The poll options ``(movie_id, score, option text, note)`` and lines for the chat."""
        settings = self.groups
        seeds = [s.movie_id for s in self.store.seeds(night.id)]
        members = self.store.members(night.id)
        profiles = await asyncio.to_thread(
            lambda: {m.user_id: self._profile(m.user_id) for m in members}
        )
        exclude = {e.movie_id for e in self.store.exclusions(night.id)}
        for profile in profiles.values():
            exclude |= profile.not_interested
            if not night.rewatch:
                exclude |= profile.movies
        if not night.rewatch:
            exclude |= set(self.store.watched(night.chat_id))
        rated = [m for m in members if profiles[m.user_id].ratings]
        limit = self.settings.max_options
        fused = await self.candidates(seeds, exclude | set(seeds), settings.depth) if seeds else []
        if not rated:
            options = [
                (f.movie_id, f.score, self._option_text(i, f.movie_id), None)
                for i, f in enumerate(fused[:limit], 1)
            ]
            lines = []
            if members:
                lines.append(
                    _(
                        "Nobody who joined has rated movies yet, so the list comes from the titles alone."
                    )
                )
            return options, lines
        lists = await asyncio.gather(
            *(
                asyncio.to_thread(self._personal, profiles[m.user_id], exclude, settings.depth)
                for m in rated
            )
        )
        member_lists = {m.user_id: ranked for m, ranked in zip(rated, lists, strict=True)}
        prior = [f.movie_id for f in fused] or self._popular(exclude, settings.depth)
        # The same function the evaluation scores (reelpick evaluate --task groups), so every
        # [groups] setting means here what it means there; the fairness rule included.
        sizes = {m.user_id: len(profiles[m.user_id].ratings) for m in rated}
        picks = recommend_for_group(
            member_lists, limit, settings, prior=prior, exclude=exclude, profile_sizes=sizes
        )
        names = {m.user_id: m.user_name for m in members}
        options = [
            (p.movie_id, p.score, self._option_text(i, p.movie_id), self._for(p.members, names, _))
            for i, p in enumerate(picks, 1)
        ]
        served = ", ".join(esc(m.user_name) for m in rated)
        lines = [
            _("🎯 Picked for {names} from their ratings.", names=served),
            _(
                "Everyone who joined with ratings has at least one movie from their own top {depth} in this poll.",
                depth=settings.fair_depth,
            ),
        ]
        unrated = [esc(m.user_name) for m in members if not profiles[m.user_id].ratings]
        if unrated:
            lines.append(
                _(
                    "No ratings yet from {names}: /rate in a private chat with me.",
                    names=", ".join(unrated),
                )
            )
        return options, lines

    def _option_text(self, position: int, movie_id: int) -> str:
        return shorten(f"{position}. {self._label(movie_id)}", OPTION_MAX_CHARS)

    @staticmethod
    def _for(members: tuple, names: dict[int, str], _: Translator) -> str | None:
        shown = [names[m] for m in members if m in names]
        if not shown:
            return None
        text = ", ".join(shown[:NAMES_SHOWN])
        if len(shown) > NAMES_SHOWN:
            text += f" +{len(shown) - NAMES_SHOWN}"
        return _("for {names}", names=text)

    def _personal(self, profile: Profile, exclude: set[int], depth: int) -> list[int]:
        """One member's picks from every recommending plugin (runs in a thread)."""
        registry = self.app.registry
        names = [n for n in registry.enabled() if registry.plugins[n].fitted]
        answers = registry.recommend(profile, depth, names, exclude)
        settings = PickSettings.from_config(self.config)
        return [r.movie_id for r in pick(answers, depth, settings.weights, settings.rrf_k)]

    def _popular(self, exclude: set[int], depth: int) -> list[int]:
        """The most rated movies of the catalogue (the prior when the chat gave no titles)."""
        dataset = self.app.dataset
        cached = getattr(self, "_popular_cache", None)
        if cached is None or cached[0] is not dataset:
            counts = dataset.ratings["movieId"].value_counts()
            cached = self._popular_cache = (dataset, [int(m) for m in counts.index[: depth * 20]])
        return [m for m in cached[1] if m not in exclude][:depth]

    async def _send_text(self, bot: Bot, chat_id: int, text: str) -> None:
        try:
            await bot.send_message(chat_id, fit(text), parse_mode=ParseMode.HTML)
        except TelegramError as exc:
            log.info("movie night note to chat %s failed: %s", chat_id, exc)
