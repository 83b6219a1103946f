"""Answering with one movie: its header, then one album of similar movies per plugin.

Shared by every feature that ends at a single movie: a title typed or picked from a list
(:mod:`reelpick.bot.titles`) and a poster recognised in a photo (:mod:`reelpick.bot.photo`).
Nothing here shows a raw error to a person: a plugin that failed gets one line in the
reader's language, the details go to the log.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable

from telegram import Bot, User
from telegram.error import TelegramError

from reelpick.posters import Poster
from reelpick.redact import redact
from reelpick.types import PluginAnswer

from .card import chat_region, send_card
from .context import BotContext
from .i18n import Translator, translator, translator_for
from .media import ChatAction, album_caption
from .rating_buttons import rating_markup  # under a single movie's header, private chats only
from .replies import BUSY
from .scheduling import QUEUE_FULL
from .services import BotServices
from .watchlater import with_watch_later

log = logging.getLogger(__name__)


async def answer_movie(
    context: BotContext,
    chat_id: int,
    movie_id: int,
    reply_to: int | None = None,
    user: User | None = None,
    person: int | None = None,
) -> None:
    """Header, then one album per plugin in plugin order (one line for a plugin that failed).

    In the private chat with ``user`` the header carries rating buttons. The whole answer is
    in ``user``'s language: in a group, whoever asked for it.

    Plugins are asked and posters read concurrently while the header goes out; albums are
    sent one after another so they arrive in order. One chat's answers never interleave.
    ``person`` (:func:`~reelpick.bot.scheduling.sender_key`; default ``user``'s id) is who
    holds a place in the waiting line: a chat or person with too many answers waiting is told
    "busy" at once (:func:`answer_if_admitted`).
    """
    await answer_if_admitted(
        context,
        chat_id,
        person if person is not None else (user.id if user is not None else None),
        user,
        lambda: _answer(context, chat_id, movie_id, reply_to, user),
    )


async def answer_if_admitted(
    context: BotContext,
    chat_id: int,
    person: int | None,
    user: User | None,
    answer: Callable[[], Awaitable[None]],
) -> None:
    """Run ``answer()`` holding a place in ``chat_id``'s and ``person``'s waiting line
    (:class:`~reelpick.bot.scheduling.WaitingLine`); when the line is full, post the "busy"
    line in ``user``'s language instead, without waiting."""
    s = context.services
    with s.waiting.enter(chat_id, person) as admitted:
        if admitted:
            await answer()
            return
    log.info("chat %s / sender %s: too many answers waiting; told busy", chat_id, person)
    _ = translator_for(user)
    s.busy_notices.post(context.application, chat_id, _(QUEUE_FULL))


async def _answer(
    context: BotContext,
    chat_id: int,
    movie_id: int,
    reply_to: int | None,
    user: User | None,
) -> None:
    s = context.services
    chosen_language = s.settings.language(chat_id)  # the chat's choice in /settings, if any
    _ = translator(chosen_language) if chosen_language else translator_for(user)
    bot = context.bot
    if not s.heavy_work_allowed(chat_id):
        log.info("chat %s: the bot-wide answer budget is spent for it; told busy", chat_id)
        await bot.send_message(chat_id, _(BUSY))
        return
    async with s.chat_lock(chat_id):
        app = s.reelpick
        chosen = s.settings.get(chat_id, app.registry.enabled())
        prepared = {
            name: asyncio.create_task(_prepare(s, name, movie_id, chosen.k))
            for name in chosen.plugins
        }
        uploading = ChatAction(bot, chat_id, "upload_photo")
        if not chosen.plugins:
            await bot.send_message(
                chat_id, _("No recommender is available right now; see /plugins.")
            )
            return
        try:
            await send_card(
                s,
                bot,
                chat_id,
                movie_id,
                _,
                region=chat_region(s, chat_id, user),
                reply_to=reply_to,
                markup=with_watch_later(rating_markup(chat_id, user, movie_id), movie_id, _),
            )
            for name in chosen.plugins:
                answer, posters = await prepared[name]
                if posters and s.sender.needs_upload(bot, posters):
                    await uploading.start()  # "sending photo…" while files upload
                await _send_answer(s, bot, chat_id, movie_id, answer, posters, _)
        finally:
            await uploading.stop()
            for task in prepared.values():
                task.cancel()


async def _prepare(
    s: BotServices, name: str, movie_id: int, k: int
) -> tuple[PluginAnswer, list[Poster] | None]:
    answer = await s.ask(name, movie_id, k)
    posters = None
    if answer.ok and answer.neighbours:
        posters = await s.sender.load([n.movie_id for n in answer.neighbours])
    return answer, posters


async def _send_answer(
    s: BotServices,
    bot: Bot,
    chat_id: int,
    movie_id: int,
    answer: PluginAnswer,
    posters: list[Poster] | None,
    _: Translator,
) -> None:
    shortfall = shortfall_text(answer, _)
    if shortfall is not None:
        await bot.send_message(chat_id, shortfall)
        return
    ids = [n.movie_id for n in answer.neighbours]
    caption = album_caption(
        _(
            "<b>{label}</b> · like {title}",
            label=html.escape(answer.label),
            title=html.escape(s.label(movie_id)),
        ),
        [s.label(m) for m in ids],
        # 🔖 per title: t.me/<bot>?start=wl_<id> puts it on the tapper's watchlist.
        links=[s.deep_links.link(bot.username, "wl", str(m)) for m in ids]
        if bot.username
        else None,
    )
    try:
        await s.sender.send(bot, chat_id, ids, caption, posters=posters)
    except TelegramError as exc:
        log.error("sending the %s album to chat %s failed: %s", answer.plugin, chat_id, redact(exc))
        await bot.send_message(
            chat_id, _("I couldn't send the {label} posters just now.", label=answer.label)
        )


def shortfall_text(answer: PluginAnswer, _: Translator) -> str | None:
    """Why ``answer`` has no movies to show, in the reader's language; None when it has some.

    :meth:`PluginAnswer.shortfall` decides *whether* (core's English wording is for the CLI);
    a plugin's own ``no_answer`` reason is its data and is shown as it is.
    """
    if answer.shortfall(with_error=False) is None:
        return None
    label = answer.label
    if answer.error:  # chat members never see the technical error text
        return _("{label} had a problem with this movie.", label=label)
    if answer.no_answer:
        return _(
            "{label} has no suggestions for this movie: {reason}.",
            label=label,
            reason=answer.no_answer,
        )
    return _("{label} found no similar movies.", label=label)
