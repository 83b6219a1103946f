"""Group movie nights: gather seed titles, fuse every plugin's suggestions, vote in a native poll.

Commands (in a group; they work in a private chat too)::

    /movienight [TITLE; TITLE; ...]   open a movie night, optionally with seed titles
    /suggest TITLE[; TITLE ...]       add seed titles (buttons when a title is ambiguous)
    /seen TITLE, /veto TITLE          keep a movie out of the poll
    /status                           seeds, exclusions, who added what, when voting closes
    /vote                             (opener or chat admin) album of candidates + poll
    /close                            (opener or chat admin) close the poll now
                                      (before /vote: call the movie night off)

Candidates are every enabled plugin's ``per_seed`` neighbours of every seed, fused by
weighted reciprocal rank fusion (:mod:`reelpick.fusion`) without the seeds, the excluded
movies and what the chat watched before. The poll is native and non-anonymous, so votes
arrive as ``poll_answer`` updates and are stored per user (a retraction empties the vote;
an older update handled late never overrides a newer one). At the close the tally is the
one ``stopPoll`` returns, Telegram's own, which includes votes whose updates have not been
handled yet; the stored votes are the fallback when the poll cannot be stopped. A tie goes
to the option with the best fused score.

Everything lives in :class:`~reelpick.bot.movienight_store.MovieNightStore` (SQLite): a
restarted bot reschedules running deadlines (an overdue one closes at once), sends any
announcement that was decided but not yet confirmed as sent, and counts the votes Telegram
kept while it was down.
"""

from __future__ import annotations

import asyncio
import html
import logging
import random
import re
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telegram import (
    Bot,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    Update,
    User,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    PollAnswerHandler,
)

from reelpick.config import Config, expand
from reelpick.errors import ConfigError
from reelpick.fusion import Fused, check_weights, fuse, ranked_lists

from ..media import PosterSender
from ..resolve import choice_keyboard, question_text, resolve_title
from .store import MovieNightStore, Night, Option, StoreError

if TYPE_CHECKING:
    from reelpick.app import Reelpick

    from ..services import BotServices

log = logging.getLogger(__name__)

TELEGRAM_MAX_OPTIONS = 12  # sendPoll accepts 2-12 options
OPTION_MAX_CHARS = 100
CAPTION_MAX_CHARS = 1024
TITLE_MAX_CHARS = 200  # longer "titles" are cut before searching
AMBIGUOUS_PROMPTS = 3  # button messages per command; more ambiguous titles are only listed
HANDLER_GROUP = -1  # after the bot's rate limit (-100), before its own handlers (0)
COMMANDS = [
    ("movienight", "Start a movie night: /movienight TITLE; TITLE"),
    ("suggest", "Movie night: add a title you like"),
    ("seen", "Movie night: leave out a movie someone has seen"),
    ("veto", "Movie night: leave out a movie"),
    ("status", "Movie night: titles, vetoes, deadline"),
    ("vote", "Movie night: start the poll (opener or admin)"),
    ("close", "Movie night: close the poll now (opener or admin)"),
]
RETRY_SECONDS = 30.0  # a close or announcement that failed on Telegram's side is retried
CALLBACK_PREFIX = "mn:"


@dataclass(frozen=True)
class Settings:
    """The ``[movienight]`` section, checked."""

    max_options: int
    voting_minutes: float
    per_seed: int
    rrf_k: float
    max_seeds: int
    weights: dict[str, float]
    db: Path

    @classmethod
    def from_config(cls, config: Config) -> Settings:
        section = config.section("movienight")

        def where(key: str) -> str:
            return config.where("movienight", key)

        if not 2 <= section["max_options"] <= TELEGRAM_MAX_OPTIONS:
            raise ConfigError(
                f"{where('max_options')}: must be 2-{TELEGRAM_MAX_OPTIONS} (Telegram's poll limit)"
            )
        if section["voting_minutes"] <= 0:
            raise ConfigError(f"{where('voting_minutes')}: must be > 0")
        if section["per_seed"] < 1:
            raise ConfigError(f"{where('per_seed')}: must be >= 1")
        if section["rrf_k"] < 0:
            raise ConfigError(f"{where('rrf_k')}: must be >= 0")
        if section["max_seeds"] < 1:
            raise ConfigError(f"{where('max_seeds')}: must be >= 1")
        try:
            weights = check_weights(section["weights"], where("weights").rsplit(" ", 1)[0])
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        db = section["db"]
        path = expand(db, config.path) if db else config.cache_dir / "movienight.sqlite3"
        return cls(
            max_options=section["max_options"],
            voting_minutes=float(section["voting_minutes"]),
            per_seed=section["per_seed"],
            rrf_k=float(section["rrf_k"]),
            max_seeds=section["max_seeds"],
            weights=weights,
            db=path,
        )


# -- small text helpers -----------------------------------------------------------------
def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending with an ellipsis when cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def split_titles(text: str) -> list[str]:
    """``"Heat; Toy Story\\nAlien"`` -> three titles (empty pieces dropped)."""
    return [t.strip() for t in re.split(r"[;\n]+", text or "") if t.strip()]


def command_argument(message: Message | None) -> str:
    """Whatever follows ``/command`` (or ``/command@bot``) in the message, unsplit."""
    if message is None or not message.text:
        return ""
    parts = message.text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def person(user: User | None) -> str:
    if user is None:
        return "someone"
    return user.full_name or (f"@{user.username}" if user.username else f"user {user.id}")


def esc(text: object) -> str:
    return html.escape(str(text), quote=False)


def minutes_left(deadline: float | None, now: float | None = None) -> str:
    if deadline is None:
        return "soon"
    seconds = max(0.0, deadline - (time.time() if now is None else now))
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def decide(options: Sequence[Option], counts: Sequence[int]) -> tuple[Option | None, list[Option]]:
    """The winner and the options tied with it for the most votes (empty when nobody voted).

    Options are stored in fused-score order, so among tied options the one with the best
    fused score (then the lower position) wins.
    """
    if not options or max(counts, default=0) == 0:
        return None, []
    top = max(counts)
    tied = [o for o in options if counts[o.position] == top]
    tied.sort(key=lambda o: (-o.score, o.position))
    return tied[0], tied


class MovieNight:
    """The movie-night feature of one bot: handlers, deadlines and restart recovery."""

    def __init__(
        self,
        app: Reelpick,
        config: Config,
        store: MovieNightStore | None = None,
        *,
        media: PosterSender | None = None,
        services: BotServices | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._app = app
        self.config = config
        self.settings = Settings.from_config(config)
        self.store = store or MovieNightStore(self.settings.db)
        self.services = services
        self.media = media or (services.sender if services is not None else None)
        admins = services.admins if services is not None else config.section("bot")["admins"]
        self.admins = {int(a) for a in admins}
        self.rng = rng or random.Random()
        self.retry_seconds = RETRY_SECONDS
        self._close_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.application: Application | None = None

    @property
    def app(self) -> Reelpick:
        """The current recommender (``/reload`` swaps it in the bot's services)."""
        return self.services.reelpick if self.services is not None else self._app

    # -- wiring ----------------------------------------------------------------------
    def register(self, application: Application) -> None:
        """Add the handlers and schedule restart recovery for when the application starts."""
        self.application = application
        commands = {
            "movienight": self.cmd_movienight,
            "suggest": self.cmd_suggest,
            "seen": self.cmd_seen,
            "veto": self.cmd_veto,
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
                    await _quiet(
                        context.bot.send_message(
                            chat.id, "Sorry, something went wrong with the movie night."
                        )
                    )
            raise ApplicationHandlerStop

        handle.__name__ = getattr(callback, "__name__", "handler")
        return handle

    # -- commands --------------------------------------------------------------------
    async def cmd_movienight(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        titles = split_titles(command_argument(message))
        night = self.store.current(chat.id)
        if night is not None:
            intro = (
                f"A movie night is already open here (opened by {esc(night.opener_name)}). "
                "/status shows it."
            )
            if night.state != "gathering" or not titles:
                await self._reply(message, intro)
                return
        else:
            try:
                night = self.store.open_night(chat.id, user.id, person(user))
            except StoreError:  # opened by someone else a moment ago
                night = self.store.current(chat.id)
                if night is None:
                    raise
            intro = (
                f"🎬 <b>Movie night!</b> Opened by {esc(person(user))}.\n"
                "Add titles you like with /suggest TITLE (several: separate with ;), "
                "keep movies out with /seen TITLE or /veto TITLE, then the opener or an "
                "admin starts the poll with /vote."
            )
        if titles:
            await self._add_titles(context.bot, message, night, user, titles, "seed", intro)
        else:
            await self._reply(message, intro)

    async def cmd_suggest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._title_command(update, context, "seed", "/suggest TITLE (e.g. /suggest Heat)")

    async def cmd_seen(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._title_command(update, context, "seen", "/seen TITLE")

    async def cmd_veto(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._title_command(update, context, "veto", "/veto TITLE")

    async def _title_command(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, kind: str, usage: str
    ) -> None:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        night = await self._gathering_night(message, chat.id)
        if night is None:
            return
        titles = split_titles(command_argument(message))
        if not titles:
            await self._reply(message, f"Which movie? Usage: {esc(usage)}")
            return
        await self._add_titles(context.bot, message, night, user, titles, kind)

    async def _gathering_night(self, message: Message, chat_id: int) -> Night | None:
        night = self.store.current(chat_id)
        if night is None:
            await self._reply(message, "No movie night is open here. Start one with /movienight.")
            return None
        if night.state != "gathering":
            await self._reply(
                message,
                "Voting has already started, so the list is fixed. "
                f"The poll closes in {minutes_left(night.deadline)}.",
            )
            return None
        return night

    async def cmd_status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, message = update.effective_chat, update.effective_message
        night = self.store.current(chat.id)
        if night is None:
            latest = self.store.latest(chat.id)
            text = "No movie night is open here. Start one with /movienight."
            if latest is not None and latest.winner is not None:
                text += f"\nLast time's pick: {esc(self._label(latest.winner))}."
            watched = self.store.watched(chat.id)
            if watched:
                text += f"\nWatched here so far: {len(watched)} movie(s)."
            await self._reply(message, text)
            return
        await self._reply(message, self.status_text(night))

    def status_text(self, night: Night) -> str:
        """What /status shows: state, seeds and exclusions with who added them, deadline."""
        seeds = self.store.seeds(night.id)
        excluded = self.store.exclusions(night.id)
        state = {
            "gathering": "collecting titles",
            "voting": f"voting, closes in {minutes_left(night.deadline)}",
            "closing": "closing",
        }[night.state]
        lines = [f"🎬 <b>Movie night</b> opened by {esc(night.opener_name)}: {state}."]
        lines.append(f"\n<b>Seeds</b> ({len(seeds)}/{self.settings.max_seeds}):")
        lines += [f"• {esc(self._label(s.movie_id))} ({esc(s.user_name)})" for s in seeds] or [
            "none yet: /suggest TITLE"
        ]
        if excluded:
            lines.append("\n<b>Left out</b>:")
            lines += [
                f"• {esc(self._label(e.movie_id))} ({'seen by' if e.kind == 'seen' else 'vetoed by'}"
                f" {esc(e.user_name)})"
                for e in excluded
            ]
        watched = self.store.watched(night.chat_id)
        if watched:
            lines.append(f"\nWatched here before (left out too): {len(watched)} movie(s).")
        if night.state == "voting":
            options = self.store.options(night.id)
            counts = self.store.tally(night.id)
            lines.append("\n<b>Votes so far</b>:")
            lines += [f"{esc(o.text)}: {counts[o.position]}" for o in options]
        elif night.state == "gathering":
            lines.append(f"\n{esc(night.opener_name)} or an admin starts the poll with /vote.")
        return _fit("\n".join(lines), 4096)

    async def cmd_vote(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        night = self.store.current(chat.id)
        if night is None:
            await self._reply(message, "No movie night is open here. Start one with /movienight.")
            return
        if not await self._may_manage(context.bot, chat, user, night):
            await self._refuse(message, night, "start the poll")
            return
        if night.state != "gathering":
            await self._reply(
                message,
                f"The poll is already running; it closes in {minutes_left(night.deadline)}.",
            )
            return
        seeds = [s.movie_id for s in self.store.seeds(night.id)]
        if not seeds:
            await self._reply(
                message,
                "I need some titles first: add movies you like with /suggest TITLE, "
                "then /vote again.",
            )
            return
        exclude = {e.movie_id for e in self.store.exclusions(night.id)}
        exclude |= set(self.store.watched(chat.id))
        fused = await self.candidates(seeds, exclude)
        if len(fused) < 2:
            await self._reply(
                message,
                f"The recommenders found only {len(fused)} candidate(s) for these titles "
                "after leaving out seen, vetoed and watched movies. Add more titles with "
                "/suggest TITLE, then /vote again.",
            )
            return
        options = [
            (f.movie_id, f.score, shorten(f"{i}. {self._label(f.movie_id)}", OPTION_MAX_CHARS))
            for i, f in enumerate(fused, 1)
        ]
        try:
            night = self.store.start_voting(night.id, options)
        except StoreError:
            await self._reply(message, "The poll has just been started.")
            return
        await self._send_ballot(context.bot, night)

    async def candidates(self, seeds: Sequence[int], exclude: set[int]) -> list[Fused]:
        """Every enabled plugin's neighbours of every seed, fused (see :mod:`reelpick.fusion`)."""
        registry = self.app.registry
        weights = self.settings.weights
        names = [
            n for n in registry.enabled() if registry.plugins[n].fitted and weights.get(n, 1.0) > 0
        ]
        k = self.settings.per_seed
        if self.services is not None:  # in threads, within the bot's per-plugin time budget
            calls = [self.services.ask(n, seed, k) for seed in seeds for n in names]
        else:
            calls = [asyncio.to_thread(registry.ask, n, seed, k) for seed in seeds for n in names]
        answers = await asyncio.gather(*calls)
        lists = []
        for i, seed in enumerate(seeds):
            lists += ranked_lists(seed, answers[i * len(names) : (i + 1) * len(names)])
        return fuse(
            lists,
            weights=self.settings.weights,
            rrf_k=self.settings.rrf_k,
            exclude=exclude,
            limit=self.settings.max_options,
        )

    async def cmd_close(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        night = self.store.current(chat.id)
        if night is None:
            await self._reply(message, "No movie night is open here.")
            return
        if not await self._may_manage(context.bot, chat, user, night):
            await self._refuse(message, night, "close it")
            return
        if night.state == "gathering":
            self.store.cancel(night.id)
            await self._reply(message, "Movie night called off (no poll was running).")
            return
        await self._close_safely(context.bot, night.id)

    # -- titles ----------------------------------------------------------------------
    async def _add_titles(
        self,
        bot: Bot,
        message: Message,
        night: Night,
        user: User,
        titles: list[str],
        kind: str,
        intro: str = "",
    ) -> None:
        """Resolve ``titles`` and add them as seeds or exclusions; one summary reply."""
        notes = [intro + "\n"] if intro else []
        if kind == "seed":
            limit = self.settings.max_seeds
            room = max(0, limit - len(self.store.seeds(night.id)))
            if room == 0:
                await self._reply(
                    message, "\n".join([*notes, f"The list is full ({limit} titles). /vote!"])
                )
                return
            if len(titles) > room:
                notes.append(
                    f"A movie night takes at most {limit} titles; "
                    f"I read the first {room} of your {len(titles)}."
                )
                titles = titles[:room]
        else:
            titles = titles[: self.settings.max_seeds]
        app = self.app
        results = await asyncio.to_thread(lambda: [resolve_title(app, t) for t in titles])
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
                    done["nomatch"].append(f"“{esc(shorten(found.query, 60))}”")
                if found.candidates:  # which one (ambiguous), or "did you mean" (none)
                    questions.append(found)
        lines = _outcome_lines(done, kind)
        asked = questions[:AMBIGUOUS_PROMPTS]
        if asked:
            lines.append("Please pick below what you meant (buttons).")
        for found in questions[AMBIGUOUS_PROMPTS:]:
            lines.append(f"“{esc(shorten(found.query, 60))}” is unclear: add the year, please.")
        await self._reply(message, "\n".join(notes + lines))
        action = f"{CALLBACK_PREFIX}a:{_KIND_CODE[kind]}:{night.id}"
        for found in asked:
            await _quiet(
                bot.send_message(
                    message.chat_id,
                    question_text(found),
                    parse_mode=ParseMode.HTML,
                    reply_markup=choice_keyboard(found.candidates, action=action),
                )
            )

    def _add(self, night: Night, movie_id: int, user: User, kind: str) -> str:
        try:
            if kind == "seed":
                return self.store.add_seed(
                    night.id, movie_id, user.id, person(user), self.settings.max_seeds
                )
            return self.store.add_exclusion(night.id, movie_id, kind, user.id, person(user))
        except StoreError:
            return "closed"

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        parts = (query.data or "").split(":")
        try:
            if parts[1] == "a" and len(parts) == 5:
                await self._button_add(query, parts[2], int(parts[3]), int(parts[4]))
            elif parts[1] == "r" and len(parts) == 3:
                await self._button_random(context.bot, query, int(parts[2]))
            else:
                raise ValueError(query.data)
        except (ValueError, IndexError):
            await _quiet(query.answer("This button is no longer valid."))

    async def _button_add(self, query: Any, code: str, night_id: int, movie_id: int) -> None:
        kind = {v: k for k, v in _KIND_CODE.items()}[code]
        night = self.store.current(query.message.chat.id) if query.message else None
        if night is None or night.id != night_id or night.state != "gathering":
            await _quiet(query.answer("That movie night's list is closed."))
            return
        outcome = self._add(night, movie_id, query.from_user, kind)
        label = esc(self._label(movie_id))
        lines = _outcome_lines({outcome: [label]}, kind)
        await _quiet(query.answer(_strip_tags(lines[0]) if lines else "OK"))
        await _quiet(
            query.edit_message_text(
                f"{lines[0] if lines else label} ({esc(person(query.from_user))})",
                parse_mode=ParseMode.HTML,
            )
        )

    async def _button_random(self, bot: Bot, query: Any, night_id: int) -> None:
        try:
            night = self.store.night(night_id)
        except StoreError:
            await _quiet(query.answer("This button is no longer valid."))
            return
        top = self.store.options(night_id)[:3]
        if night.state != "novotes" or not top:
            await _quiet(query.answer("A movie was already picked."))
            return
        choice = self.rng.choice(top)
        try:
            picked = self.store.claim_random_pick(night_id, choice.movie_id)
        except StoreError as exc:
            await _quiet(query.answer(str(exc)[:200]))
            return
        if picked is None:
            await _quiet(query.answer("A movie was already picked."))
            return
        await _quiet(query.answer(f"Picked: {shorten(self._label(choice.movie_id), 150)}"))
        await _quiet(
            query.edit_message_text(
                f"Nobody voted, so {esc(person(query.from_user))} asked for a random pick "
                "among the top 3.",
                parse_mode=ParseMode.HTML,
            )
        )
        await self._close_safely(bot, night_id)

    # -- voting ----------------------------------------------------------------------
    async def _send_ballot(self, bot: Bot, night: Night) -> None:
        """The album of candidates, then the poll; remember the poll and schedule its deadline."""
        options = self.store.options(night.id)
        captions = [
            shorten(f"{o.position + 1}. {self._label(o.movie_id)}", CAPTION_MAX_CHARS)
            for o in options
        ]
        try:
            await self._send_album(bot, night.chat_id, [o.movie_id for o in options], captions)
        except TelegramError as exc:  # the poll matters more than the pictures
            log.warning("movie night %s: candidate album failed: %s", night.id, exc)
        minutes = self.settings.voting_minutes
        question = f"🎬 Movie night: what do we watch? Voting closes in {_duration(minutes)}."
        sent = await bot.send_poll(
            night.chat_id,
            question,
            [o.text for o in options],
            is_anonymous=False,
            allows_multiple_answers=False,
        )
        deadline = time.time() + minutes * 60
        self.store.set_poll(night.id, sent.poll.id, sent.message_id, deadline)
        self.schedule(night.id, deadline)

    async def on_poll_answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        answer = update.poll_answer
        user = answer.user
        if user is None:  # a vote on behalf of a chat (anonymous admin): not our polls
            return
        night = self.store.record_vote(
            answer.poll_id, user.id, person(user), answer.option_ids, update_id=update.update_id
        )
        if night is None:
            log.debug("poll answer for unknown or closed poll %s", answer.poll_id)

    # -- deadlines and closing ---------------------------------------------------------
    def schedule(self, night_id: int, deadline: float, *, retry: bool = False) -> None:
        """Close night ``night_id`` at ``deadline`` (unix time; past means at once)."""
        delay = max(0.0, deadline - time.time())
        name = f"movienight-{night_id}" + ("-retry" if retry else "")
        application = self.application
        if application is not None and application.job_queue is not None:
            for job in application.job_queue.get_jobs_by_name(name):
                job.schedule_removal()
            application.job_queue.run_once(
                self._deadline_job,
                when=delay,
                data=night_id,
                name=name,
                job_kwargs={"misfire_grace_time": None},
            )
        elif application is not None:

            async def later() -> None:
                await asyncio.sleep(delay)
                await self._close_safely(application.bot, night_id)

            application.create_task(later(), name=name)
        else:
            raise RuntimeError("MovieNight.register(application) was not called")

    async def _deadline_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._close_safely(context.bot, context.job.data)

    async def _close_safely(self, bot: Bot, night_id: int) -> None:
        """:meth:`close_night`, retried later while Telegram is unreachable."""
        try:
            await self.close_night(bot, night_id)
        except TelegramError as exc:
            if _transient(exc):
                log.warning("movie night %s: closing failed (%s); retrying", night_id, exc)
                self.schedule(night_id, time.time() + self.retry_seconds, retry=True)
                return
            # Refused for good (bot removed from the chat, chat gone): retrying cannot help.
            log.error("movie night %s: Telegram refused to close it: %s", night_id, exc)
            night = self.store.night(night_id)
            if night.state in ("closing", "novotes"):
                self.store.mark_announced(night_id, None, night.state)

    async def _recover_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.recover(context.bot)

    async def recover(self, bot: Bot) -> None:
        """After a (re)start: pick up every night the store says is unfinished."""
        for night in self.store.unfinished():
            log.info(
                "movie night %s in chat %s: resuming (%s)", night.id, night.chat_id, night.state
            )
            try:
                if night.state == "voting" and night.poll_id is None:
                    await self._send_ballot(bot, night)  # stopped between /vote and the poll
                elif night.state == "voting":
                    self.schedule(night.id, night.deadline or 0)
                else:
                    await self._close_safely(bot, night.id)
            except Exception:
                log.exception("movie night %s: recovery failed", night.id)

    async def close_night(self, bot: Bot, night_id: int) -> None:
        """Stop the poll, decide and record the winner, announce it. Safe to call repeatedly.

        Raises TelegramError when Telegram could not be reached (the caller retries).
        """
        async with self._close_locks[night_id]:
            night = self.store.night(night_id)
            if night.state == "voting":
                options = self.store.options(night_id)
                counts = self.store.tally(night_id)
                if night.poll_message_id is not None:
                    counts = await self._stop_poll(bot, night, counts)
                winner, tied = decide(options, counts)
                claimed = self.store.claim_close(
                    night_id,
                    counts,
                    winner.movie_id if winner else None,
                    tie_broken=len(tied) > 1,
                )
                if claimed is None:
                    return
                night = claimed
            if night.announced:
                return
            if night.state == "closing":
                await self._announce_winner(bot, night)
            elif night.state == "novotes":
                await self._announce_no_votes(bot, night)

    async def _stop_poll(self, bot: Bot, night: Night, counts: list[int]) -> list[int]:
        """Stop the poll; Telegram's final counts win over ours (they include votes whose
        updates we have not seen yet, e.g. cast while the bot was down)."""
        try:
            poll = await bot.stop_poll(night.chat_id, night.poll_message_id)
        except BadRequest as exc:  # already closed (by us, before a restart) or deleted
            log.info("movie night %s: stopPoll: %s; using stored votes", night.id, exc)
            return counts
        final = [o.voter_count for o in poll.options]
        if len(final) != len(counts):
            return counts
        if final != counts:
            log.info("movie night %s: Telegram's tally %s, ours %s", night.id, final, counts)
        return final

    async def _announce_winner(self, bot: Bot, night: Night) -> None:
        options = self.store.options(night.id)
        counts = list(night.tally or [0] * len(options))
        winner = next(o for o in options if o.movie_id == night.winner)
        _, tied = decide(options, counts)
        caption = None
        for width in (OPTION_MAX_CHARS, 60, 40, 25):
            caption = self.winner_text(night, options, counts, winner, tied, width)
            if len(_strip_tags(caption)) <= CAPTION_MAX_CHARS:
                break
        sent = await self._send_poster(bot, night.chat_id, winner.movie_id, caption)
        self.store.mark_announced(night.id, sent.message_id if sent else None, "closing")

    def winner_text(
        self,
        night: Night,
        options: Sequence[Option],
        counts: Sequence[int],
        winner: Option,
        tied: Sequence[Option],
        width: int = OPTION_MAX_CHARS,
    ) -> str:
        """The announcement: winner, tie note, votes per option (HTML)."""
        label = esc(self._label(winner.movie_id))
        if night.random_pick:
            lines = [f"🎲 Tonight's movie (random pick among the top 3): <b>{label}</b>"]
        else:
            votes = counts[winner.position]
            lines = [f"🏆 Tonight's movie: <b>{label}</b> with {_votes(votes)}"]
        if len(tied) > 1 and not night.random_pick:
            names = ", ".join(esc(shorten(self._label(o.movie_id), 40)) for o in tied)
            lines.append(
                f"It was a tie between {names} ({_votes(counts[winner.position])} each); "
                "broken by the recommenders' fused score."
            )
        lines.append("\nVotes:")
        for o in options:
            text = esc(shorten(o.text, width))
            line = f"{text}: {counts[o.position] if o.position < len(counts) else 0}"
            lines.append(f"<b>{line}</b>" if o.movie_id == winner.movie_id else line)
        lines.append("\nAdded to this chat's watched list.")
        return "\n".join(lines)

    async def _announce_no_votes(self, bot: Bot, night: Night) -> None:
        top = self.store.options(night.id)[:3]
        lines = ["🗳 Nobody voted, so there is no winner this time."]
        lines.append("Top 3 by the recommenders:")
        lines += [esc(o.text) for o in top]
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        "🎲 Random pick from the top 3",
                        callback_data=f"{CALLBACK_PREFIX}r:{night.id}",
                    )
                ]
            ]
        )
        sent = await bot.send_message(
            night.chat_id, "\n".join(lines), parse_mode=ParseMode.HTML, reply_markup=markup
        )
        self.store.mark_announced(night.id, sent.message_id, "novotes")

    # -- permissions -------------------------------------------------------------------
    async def _may_manage(self, bot: Bot, chat: Chat, user: User | None, night: Night) -> bool:
        """The opener, a chat admin, or a configured bot admin (everyone in a private chat)."""
        if user is None:
            return False
        if user.id == night.opener_id or user.id in self.admins or chat.type == Chat.PRIVATE:
            return True
        try:
            member = await bot.get_chat_member(chat.id, user.id)
        except TelegramError as exc:
            log.warning("getChatMember failed in chat %s: %s", chat.id, exc)
            return False
        return member.status in ("administrator", "creator")

    async def _refuse(self, message: Message, night: Night, action: str) -> None:
        await self._reply(
            message,
            f"Sorry, only {esc(night.opener_name)} (who opened this movie night) or a chat "
            f"admin can {action}.",
        )

    # -- sending -------------------------------------------------------------------------
    async def _reply(self, message: Message, text: str) -> Message | None:
        return await message.reply_text(_fit(text, 4096), parse_mode=ParseMode.HTML)

    def _label(self, movie_id: int) -> str:
        try:
            return self.app.dataset.label(movie_id)
        except KeyError:
            return f"movie {movie_id}"

    async def _send_album(
        self, bot: Bot, chat_id: int, movie_ids: list[int], captions: list[str]
    ) -> None:
        """The candidates' posters, one numbered caption each, as albums of 2-10 photos.

        Like :meth:`PosterSender.send` (file_ids reused and remembered), but every photo
        carries its own caption, so every full title is shown however long it is.
        """
        if self.media is None:
            return
        posters = await self.media.load(movie_ids)
        items = list(zip(posters, captions, strict=True))
        for chunk in _chunks(items):
            known = [self.media.file_id(bot, p) for p, _ in chunk]
            try:
                messages = await self._send_chunk(bot, chat_id, chunk, known)
            except BadRequest as exc:
                if not any(known) or "file identifier" not in str(exc).lower():
                    raise
                known = [None] * len(chunk)  # stale file ids: upload the bytes instead
                messages = await self._send_chunk(bot, chat_id, chunk, known)
            for (poster, _), file_id, sent in zip(chunk, known, messages, strict=False):
                if file_id is None and sent.photo:
                    self.media.remember(bot, poster, sent.photo[-1].file_id)

    @staticmethod
    async def _send_chunk(
        bot: Bot, chat_id: int, chunk: list, known: list[str | None]
    ) -> Sequence[Message]:
        if len(chunk) == 1:
            (poster, caption), file_id = chunk[0], known[0]
            return [await bot.send_photo(chat_id, file_id or poster.data, caption=caption)]
        media = [
            InputMediaPhoto(file_id or poster.data, caption=caption)
            for (poster, caption), file_id in zip(chunk, known, strict=True)
        ]
        return await bot.send_media_group(chat_id, media)

    async def _send_poster(self, bot: Bot, chat_id: int, movie_id: int, caption: str) -> Message:
        """The winner's poster with ``caption`` (HTML); a text message when the photo fails."""
        if self.media is not None:
            try:
                return (await self.media.send(bot, chat_id, [movie_id], caption))[0]
            except Exception as exc:
                if _transient(exc):
                    raise
                log.exception("winner poster for movie %s failed; sending text", movie_id)
        return await bot.send_message(chat_id, _fit(caption, 4096), parse_mode=ParseMode.HTML)


_KIND_CODE = {"seed": "s", "seen": "w", "veto": "v"}


def _outcome_lines(done: dict[str, list[str]], kind: str) -> list[str]:
    verb = {"seed": "Added", "seen": "Marked as seen", "veto": "Vetoed"}[kind]
    lines = []
    if done.get("added"):
        lines.append(f"{verb}: {', '.join(done['added'])}.")
    if done.get("duplicate"):
        lines.append(f"Already on the list: {', '.join(done['duplicate'])}.")
    if done.get("excluded"):
        lines.append(f"Left out by a /seen or /veto, so not added: {', '.join(done['excluded'])}.")
    if done.get("seed"):
        lines.append(f"Suggested as a seed, so it stays: {', '.join(done['seed'])}.")
    if done.get("full"):
        lines.append(f"The list is full, not added: {', '.join(done['full'])}.")
    if done.get("closed"):
        lines.append("Voting has started, so the list is fixed.")
    if done.get("nomatch"):
        lines.append(f"No movie matches {', '.join(done['nomatch'])}.")
    lines += done.get("invalid", [])
    return lines


def _chunks(items: list) -> list[list]:
    """Albums of at most 10, never a lone photo after an album (11 -> 6 + 5)."""
    if not items:
        return []
    n = -(-len(items) // 10)
    size = -(-len(items) // n)
    return [items[i : i + size] for i in range(0, len(items), size)]


def _votes(n: int) -> str:
    return f"{n} vote" if n == 1 else f"{n} votes"


def _duration(minutes: float) -> str:
    return f"{max(1, round(minutes * 60))} s" if minutes < 1 else f"{minutes:g} min"


_TAGS = re.compile(r"<[^>]+>")


def _strip_tags(text: str) -> str:
    return html.unescape(_TAGS.sub("", text))


def _fit(text: str, limit: int) -> str:
    """Cut an HTML text to ``limit`` visible characters at a line boundary."""
    if len(_strip_tags(text)) <= limit:
        return text
    lines = text.split("\n")
    while lines and len(_strip_tags("\n".join(lines + ["…"]))) > limit:
        lines.pop()
    return "\n".join(lines + ["…"])


def _transient(exc: BaseException) -> bool:
    """A Telegram failure worth retrying: timeouts, flood waits, 5xx and network errors."""
    if isinstance(exc, RetryAfter | TimedOut):
        return True
    return isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)


async def _quiet(awaitable: Any) -> Any:
    """Await a Telegram call whose failure must not stop the caller (logged)."""
    try:
        return await awaitable
    except (BadRequest, Forbidden) as exc:
        log.info("telegram refused: %s", exc)
    except TelegramError as exc:
        log.warning("telegram call failed: %s", exc)
    return None


def register_movienight(
    application: Application,
    app: Reelpick,
    config: Config,
    *,
    media: PosterSender | None = None,
    services: BotServices | None = None,
    store: MovieNightStore | None = None,
    **_: Any,
) -> MovieNight:
    """Add movie nights to a bot's ``application`` (called by ``build_application``)."""
    feature = MovieNight(app, config, store, media=media, services=services)
    feature.register(application)
    application.bot_data["movienight"] = feature
    if services is not None:
        services.commands.extend(COMMANDS)
    return feature
