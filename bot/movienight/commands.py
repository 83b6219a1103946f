"""Movie-night commands and buttons: /movienight, /suggest, /seen, /veto, /status, /vote,
/close, the title-choice and random-pick buttons, and poll answers.

:class:`MovieNight` is the whole feature: it adds these handlers on top of
:class:`~.lifecycle.NightLifecycle` (ballot, deadlines, closing, restart recovery).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from telegram import Bot, Chat, Message, Update, User
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PollAnswerHandler,
    filters,
)

from ..i18n import N_, Translator, translator_for
from ..permissions import is_chat_admin
from ..resolve import choice_keyboard, question_text, resolve_title
from .buttons import NightButtons, add_button_data
from .buttons import quiet as _quiet
from .lifecycle import CALLBACK_PREFIX
from .members import join_markup
from .store import Night, StoreError
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
HANDLER_GROUP = -1  # after the bot's rate limit (-100), before its own handlers (0)
COMMANDS = [
    ("movienight", N_("Start a movie night: /movienight TITLE; TITLE")),
    ("suggest", N_("Movie night: add a title you like")),
    ("seen", N_("Movie night: leave out a movie someone has seen")),
    ("veto", N_("Movie night: leave out a movie")),
    ("in", N_("Movie night: join (the list learns your taste)")),
    ("out", N_("Movie night: leave")),
    ("status", N_("Movie night: titles, vetoes, deadline")),
    ("vote", N_("Movie night: start the poll (opener or admin)")),
    ("close", N_("Movie night: close the poll now (opener or admin)")),
]
NO_NIGHT = N_("No movie night is open here. Start one with /movienight.")


class MovieNight(NightButtons):
    """The movie-night feature of one bot: handlers, deadlines and restart recovery."""

    # -- wiring ----------------------------------------------------------------------
    def register(self, application: Application) -> None:
        """Add the handlers and schedule restart recovery for when the application starts."""
        self.application = application
        commands = {
            "movienight": self.cmd_movienight,
            "suggest": self.cmd_suggest,
            "seen": self.cmd_seen,
            "veto": self.cmd_veto,
            "in": self.cmd_in,
            "out": self.cmd_out,
            "status": self.cmd_status,
            "vote": self.cmd_vote,
            "close": self.cmd_close,
        }
        for name, callback in commands.items():
            application.add_handler(CommandHandler(name, self._stop_after(callback)), HANDLER_GROUP)
        application.add_handler(
            CallbackQueryHandler(self._stop_after(self.on_button), pattern=f"^{CALLBACK_PREFIX}"),
            HANDLER_GROUP,
        )
        application.add_handler(
            PollAnswerHandler(self._stop_after(self.on_poll_answer)), HANDLER_GROUP
        )
        # Not stopped: other features may want to see people leave too.
        application.add_handler(
            ChatMemberHandler(self.on_left_member, ChatMemberHandler.CHAT_MEMBER), HANDLER_GROUP
        )
        application.add_handler(
            MessageHandler(filters.StatusUpdate.LEFT_CHAT_MEMBER, self.on_left_member),
            HANDLER_GROUP,
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

            async def post_init(application: Application) -> None:
                if previous is not None:
                    await previous(application)
                application.create_task(self.recover(application.bot))

            application.post_init = post_init

    @staticmethod
    def _stop_after(callback: Any) -> Any:
        """Run ``callback``; then stop other handler groups from seeing the same update."""

        async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            try:
                await callback(update, context)
            except ApplicationHandlerStop:
                raise
            except Exception:
                log.exception("movie night handler %s failed", callback.__name__)
                chat = update.effective_chat
                if chat is not None and update.callback_query is None:
                    _ = translator_for(update)
                    await _quiet(
                        context.bot.send_message(
                            chat.id, _("Sorry, something went wrong with the movie night.")
                        )
                    )
            raise ApplicationHandlerStop

        handle.__name__ = getattr(callback, "__name__", "handler")
        return handle

    # -- commands --------------------------------------------------------------------
    async def cmd_movienight(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        argument = command_argument(message)
        rewatch = argument.strip().lower() == "rewatch"  # seen movies may come back tonight
        titles = [] if rewatch else split_titles(argument)
        _ = translator_for(update)
        night = self.store.current(chat.id)
        if night is not None:
            intro = _(
                "A movie night is already open here (opened by {name}). /status shows it.",
                name=esc(night.opener_name),
            )
            if night.state != "gathering" or not titles:
                await self._reply(message, intro)
                return
            markup = None
        else:
            try:
                night = self.store.open_night(
                    chat.id, user.id, person(user), rewatch=rewatch, language=user.language_code
                )
            except StoreError:  # opened by someone else a moment ago
                night = self.store.current(chat.id)
                if night is None:
                    raise
            intro = _(
                "🎬 <b>Movie night!</b> Opened by {name}.\n"
                "Add titles you like with /suggest TITLE (several: separate with ;), "
                "keep movies out with /seen TITLE or /veto TITLE, then the opener or an "
                "admin starts the poll with /vote.",
                name=esc(person(user)),
            )
            intro += "\n" + _(
                "Join with /in or the button below: I'll pick movies for the people who join "
                "from their ratings, with at least one for each of them."
            )
            if rewatch:
                intro += "\n" + _("Rewatch night: movies you have seen may come up.")
            markup = join_markup(_, night.id)
        if titles:
            await self._add_titles(context.bot, message, night, user, titles, "seed", _, intro)
            if markup is not None:
                await _quiet(context.bot.send_message(chat.id, _("Who's in?"), reply_markup=markup))
        else:
            await message.reply_text(fit(intro), parse_mode=ParseMode.HTML, reply_markup=markup)

    async def cmd_suggest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._title_command(
            update, context, "seed", N_("/suggest TITLE (e.g. /suggest Heat)")
        )

    async def cmd_seen(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._title_command(update, context, "seen", N_("/seen TITLE"))

    async def cmd_veto(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._title_command(update, context, "veto", N_("/veto TITLE"))

    async def _title_command(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, kind: str, usage: str
    ) -> None:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        _ = translator_for(update)
        night = await self._gathering_night(message, chat.id, _)
        if night is None:
            return
        titles = split_titles(command_argument(message))
        if not titles:
            await self._reply(message, _("Which movie? Usage: {usage}", usage=esc(_(usage))))
            return
        await self._add_titles(context.bot, message, night, user, titles, kind, _)

    async def _gathering_night(self, message: Message, chat_id: int, _: Translator) -> Night | None:
        night = self.store.current(chat_id)
        if night is None:
            await self._reply(message, _(NO_NIGHT))
            return None
        if night.state != "gathering":
            await self._reply(
                message,
                _(
                    "Voting has already started, so the list is fixed. The poll closes in {time}.",
                    time=minutes_left(night.deadline, _),
                ),
            )
            return None
        return night

    async def cmd_status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, message = update.effective_chat, update.effective_message
        _ = translator_for(update)
        night = self.store.current(chat.id)
        if night is None:
            latest = self.store.latest(chat.id)
            text = _(NO_NIGHT)
            if latest is not None and latest.winner is not None:
                text += "\n" + _(
                    "Last time's pick: {title}.", title=esc(self._label(latest.winner))
                )
            watched = self.store.watched(chat.id)
            if watched:
                text += "\n" + _(
                    "Watched here so far: {count} movie(s).", count=_.number(len(watched))
                )
            await self._reply(message, text)
            return
        await self._reply(message, self.status_text(night, _))

    def status_text(self, night: Night, _: Translator) -> str:
        """What /status shows: state, seeds and exclusions with who added them, deadline."""
        voting = night.state == "voting"
        return status_text(
            night,
            self.store.seeds(night.id),
            self.store.exclusions(night.id),
            len(self.store.watched(night.chat_id)),
            self.store.options(night.id) if voting else [],
            self.store.tally(night.id) if voting else [],
            self.settings.max_seeds,
            self._label,
            _,
        )

    async def cmd_vote(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        _ = translator_for(update)
        night = self.store.current(chat.id)
        if night is None:
            await self._reply(message, _(NO_NIGHT))
            return
        if not await self._may_manage(context.bot, chat, user, night):
            await self._reply(
                message,
                _(
                    "Sorry, only {name} (who opened this movie night) or a chat admin can "
                    "start the poll.",
                    name=esc(night.opener_name),
                ),
            )
            return
        if night.state != "gathering":
            await self._reply(
                message,
                _(
                    "The poll is already running; it closes in {time}.",
                    time=minutes_left(night.deadline, _),
                ),
            )
            return
        if not self.store.seeds(night.id) and not self.store.members(night.id):
            await self._reply(
                message,
                _(
                    "I need some titles first (or people): add movies you like with "
                    "/suggest TITLE, or join with /in, then /vote again."
                ),
            )
            return
        options, notes = await self.ballot_options(night, _)
        if len(options) < 2:
            await self._reply(
                message,
                _(
                    "The recommenders found only {count} candidate(s) after leaving out seen, "
                    "vetoed and watched movies. Add more titles with /suggest TITLE, then /vote "
                    "again.",
                    count=len(options),
                ),
            )
            return
        # The night's lock is held from "voting" until the poll is saved: a /close or a
        # deadline meanwhile waits for the poll instead of closing a night without one.
        async with self.night_lock(night.id):
            try:
                night = self.store.start_voting(night.id, options)
            except StoreError:
                await self._reply(
                    message, _("The poll has just been started (or the night ended).")
                )
                return
            if notes:
                await self._reply(message, "\n".join(notes))
            await self._send_ballot(context.bot, night, _, after=message.message_id)

    async def cmd_close(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        _ = translator_for(update)
        night = self.store.current(chat.id)
        if night is None:
            await self._reply(message, _("No movie night is open here."))
            return
        if not await self._may_manage(context.bot, chat, user, night):
            await self._reply(
                message,
                _(
                    "Sorry, only {name} (who opened this movie night) or a chat admin can "
                    "close it.",
                    name=esc(night.opener_name),
                ),
            )
            return
        async with self.night_lock(night.id):  # waits for a /vote that is sending the poll
            night = self.store.night(night.id)
            called_off = night.state == "gathering" and self.store.cancel(night.id)
        if called_off:
            await self._reply(message, _("Movie night called off (no poll was running)."))
        elif night.state == "voting":
            await self._close_safely(context.bot, night.id, _)
        else:
            await self._reply(message, _("This movie night is already closing."))

    # -- titles ----------------------------------------------------------------------
    async def _add_titles(
        self,
        bot: Bot,
        message: Message,
        night: Night,
        user: User,
        titles: list[str],
        kind: str,
        _: Translator,
        intro: str = "",
    ) -> None:
        """Resolve ``titles`` and add them as seeds or exclusions; one summary reply (in the
        language of ``_``, the sender's)."""
        notes = [intro + "\n"] if intro else []
        if kind == "seed":
            limit = self.settings.max_seeds
            room = max(0, limit - len(self.store.seeds(night.id)))
            if room == 0:
                full = _("The list is full ({limit} titles). /vote!", limit=limit)
                await self._reply(message, "\n".join([*notes, full]))
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
        app = self.app
        results = await asyncio.to_thread(
            lambda: [resolve_title(app, t, translate=_) for t in titles]
        )
        done: dict[str, list[str]] = defaultdict(list)
        questions = []
        for found in results:
            if found.kind == "match":
                outcome = self._add(night, found.movie_id, user, kind)
                done[outcome].append(esc(self._label(found.movie_id)))
            elif found.kind == "invalid":
                done["invalid"].append(esc(found.problem))
            else:
                if found.kind == "none":
                    done["nomatch"].append(quoted(esc(shorten(found.query, 60)), _))
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
        await self._reply(message, "\n".join(notes + lines))
        action = add_button_data(kind, night.id)
        for found in asked:
            await _quiet(
                bot.send_message(
                    message.chat_id,
                    question_text(found, _),
                    parse_mode=ParseMode.HTML,
                    reply_markup=choice_keyboard(found.candidates, action=action),
                )
            )

    async def on_poll_answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        answer = update.poll_answer
        user = answer.user
        if user is None:  # a vote on behalf of a chat (anonymous admin): not our polls
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
    async def _may_manage(self, bot: Bot, chat: Chat, user: User | None, night: Night) -> bool:
        """The opener, a chat admin, or a configured bot admin (everyone in a private chat)."""
        if user is not None and user.id == night.opener_id:
            return True
        return await is_chat_admin(bot, chat, user, self.admins)
