"""/forme: personal recommendations from the person's ratings.

One album per plugin that implements ``reelpick_recommend`` (the chat's /settings choose
the plugins and k), then a "Picks" album fusing those answers
(:meth:`reelpick.app.Reelpick.picks`), whose caption says why: "because you liked Heat, Ronin". A plugin that fails, times out or
has no answer gets one line; the others still answer. Plugins run in the bot's plugin
threads within ``bot.plugin_timeout``, concurrently, while the header goes out.

An empty profile gets a short note, well-liked and varied movies to start from, and a
nudge to /rate.
"""

from __future__ import annotations

import asyncio
import html
import logging

import numpy as np
from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from reelpick.data import Dataset
from reelpick.redact import redact
from reelpick.types import PluginAnswer, Profile

from ..context import BotContext
from ..i18n import Translator, translator_for
from ..media import ChatAction, album_caption
from ..rating_buttons import owner_of
from ..services import BotServices
from ..updates import chat_of
from . import texts

log = logging.getLogger(__name__)

DEPTH = 3  # each plugin is asked for DEPTH * k movies, so that picks fuse deeper lists
STARTER_MIN_RATINGS = 50  # a "well-liked" starter movie has at least this many ratings
STARTER_PRIOR = 20  # ratings of weight pulling a movie's mean towards the global mean


class ForMe:
    """The /forme command, with the starter movies it computed, per dataset."""

    def __init__(self) -> None:
        self._starter_ids: dict[str, list[int]] = {}  # dataset fingerprint -> best first

    async def cmd_forme(self, update: Update, context: BotContext) -> None:
        chat, user = chat_of(update), update.effective_user
        if user is None:
            return
        _ = translator_for(update)
        if not await texts.only_in_private(
            update, context, _(texts.PRIVATE_FORME), "forme", _("My picks")
        ):
            return
        await self.answer(context, chat.id, user.id, _)

    async def answer(self, context: BotContext, chat_id: int, user_id: int, _: Translator) -> None:
        s = context.services
        profile = await asyncio.to_thread(s.profiles.profile, owner_of(user_id))
        async with s.chat_lock(chat_id):
            if not profile.ratings:
                await self._starters(context, s, chat_id, profile, _)
            else:
                await self._picks(context, s, chat_id, profile, _)

    async def _picks(
        self,
        context: BotContext,
        s: BotServices,
        chat_id: int,
        profile: Profile,
        _: Translator,
    ) -> None:
        bot = context.bot
        registry = s.reelpick.registry
        chosen = s.settings.get(chat_id, registry.enabled())
        names = [n for n in chosen.plugins if registry.implements(n, "reelpick_recommend")]
        if not names:
            await bot.send_message(chat_id, _(texts.NO_RECOMMENDER))
            return
        asked = {n: asyncio.create_task(_recommend(s, n, profile, DEPTH * chosen.k)) for n in names}
        uploading = ChatAction(bot, chat_id, "upload_photo")
        try:
            await bot.send_message(
                chat_id, texts.forme_header(profile, _), parse_mode=ParseMode.HTML
            )
            answers: list[PluginAnswer] = []
            for n in names:
                answer = await asked[n]
                answers.append(answer)
                line = texts.shortfall_line(answer, _)
                if line is not None:
                    await bot.send_message(chat_id, line)
                    continue
                ids = [r.movie_id for r in answer.neighbours[: chosen.k]]
                heading = _("<b>{label}</b> · for you", label=html.escape(answer.label))
                await _album(
                    s,
                    bot,
                    chat_id,
                    ids,
                    album_caption(heading, [s.label(m) for m in ids]),
                    uploading,
                    _,
                )
            fused = s.reelpick.picks(profile, chosen.k, answers=answers)
            if not fused:
                await bot.send_message(chat_id, _("No picks to fuse: no recommender answered."))
                return
            dataset = s.reelpick.dataset
            # Picks already on the person's watchlist are marked (a private chat: chat = person).
            listed = await asyncio.to_thread(s.watchlist.movies, owner_of(chat_id))
            lines = [
                s.label(r.movie_id)
                + (" 🔖" if r.movie_id in listed else "")
                + (
                    f" — {reason}"
                    if (reason := texts.because_text(dataset, r.because, _, s.known_label))
                    else ""
                )
                for r in fused
            ]
            heading = _("<b>Picks</b> · all recommenders together")
            await _album(
                s,
                bot,
                chat_id,
                [r.movie_id for r in fused],
                album_caption(heading, lines),
                uploading,
                _,
            )
        finally:
            await uploading.stop()
            for task in asked.values():
                task.cancel()

    async def _starters(
        self,
        context: BotContext,
        s: BotServices,
        chat_id: int,
        profile: Profile,
        _: Translator,
    ) -> None:
        k = s.settings.get(chat_id, s.reelpick.registry.enabled()).k
        dataset = s.reelpick.dataset
        found = await asyncio.to_thread(self._starters_of, dataset)
        ids = [m for m in found if m not in profile.movies][:k]
        await context.bot.send_message(chat_id, _(texts.EMPTY_PROFILE), parse_mode=ParseMode.HTML)
        if ids:
            caption = album_caption(
                _("<b>Well-liked</b> · to start with"), [s.label(m) for m in ids]
            )
            async with ChatAction(context.bot, chat_id, "upload_photo") as uploading:
                await _album(s, context.bot, chat_id, ids, caption, uploading, _)

    def _starters_of(self, dataset: Dataset) -> list[int]:
        """:func:`starters` of ``dataset``, computed once per dataset."""
        key = dataset.fingerprint
        if key not in self._starter_ids:
            self._starter_ids[key] = starters(dataset)
        return self._starter_ids[key]


async def _recommend(s: BotServices, name: str, profile: Profile, k: int) -> PluginAnswer:
    """One plugin's recommendations, computed in a plugin thread, within the time budget."""
    registry = s.reelpick.registry
    loop = asyncio.get_running_loop()
    call = loop.run_in_executor(s.plugin_pool, registry.ask_recommend, name, profile, k)
    try:
        return await asyncio.wait_for(call, s.plugin_timeout)
    except TimeoutError:
        log.error("plugin %s took over %.1f s to recommend; skipped", name, s.plugin_timeout)
        label = registry.plugins[name].info.label
        return PluginAnswer(name, label, error=f"no answer within {s.plugin_timeout} s")


async def _album(
    s: BotServices,
    bot,
    chat_id: int,
    ids: list[int],
    caption: str,
    uploading: ChatAction,
    _: Translator,
) -> None:
    posters = await s.sender.load(ids)
    if s.sender.needs_upload(bot, posters):
        await uploading.start()  # "sending photo…" while files upload
    try:
        await s.sender.send(bot, chat_id, ids, caption, posters=posters)
    except TelegramError as exc:
        log.error("sending a /forme album to chat %s failed: %s", chat_id, redact(exc))
        await bot.send_message(chat_id, _("I couldn't send those posters just now."))


def starters(dataset: Dataset, count: int = 60) -> list[int]:
    """Well-liked, varied movies for someone with no ratings yet, best first.

    "Well-liked": the mean rating pulled towards the global mean by STARTER_PRIOR ratings
    (so a few enthusiastic votes do not win), among movies with enough ratings. "Varied":
    walking down that list, a movie whose first genre is already taken waits until every
    first genre had its turn.
    """
    stats = dataset.ratings.groupby("movieId")["rating"].agg(["count", "sum"])
    stats = stats[stats.index.isin(dataset.movies.index)]
    enough = stats[stats["count"] >= STARTER_MIN_RATINGS]
    if len(enough) < count:  # a small dataset: take the best known anyway
        enough = stats.nlargest(count * 3, "count")
    overall = float(dataset.ratings["rating"].mean())
    damped = (enough["sum"] + STARTER_PRIOR * overall) / (enough["count"] + STARTER_PRIOR)
    order = np.lexsort((enough.index.to_numpy(), -damped.to_numpy()))
    ranked = [int(m) for m in enough.index.to_numpy()[order]]
    varied: list[int] = []
    later: list[int] = []
    taken: set[str] = set()
    for movie_id in ranked:
        genres = list(dataset.movies.loc[movie_id]["genres"]) or [""]
        (later if genres[0] in taken else varied).append(movie_id)
        taken.add(genres[0])
    return (varied + later)[:count]
