"""A movie night's life from /vote on: the ballot, the deadline, the close, the announcement,
and picking up unfinished nights after a restart.

:class:`NightLifecycle` does everything that happens without a command; the command and
button handlers call it to send the ballot and to close a night.

What goes to the whole group is worded in the language of whoever set it off (the /vote or
/close caller, the random-pick button's presser: their translator is passed down as ``_``);
without one (a deadline, a restart) in the language stored with the night, its opener's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import cast

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut

from reelpick.settings import MovieNightSettings

from ..context import BotApplication, BotContext
from ..i18n import Translator, translator
from ..media import PosterSender, strip_tags
from .aftercare import Aftercare
from .callbacks import random_button_data
from .catalogue import Catalogue
from .schema import Night, NightState, Option, StoreError
from .store import MovieNightStore
from .streaming import Streaming
from .texts import (
    CAPTION_MAX_CHARS,
    OPTION_MAX_CHARS,
    duration,
    esc,
    fit,
    shorten,
    winner_text,
)

log = logging.getLogger(__name__)

ORPHAN_PROBE = 30  # message ids after the anchor where an unsaved poll may be (see _recover_poll)
RETRY_SECONDS = 30.0  # a close or announcement that failed on Telegram's side is retried


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


class NightLifecycle:
    """Ballots, deadlines, closing, announcements and restart recovery of every chat's nights."""

    def __init__(
        self,
        application: BotApplication,
        store: MovieNightStore,
        settings: MovieNightSettings,
        sender: PosterSender,
        catalogue: Catalogue,
        aftercare: Aftercare,
    ) -> None:
        self.application = application
        self.store = store
        self.settings = settings
        self.sender = sender
        self.catalogue = catalogue
        self.aftercare = aftercare
        self.retry_seconds = RETRY_SECONDS
        self._night_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    def night_lock(self, night_id: int) -> asyncio.Lock:
        """One lock per night: starting the poll and closing the night never overlap."""
        return self._night_locks[night_id]

    # -- voting ----------------------------------------------------------------------
    async def send_ballot(
        self, bot: Bot, night: Night, _: Translator | None = None, *, after: int | None = None
    ) -> None:
        """The album of candidates, then the poll; remember the poll and schedule its deadline.
        Worded with ``_`` (default: the night's language).

        Call with :meth:`night_lock` held. Exactly one poll per night: the intent to send it
        is committed first (with the album's last message id as an anchor), so a bot killed
        between sendPoll and saving the poll finds it after a restart (:meth:`_recover_poll`)
        rather than sending a second one; a poll that cannot be saved is stopped at once.
        Without an album (it failed) the anchor is ``after``, a message known to come before
        the poll (the /vote command), or the night's earlier anchor (a recovery).
        """
        _ = _ or translator(night.language)
        options = self.store.options(night.id)
        captions = [
            shorten(
                f"{o.position + 1}. {self.catalogue.label(o.movie_id)}"
                + (f" — {o.note}" if o.note else ""),
                CAPTION_MAX_CHARS,
            )
            for o in options
        ]
        anchor = None
        try:
            album = await self._send_album(
                bot, night.chat_id, [o.movie_id for o in options], captions
            )
            anchor = max((m.message_id for m in album or []), default=None)
        except TelegramError as exc:  # the poll matters more than the pictures
            log.warning("movie night %s: candidate album failed: %s", night.id, exc)
        if anchor is None:  # message ids grow per chat: any earlier message anchors the probe
            anchor = after if after is not None else night.poll_anchor_id
        minutes = self.settings.voting_minutes
        question = _(
            "🎬 Movie night: what do we watch? Voting closes in {duration}.",
            duration=duration(minutes, _),
        )
        self.store.record_poll_intent(night.id, anchor)
        sent = await bot.send_poll(
            night.chat_id,
            question,
            [o.text for o in options],
            is_anonymous=False,
            allows_multiple_answers=False,
        )
        deadline = time.time() + minutes * 60
        assert sent.poll is not None  # sendPoll answers with the poll's message
        try:
            self.store.set_poll(night.id, sent.poll.id, sent.message_id, deadline)
        except StoreError as exc:  # the night ended meanwhile: the poll must not stay open
            log.warning("movie night %s: poll not saved (%s); stopping it", night.id, exc)
            try:
                await bot.stop_poll(night.chat_id, sent.message_id)
            except TelegramError as stop_error:
                log.error("movie night %s: could not stop the poll: %s", night.id, stop_error)
            return
        self.schedule(night.id, deadline)

    async def _recover_poll(self, bot: Bot, night: Night) -> None:
        """A night in ``voting`` without a saved poll, after a restart: send it exactly once.

        No intent recorded: the bot stopped before sendPoll, so the ballot goes out now.
        Intent recorded: the poll may be in the chat already. The bot's own poll messages
        are the only ones stopPoll accepts, so the few message ids after the anchor are
        tried; the orphan found is stopped and its votes (Telegram's count) decide the
        night. Only when none is found is the ballot sent.
        """
        if night.poll_intent_at is not None and night.poll_anchor_id is not None:
            for message_id in range(night.poll_anchor_id + 1, night.poll_anchor_id + ORPHAN_PROBE):
                try:
                    poll = await bot.stop_poll(night.chat_id, message_id)
                except BadRequest:
                    continue  # not a poll of ours (a member's message, or none)
                counts = [o.voter_count for o in poll.options]
                log.warning(
                    "movie night %s: found the poll sent before the restart (message %s); "
                    "stopped it and closing the night with its %s vote(s)",
                    night.id,
                    message_id,
                    sum(counts),
                )
                self.store.set_poll(night.id, poll.id, message_id, time.time())
                await self.close_night(bot, night.id, final_counts=counts)
                return
            log.info("movie night %s: no poll found after the restart; sending it", night.id)
            self.store.clear_poll_intent(night.id)
        await self.send_ballot(bot, night)

    # -- deadlines and closing ---------------------------------------------------------
    def schedule(self, night_id: int, deadline: float, *, retry: bool = False) -> None:
        """Close night ``night_id`` at ``deadline`` (unix time; past means at once)."""
        delay = max(0.0, deadline - time.time())
        name = f"movienight-{night_id}" + ("-retry" if retry else "")
        application = self.application
        job_queue = application.job_queue
        if job_queue is not None:
            for job in job_queue.get_jobs_by_name(name):
                job.schedule_removal()
            job_queue.run_once(
                self._deadline_job,
                when=delay,
                data=night_id,
                name=name,
                job_kwargs={"misfire_grace_time": None},
            )
        else:

            async def later() -> None:
                await asyncio.sleep(delay)
                await self.close_safely(application.bot, night_id)

            application.create_task(later(), name=name)

    async def _deadline_job(self, context: BotContext) -> None:
        assert context.job is not None
        await self.close_safely(context.bot, cast(int, context.job.data))

    async def close_safely(self, bot: Bot, night_id: int, _: Translator | None = None) -> None:
        """:meth:`close_night`, retried later while Telegram is unreachable (a retry speaks
        the night's language)."""
        try:
            await self.close_night(bot, night_id, _=_)
        except TelegramError as exc:
            if _transient(exc):
                log.warning("movie night %s: closing failed (%s); retrying", night_id, exc)
                self.schedule(night_id, time.time() + self.retry_seconds, retry=True)
                return
            # Refused for good (bot removed from the chat, chat gone): retrying cannot help.
            log.error("movie night %s: Telegram refused to close it: %s", night_id, exc)
            night = self.store.night(night_id)
            if night.state in (NightState.CLOSING, NightState.NOVOTES):
                self.store.mark_announced(night_id, None, night.state)

    async def recover(self, bot: Bot) -> None:
        """After a (re)start: pick up every night the store says is unfinished."""
        for night in self.store.unfinished():
            log.info(
                "movie night %s in chat %s: resuming (%s)", night.id, night.chat_id, night.state
            )
            try:
                if night.state == NightState.VOTING and night.poll_id is None:
                    async with self.night_lock(night.id):  # stopped between /vote and the poll
                        await self._recover_poll(bot, self.store.night(night.id))
                elif night.state == NightState.VOTING:
                    self.schedule(night.id, night.deadline or 0)
                else:
                    await self.close_safely(bot, night.id)
            except Exception:
                log.exception("movie night %s: recovery failed", night.id)
        try:
            await self.aftercare.recover(bot)
        except Exception:
            log.exception("movie nights: recovering the next-day questions failed")

    async def close_night(
        self,
        bot: Bot,
        night_id: int,
        *,
        final_counts: list[int] | None = None,
        _: Translator | None = None,
    ) -> None:
        """Stop the poll, decide and record the winner, announce it. Safe to call repeatedly.

        ``final_counts``: the poll was stopped already and these are Telegram's counts.
        ``_``: the announcement's language (default: the night's).
        Raises TelegramError when Telegram could not be reached (the caller retries).
        """
        # With final_counts the caller (restart recovery) holds the night's lock already.
        lock = self.night_lock(night_id)
        async with contextlib.nullcontext() if final_counts is not None else lock:
            night = self.store.night(night_id)
            if night.state == NightState.VOTING:
                options = self.store.options(night_id)
                counts = self.store.tally(night_id)
                if final_counts is not None and len(final_counts) == len(counts):
                    counts = final_counts
                elif night.poll_message_id is not None:
                    counts = await self._stop_poll(bot, night, night.poll_message_id, counts)
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
            _ = _ or translator(night.language)
            if night.state == NightState.CLOSING:
                await self._announce_winner(bot, night, _)
                await self.aftercare.after_night(bot, night_id)
            elif night.state == NightState.NOVOTES:
                await self._announce_no_votes(bot, night, _)

    async def _stop_poll(
        self, bot: Bot, night: Night, message_id: int, counts: list[int]
    ) -> list[int]:
        """Stop the poll in ``message_id``; Telegram's final counts win over ours (they include
        votes whose updates we have not seen yet, e.g. cast while the bot was down)."""
        try:
            poll = await bot.stop_poll(night.chat_id, message_id)
        except BadRequest as exc:  # already closed (by us, before a restart) or deleted
            log.info("movie night %s: stopPoll: %s; using stored votes", night.id, exc)
            return counts
        final = [o.voter_count for o in poll.options]
        if len(final) != len(counts):
            return counts
        if final != counts:
            log.info("movie night %s: Telegram's tally %s, ours %s", night.id, final, counts)
        return final

    async def _announce_winner(self, bot: Bot, night: Night, _: Translator) -> None:
        options = self.store.options(night.id)
        counts = list(night.tally or [0] * len(options))
        winner = next(o for o in options if o.movie_id == night.winner)
        _best, tied = decide(options, counts)
        streaming = Streaming(self.catalogue.services)
        where = await asyncio.to_thread(streaming.winner_line, night.chat_id, winner.movie_id, _)
        caption = ""
        for width in (OPTION_MAX_CHARS, 60, 40, 25):
            caption = winner_text(
                night, options, counts, winner, tied, self.catalogue.label, _, width
            )
            caption += "\n" + where if where else ""
            if len(strip_tags(caption)) <= CAPTION_MAX_CHARS:
                break
        sent = await self._send_poster(bot, night.chat_id, winner.movie_id, caption)
        self.store.mark_announced(night.id, sent.message_id if sent else None, NightState.CLOSING)

    async def _announce_no_votes(self, bot: Bot, night: Night, _: Translator) -> None:
        top = self.store.options(night.id)[:3]
        lines = [_("🗳 Nobody voted, so there is no winner this time.")]
        lines.append(_("Top 3 by the recommenders:"))
        lines += [esc(o.text) for o in top]
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("🎲 Random pick from the top 3"),
                        callback_data=random_button_data(night.id),
                    )
                ]
            ]
        )
        sent = await bot.send_message(
            night.chat_id, "\n".join(lines), parse_mode=ParseMode.HTML, reply_markup=markup
        )
        self.store.mark_announced(night.id, sent.message_id, NightState.NOVOTES)

    # -- sending -------------------------------------------------------------------------
    async def _send_album(
        self, bot: Bot, chat_id: int, movie_ids: list[int], captions: list[str]
    ) -> list[Message]:
        """The candidates' posters, one numbered caption each, as albums of 2-10 photos."""
        return list(await self.sender.send_captioned(bot, chat_id, movie_ids, captions) or [])

    async def _send_poster(self, bot: Bot, chat_id: int, movie_id: int, caption: str) -> Message:
        """The winner's poster with ``caption`` (HTML); a text message when the photo fails."""
        try:
            return (await self.sender.send(bot, chat_id, [movie_id], caption))[0]
        except Exception as exc:
            if _transient(exc):
                raise
            log.exception("winner poster for movie %s failed; sending text", movie_id)
        return await bot.send_message(chat_id, fit(caption), parse_mode=ParseMode.HTML)


def _transient(exc: BaseException) -> bool:
    """A Telegram failure worth retrying: timeouts, flood waits, 5xx and network errors."""
    if isinstance(exc, RetryAfter | TimedOut):
        return True
    return isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)
