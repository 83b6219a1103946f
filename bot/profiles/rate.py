"""/rate: one movie at a time (poster, title, year) with ★1…★5, "seen", "not interested", "skip".

The next movie is the one :func:`reelpick.profiles.next_to_rate` expects to teach the most.
A press records the answer at once and sends the next question: one tap per movie, no
confirmation. The same buttons (without "skip") go under the bot's single-movie answers in a
private chat (:func:`reelpick.bot.rating_buttons.rating_markup`), and this feature answers
their presses too.

A rating session (the movies asked so far, skipped ones included, and the one asked now)
is kept in the bot's diskcache per person, so a restart neither repeats questions nor
breaks the buttons already sent. Every button names its movie and its person: a press by
anyone else, for a movie the catalogue lacks, or with data that is not exactly a rating
button is answered with a short note and changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, TelegramError

from reelpick.profiles import next_to_rate
from reelpick.redact import redact

from ..context import BotContext
from ..i18n import Translator, translator_for
from ..rating_buttons import RATE_PREFIX, STARS, Mark, owner_of, parse_rate, rating_keyboard
from ..replies import STALE
from ..services import BotServices
from ..updates import chat_of, query_of
from . import texts

log = logging.getLogger(__name__)

SESSION_SECONDS = 7 * 24 * 3600  # a rating session is remembered this long after its last tap
MAX_ASKED = 300  # movies remembered per session (the question pool holds 500)


class Rating:
    """The /rate command and every rating button."""

    async def cmd_rate(self, update: Update, context: BotContext) -> None:
        chat, user = chat_of(update), update.effective_user
        if user is None:
            return
        _ = translator_for(update)
        if not await texts.only_in_private(
            update, context, _(texts.PRIVATE_RATE), "rate", _("Rate movies")
        ):
            return
        s = context.services
        async with s.chat_lock(chat.id):
            session = _session(s, user.id)
            await self._ask_next(context, s, user.id, session, _)

    async def on_button(self, update: Update, context: BotContext) -> None:
        _ = translator_for(update)
        query = query_of(update)
        s = context.services
        press = parse_rate(query.data)
        if press is None:
            await query.answer(_(STALE))
            return
        chat = update.effective_chat
        user = query.from_user
        # The person the button was sent to, in their own private chat; nobody else.
        if user.id != press.user_id or chat is None or chat.id != press.user_id:
            log.info("refused a rating button of user %s pressed by %s", press.user_id, user.id)
            await query.answer(_(texts.NOT_YOURS), show_alert=True)
            return
        if not s.knows(press.movie_id):  # a dataset or catalogue movie
            await query.answer(_(texts.UNKNOWN_MOVIE))
            return
        owner = owner_of(user)
        async with s.chat_lock(chat.id):
            if press.choice in STARS:
                s.profiles.rate(owner, press.movie_id, float(press.choice))
            elif press.choice == Mark.SEEN:
                s.profiles.mark_seen(owner, press.movie_id)
            elif press.choice == Mark.NOT_INTERESTED:
                s.profiles.mark_not_interested(owner, press.movie_id)
            await query.answer(texts.recorded(press.choice, s.label(press.movie_id), _))
            session = _session(s, user.id)
            is_question = session.get("current") == press.movie_id
            if isinstance(query.message, Message):  # not one too old for the bot to see
                # Mark the choice; the buttons stay, so a slip of the finger can be corrected.
                markup = rating_keyboard(
                    press.movie_id,
                    user.id,
                    _,
                    chosen=press.choice,
                    skip=is_question or _has_skip(query.message.reply_markup),
                )
                with contextlib.suppress(BadRequest):  # unchanged: the same button again
                    await query.edit_message_reply_markup(markup)
            if is_question:  # the latest question: ask the next one
                await self._ask_next(context, s, user.id, session, _)

    async def _ask_next(
        self,
        context: BotContext,
        s: BotServices,
        user_id: int,
        session: dict,
        _: Translator,
    ) -> None:
        dataset = s.reelpick.dataset
        asked = [int(m) for m in session.get("asked", [])]
        profile = await asyncio.to_thread(s.profiles.profile, owner_of(user_id))
        found = await asyncio.to_thread(next_to_rate, dataset, profile, 1, user_id % (2**32), asked)
        if not found:
            session["current"] = None
            _save(s, user_id, session)
            await context.bot.send_message(
                user_id, _("That's every movie I had to ask about. See your picks with /forme.")
            )
            return
        movie_id = found[0]
        session["asked"] = [*asked, movie_id][-MAX_ASKED:]
        session["current"] = movie_id
        _save(s, user_id, session)  # before sending: a press may arrive as soon as it is out
        caption = texts.question_caption(dataset, movie_id, len(profile.ratings), _)
        try:
            await s.sender.send(
                context.bot,
                user_id,
                [movie_id],
                caption,
                reply_markup=rating_keyboard(movie_id, user_id, _),
            )
        except TelegramError as exc:
            log.error("sending a /rate question to %s failed: %s", user_id, redact(exc))
            await context.bot.send_message(user_id, _("I couldn't send the next movie; try /rate."))


def _has_skip(markup: InlineKeyboardMarkup | None) -> bool:
    """Whether a message's buttons include "skip" (a /rate question, not an answer header)."""
    if markup is None:
        return False
    return any(
        (b.callback_data or "").startswith(f"{RATE_PREFIX}{Mark.SKIP}:")
        for row in markup.inline_keyboard
        for b in row
        if isinstance(b.callback_data, str)
    )


def _key(user_id: int) -> str:
    return f"profiles-rate-session:{int(user_id)}"


def _session(s: BotServices, user_id: int) -> dict:
    stored = s.cache.get(_key(user_id))
    return dict(stored) if isinstance(stored, dict) else {"asked": [], "current": None}


def _save(s: BotServices, user_id: int, session: dict) -> None:
    s.cache.set(_key(user_id), session, expire=SESSION_SECONDS)


def forget_session(s: BotServices, user_id: int) -> None:
    """Delete ``user_id``'s rating session (for /forget)."""
    s.cache.delete(_key(user_id))
