"""Movie-night commands: /movienight, /night_suggest, /night_seen, /night_veto, /night_status,
/night_vote, /night_close, and poll answers.

Command names: a group may hold several bots, and Telegram sends a bare ``/status`` to every
bot there that has such a command. Every movie-night command but /movienight is therefore
prefixed, ``/night_<name>`` (:data:`PREFIX`), which no other bot is likely to use; the short
names of earlier versions (:data:`SHORT_NAMES`: ``/in``, ``/seen``, ``/status``...) are
answered only when addressed to this bot (``/in@reelpick_bot``), which no other bot claims.
The buttons under the night's messages work as before.

:class:`CommandHandlers` reads and changes nights through the store, resolves titles against
the current catalogue, and hands the ballot and the close to :class:`~.lifecycle.NightLifecycle`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from telegram import Bot, Message, Update, User
from telegram.constants import ChatType, ParseMode

from reelpick.settings import MovieNightSettings

from ..context import BotContext
from ..i18n import N_, Translator, translator_for
from ..permissions import sender_manages_chat
from ..resolve import choice_keyboard, question_text, resolve_title
from ..scheduling import sender_key
from .ballot import Ballot
from .callbacks import add_button_data
from .catalogue import Catalogue
from .lifecycle import NightLifecycle
from .lists import NightLists
from .members import join_markup
from .schema import EntryKind, Night, NightState, StoreError, TitleOutcome
from .sending import quiet, reply
from .store import MovieNightStore
from .texts import (
    command_argument,
    esc,
    fit,
    minutes_left,
    outcome_lines,
    person,
    quoted,
    shorten,
    split_titles,
    status_text,
)

log = logging.getLogger(__name__)

AMBIGUOUS_PROMPTS = 3  # button messages per command; more ambiguous titles are only listed
PREFIX = "night_"
# The short names, answered only as /name@bot (see the module's docstring).
SHORT_NAMES = ("suggest", "seen", "veto", "in", "out", "status", "vote", "close")
COMMANDS = [
    ("movienight", N_("Start a movie night: /movienight TITLE; TITLE")),
    ("night_suggest", N_("Movie night: add a title you like")),
    ("night_seen", N_("Movie night: leave out a movie someone has seen")),
    ("night_veto", N_("Movie night: leave out a movie")),
    ("night_in", N_("Movie night: join (the list learns your taste)")),
    ("night_out", N_("Movie night: leave")),
    ("night_status", N_("Movie night: titles, vetoes, deadline")),
    ("night_vote", N_("Movie night: start the poll (opener or admin)")),
    ("night_close", N_("Movie night: close the poll now (opener or admin)")),
]
GROUPS_ONLY = N_("Movie nights are for groups: add me to a group and start one there.")
NO_NIGHT = N_("No movie night is open here. Start one with /movienight.")


class CommandHandlers:
    """The movie night's commands and poll answers."""

    def __init__(
        self,
        store: MovieNightStore,
        settings: MovieNightSettings,
        catalogue: Catalogue,
        lists: NightLists,
        ballot: Ballot,
        lifecycle: NightLifecycle,
        admins: set[int],
    ) -> None:
        self.store = store
        self.settings = settings
        self.catalogue = catalogue
        self.lists = lists
        self.ballot = ballot
        self.lifecycle = lifecycle
        self.admins = admins

    # -- commands --------------------------------------------------------------------
    async def cmd_movienight(self, update: Update, context: BotContext) -> None:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        if chat is None or user is None or message is None:
            return
        argument = command_argument(message)
        rewatch = argument.strip().lower() == "rewatch"  # seen movies may come back tonight
        titles = [] if rewatch else split_titles(argument)
        _ = translator_for(update)
        if chat.type == ChatType.PRIVATE:  # a poll of one is no movie night
            await reply(message, _(GROUPS_ONLY))
            return
        night = self.store.current(chat.id)
        if night is not None:
            intro = _(
                "A movie night is already open here (opened by {name}). /night_status shows it.",
                name=esc(night.opener_name),
            )
            if night.state != NightState.GATHERING or not titles:
                await reply(message, intro)
                return
            markup = None
        else:
            try:
                # Keyed like the rate limits: a channel sender is its channel, not the
                # Channel_Bot user every channel shares.
                opener = sender_key(update) or user.id
                night = self.store.open_night(
                    chat.id, opener, person(user), rewatch=rewatch, language=user.language_code
                )
            except StoreError:  # opened by someone else a moment ago
                night = self.store.current(chat.id)
                if night is None:
                    raise
            intro = _(
                "🎬 <b>Movie night!</b> Opened by {name}.\n"
                "Add titles you like with /night_suggest TITLE (several: separate with ;), "
                "keep movies out with /night_seen TITLE or /night_veto TITLE, then the opener or an "
                "admin starts the poll with /night_vote.",
                name=esc(person(user)),
            )
            intro += "\n" + _(
                "Join with /night_in or the button below: I'll pick movies for the people who join "
                "from their ratings, with at least one for each of them."
            )
            if rewatch:
                intro += "\n" + _("Rewatch night: movies you have seen may come up.")
            markup = join_markup(_, night.id)
        if titles:
            await self._add_titles(
                context.bot, message, night, user, titles, EntryKind.SEED, _, intro
            )
            if markup is not None:
                await quiet(context.bot.send_message(chat.id, _("Who's in?"), reply_markup=markup))
        else:
            await message.reply_text(fit(intro), parse_mode=ParseMode.HTML, reply_markup=markup)

    async def cmd_suggest(self, update: Update, context: BotContext) -> None:
        await self._title_command(
            update, context, EntryKind.SEED, N_("/night_suggest TITLE (e.g. /night_suggest Heat)")
        )

    async def cmd_seen(self, update: Update, context: BotContext) -> None:
        await self._title_command(update, context, EntryKind.SEEN, N_("/night_seen TITLE"))

    async def cmd_veto(self, update: Update, context: BotContext) -> None:
        await self._title_command(update, context, EntryKind.VETO, N_("/night_veto TITLE"))

    async def _title_command(
        self, update: Update, context: BotContext, kind: EntryKind, usage: str
    ) -> None:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        if chat is None or user is None or message is None:
            return
        _ = translator_for(update)
        night = await self._gathering_night(message, chat.id, _)
        if night is None:
            return
        titles = split_titles(command_argument(message))
        if not titles:
            await reply(message, _("Which movie? Usage: {usage}", usage=esc(_(usage))))
            return
        await self._add_titles(context.bot, message, night, user, titles, kind, _)

    async def _gathering_night(self, message: Message, chat_id: int, _: Translator) -> Night | None:
        night = self.store.current(chat_id)
        if night is None:
            await reply(message, _(NO_NIGHT))
            return None
        if night.state != NightState.GATHERING:
            await reply(
                message,
                _(
                    "Voting has already started, so the list is fixed. The poll closes in {time}.",
                    time=minutes_left(night.deadline, _),
                ),
            )
            return None
        return night

    async def cmd_status(self, update: Update, context: BotContext) -> None:
        chat, message = update.effective_chat, update.effective_message
        if chat is None or message is None:
            return
        _ = translator_for(update)
        night = self.store.current(chat.id)
        if night is None:
            latest = self.store.latest(chat.id)
            text = _(NO_NIGHT)
            if latest is not None and latest.winner is not None:
                text += "\n" + _(
                    "Last time's pick: {title}.", title=esc(self.catalogue.label(latest.winner))
                )
            watched = self.store.watched(chat.id)
            if watched:
                text += "\n" + _.ngettext(
                    "Watched here so far: {count} movie.",
                    "Watched here so far: {count} movies.",
                    len(watched),
                )
            await reply(message, text)
            return
        await reply(message, self.status_text(night, _))

    def status_text(self, night: Night, _: Translator) -> str:
        """What /night_status shows: state, seeds and exclusions with who added them, deadline."""
        voting = night.state == NightState.VOTING
        return status_text(
            night,
            self.store.seeds(night.id),
            self.store.exclusions(night.id),
            len(self.store.watched(night.chat_id)),
            self.store.options(night.id) if voting else [],
            self.store.tally(night.id) if voting else [],
            self.settings.max_seeds,
            self.catalogue.label,
            _,
        )

    async def cmd_vote(self, update: Update, context: BotContext) -> None:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        if chat is None or user is None or message is None:
            return
        _ = translator_for(update)
        night = self.store.current(chat.id)
        if night is None:
            await reply(message, _(NO_NIGHT))
            return
        if not await self._may_manage(context.bot, update, night):
            await reply(
                message,
                _(
                    "Sorry, only {name} (who opened this movie night) or a chat admin can "
                    "start the poll.",
                    name=esc(night.opener_name),
                ),
            )
            return
        if night.state != NightState.GATHERING:
            await reply(
                message,
                _(
                    "The poll is already running; it closes in {time}.",
                    time=minutes_left(night.deadline, _),
                ),
            )
            return
        if not self.store.seeds(night.id) and not self.store.members(night.id):
            await reply(
                message,
                _(
                    "I need some titles first (or people): add movies you like with "
                    "/night_suggest TITLE, or join with /night_in, then /night_vote again."
                ),
            )
            return
        options, notes = await self.ballot.options(night, _)
        if len(options) < 2:
            await reply(
                message,
                _.ngettext(
                    "The recommenders found only {count} candidate after leaving out seen, "
                    "vetoed and watched movies. Add more titles with /night_suggest TITLE, then /night_vote "
                    "again.",
                    "The recommenders found only {count} candidates after leaving out seen, "
                    "vetoed and watched movies. Add more titles with /night_suggest TITLE, then /night_vote "
                    "again.",
                    len(options),
                ),
            )
            return
        # The night's lock is held from "voting" until the poll is saved: a /close or a
        # deadline meanwhile waits for the poll instead of closing a night without one.
        async with self.lifecycle.night_lock(night.id):
            try:
                night = self.store.start_voting(night.id, options)
            except StoreError:
                await reply(message, _("The poll has just been started (or the night ended)."))
                return
            if notes:
                await reply(message, "\n".join(notes))
            await self.lifecycle.send_ballot(context.bot, night, _, after=message.message_id)

    async def cmd_close(self, update: Update, context: BotContext) -> None:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        if chat is None or user is None or message is None:
            return
        _ = translator_for(update)
        night = self.store.current(chat.id)
        if night is None:
            await reply(message, _("No movie night is open here."))
            return
        if not await self._may_manage(context.bot, update, night):
            await reply(
                message,
                _(
                    "Sorry, only {name} (who opened this movie night) or a chat admin can "
                    "close it.",
                    name=esc(night.opener_name),
                ),
            )
            return
        async with self.lifecycle.night_lock(
            night.id
        ):  # waits for a /vote that is sending the poll
            night = self.store.night(night.id)
            called_off = night.state == NightState.GATHERING and self.store.cancel(night.id)
        if called_off:
            await reply(message, _("Movie night called off (no poll was running)."))
        elif night.state == NightState.VOTING:
            await self.lifecycle.close_safely(context.bot, night.id, _)
        else:
            await reply(message, _("This movie night is already closing."))

    # -- titles ----------------------------------------------------------------------
    async def _add_titles(
        self,
        bot: Bot,
        message: Message,
        night: Night,
        user: User,
        titles: list[str],
        kind: EntryKind,
        _: Translator,
        intro: str = "",
    ) -> None:
        """Resolve ``titles`` and add them as seeds or exclusions; one summary reply (in the
        language of ``_``, the sender's)."""
        notes = [intro + "\n"] if intro else []
        if kind == EntryKind.SEED:
            limit = self.settings.max_seeds
            room = max(0, limit - len(self.store.seeds(night.id)))
            if room == 0:
                full = _("The list is full ({limit} titles). /night_vote!", limit=limit)
                await reply(message, "\n".join([*notes, full]))
                return
            if len(titles) > room:
                notes.append(
                    _(
                        "A movie night takes at most {limit} titles; "
                        "I read the first {room} of your {count}.",
                        limit=limit,
                        room=room,
                        count=len(titles),
                    )
                )
                titles = titles[:room]
        else:
            titles = titles[: self.settings.max_seeds]
        app = self.catalogue.app
        results = await asyncio.to_thread(
            lambda: [resolve_title(app, t, translate=_) for t in titles]
        )
        done: defaultdict[TitleOutcome, list[str]] = defaultdict(list)
        questions = []
        for found in results:
            if found.kind == "match" and found.movie_id is not None:
                outcome = self.lists.add(night, found.movie_id, user, kind)
                done[outcome].append(esc(self.catalogue.label(found.movie_id)))
            elif found.kind == "invalid":
                done[TitleOutcome.INVALID].append(esc(found.problem))
            else:
                if found.kind == "none":
                    done[TitleOutcome.NOMATCH].append(quoted(esc(shorten(found.query, 60)), _))
                if found.candidates:  # which one (ambiguous), or "did you mean" (none)
                    questions.append(found)
        lines = outcome_lines(done, kind, _)
        asked = questions[:AMBIGUOUS_PROMPTS]
        if asked:
            lines.append(_("Please pick below what you meant (buttons)."))
        for found in questions[AMBIGUOUS_PROMPTS:]:
            lines.append(
                _(
                    "{title} is unclear: add the year, please.",
                    title=quoted(esc(shorten(found.query, 60)), _),
                )
            )
        await reply(message, "\n".join(notes + lines))
        action = add_button_data(kind, night.id)
        for found in asked:
            await quiet(
                bot.send_message(
                    message.chat_id,
                    question_text(found, _),
                    parse_mode=ParseMode.HTML,
                    reply_markup=choice_keyboard(found.candidates, action=action),
                )
            )

    async def on_poll_answer(self, update: Update, context: BotContext) -> None:
        answer = update.poll_answer
        user = answer.user if answer is not None else None
        if (
            answer is None or user is None
        ):  # a vote on behalf of a chat (anonymous admin): not our polls
            return
        # Off the event loop: the commit's fsync (and a busy file) must not stall other chats.
        night = await asyncio.to_thread(
            self.store.record_vote,
            answer.poll_id,
            user.id,
            person(user),
            answer.option_ids,
            update_id=update.update_id,
        )
        if night is None:
            log.debug("poll answer for unknown or closed poll %s", answer.poll_id)
        elif answer.option_ids:  # everyone who votes counts as joined
            await asyncio.to_thread(
                self.store.join_by_vote, night.id, user.id, person(user), user.language_code
            )

    # -- permissions -------------------------------------------------------------------
    async def _may_manage(self, bot: Bot, update: Update, night: Night) -> bool:
        """The opener (as :func:`~reelpick.bot.scheduling.sender_key` names them), a chat
        admin (an anonymous one too), or a configured bot admin (everyone in a private chat)."""
        if sender_key(update) == night.opener_id:
            return True
        return await sender_manages_chat(bot, update, self.admins)
