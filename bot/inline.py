"""Inline mode: ``@bot heat`` in any chat lists movies; choosing one posts its card there.

Each result is one movie: title and year, and a description with one line per plugin's top
pick. The message it posts (the *card*) is the poster with "similar: A, B, C" per plugin as
its caption when the poster was uploaded before (Telegram needs a ``file_id`` for a photo
result: :class:`~reelpick.bot.media.PosterSender` knows them), else the same text as an
article (with TMDB's small poster as thumbnail when the poster came from TMDB).

An empty query lists popular movies (most rated); a title lists every candidate the search
finds (or "did you mean" suggestions); pages of ``[inline] page_size`` with ``next_offset``.
Every answer carries a button above the results (Telegram's ``InlineQueryResultsButton``)
that opens a private chat with the bot (``t.me/<bot>?start=inline``, which /start welcomes
with the help): "personal picks in a chat with me" when movies were found, "no movie matches
…" when none was (a query the search refuses, or one nothing matches), so an empty list
is never left unexplained.
Telegram waits a few seconds at most, so cards are kept in a small LRU per movie: a warm
answer reads no plugin. A card holds data only (titles, plugin labels); its words are put
in at each answer, in the language of whoever typed the query. English answers are the same
for everyone (cached by Telegram for ``cache_time``) unless ``is_personal(user_id)`` says the
user has a profile; answers in another language are personal, because Telegram's shared
cache knows the query but not the language (an English answer cached for another user may
still reach someone whose client is in German within ``cache_time``). An answer with a card
that lacks a plugin's picks (refused or timed out under load) is personal and cached for
``cache_time_degraded`` at most, and that card is not kept. Each person may make
``queries_per_minute`` inline queries; the first one over gets an empty answer, the rest none.

Enable inline mode for the bot with BotFather's ``/setinline`` (README.md, "The Telegram bot").
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from telegram import (
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultCachedPhoto,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import InlineQueryHandler

from reelpick.app import Reelpick
from reelpick.config import Config
from reelpick.posters import Poster

from .context import BotApplication, BotContext
from .handler_groups import HandlerGroup
from .i18n import DEFAULT_LANGUAGE, Translator, translator_for
from .limits import ChatLimiter, LimitVerdict
from .media import CAPTION_LIMIT, visible_length
from .resolve import clean_title, did_you_mean
from .services import BotServices
from .updates import inline_query_of
from .watchlater import watch_later_button

log = logging.getLogger(__name__)

PICKS = 3  # similar movies named per plugin on a card
TITLE_CHARS = 60  # longer titles are cut on cards
TMDB_THUMBNAIL = "https://image.tmdb.org/t/p/w92"  # TMDB's image base + its smallest poster size
MAX_OFFSET = 10_000
START_PARAMETER = "inline"  # /start inline: a payload no feature takes, so the welcome
QUERY_CHARS = 24  # of the query, quoted on the "no movie matches" button


@dataclass(frozen=True)
class Card:
    """What an inline result shows of one movie (plugins' picks computed once)."""

    movie_id: int
    title: str  # "Heat (1995)"
    picks: tuple[tuple[str, tuple[str, ...]], ...]  # (plugin label, similar titles)
    poster: Poster | None  # the local poster (~20 kB), whose file_id is looked up per answer
    thumbnail_url: str | None  # TMDB's small poster, when the poster came from TMDB
    # A plugin failed: not asked (paused, too busy), no answer in time, or an error: the card
    # lacks its picks for now, so it is neither kept nor shared through Telegram's cache.
    degraded: bool = False

    def text(self, _: Translator) -> str:
        """The card as HTML (the caption of the poster, or an article's message), worded
        with ``_``."""
        text = f"<b>{html.escape(self.title)}</b>"
        for plugin, titles in self.picks:
            named = ", ".join(html.escape(_short(t)) for t in titles) or _("no suggestions")
            line = "\n" + _(
                "<b>{plugin}</b> similar: {titles}", plugin=html.escape(plugin), titles=named
            )
            if visible_length(text + line) > CAPTION_LIMIT - 2:
                break
            text += line
        return text

    def description(self) -> str:
        """One line per plugin: its label and top pick (data only, nothing to translate)."""
        return "\n".join(f"{plugin}: {titles[0]}" for plugin, titles in self.picks if titles)


class InlineState:
    """The inline feature's own state: an LRU of cards and the popular-movie list.

    ``is_personal(user_id)``: whether answers for this user are personal (a profile store's
    "has a profile"); by default nobody's are.
    """

    def __init__(self, config: Config, is_personal: Callable[[int], bool] | None = None) -> None:
        section = config.settings.inline
        self.page_size = max(1, min(50, section.page_size))
        self.max_results = max(1, section.max_results)
        self.cache_time = section.cache_time
        self.cache_time_personal = section.cache_time_personal
        self.cache_time_degraded = section.cache_time_degraded
        # Inline queries per person per minute: each may ask every plugin for a page of cards.
        self.limiter = ChatLimiter(section.queries_per_minute)
        self.size = section.cards
        self.is_personal = is_personal or (lambda user_id: False)
        self._cards: OrderedDict[int, Card] = OrderedDict()
        self._cards_of: Reelpick | None = None  # cards belong to one Reelpick (see /reload)
        self._popular: tuple[object, list[int]] | None = None

    async def card(self, s: BotServices, movie_id: int) -> Card:
        app = s.reelpick
        if self._cards_of is not app:
            self._cards.clear()
            self._cards_of = app
        card = self._cards.get(movie_id)
        if card is None:
            card = await _make_card(s, movie_id)
            if card.degraded:  # asked afresh next time, when the plugins may have room again
                return card
            self._cards[movie_id] = card
            while len(self._cards) > self.size:
                self._cards.popitem(last=False)
        self._cards.move_to_end(movie_id)
        return card

    def popular(self, app: Reelpick) -> list[int]:
        """The most rated movies, most first (computed once per dataset)."""
        if self._popular is None or self._popular[0] is not app.dataset:
            counts = app.dataset.rating_counts.sort_values(ascending=False, kind="stable")
            self._popular = (app.dataset, [int(m) for m in counts.index[: self.max_results]])
        return self._popular[1]


def register(application: BotApplication, services: BotServices) -> None:
    """Answer inline queries; the cards live in this feature's :class:`InlineState`."""
    services.features.add(InlineState(services.config))
    application.add_handler(InlineQueryHandler(inline_query), HandlerGroup.DEFAULT)


def movies_for(app: Reelpick, state: InlineState, query: str) -> list[int]:
    """The movies an inline query lists, best first: popular ones for an empty query."""
    if not query.strip():
        return state.popular(app)
    title, problem = clean_title(query)
    if problem:
        return []
    found = app.search(title, state.max_results)
    if found.candidates:
        return [c.movie_id for c in found.candidates]
    return [c.movie_id for c in did_you_mean(app, title, state.max_results)]


def parse_offset(offset: str | None) -> int:
    """The position an inline page starts at; anything but our own offsets reads as 0
    (the offset comes back from the client, so it is checked like any input)."""
    if offset and re.fullmatch(r"\d{1,5}", offset) and int(offset) <= MAX_OFFSET:
        return int(offset)
    return 0


async def inline_query(update: Update, context: BotContext) -> None:
    query = inline_query_of(update)
    _ = translator_for(update)  # the language of whoever typed the query
    s = context.services
    state = s.features.get(InlineState)
    verdict = state.limiter.check(query.from_user.id)
    if verdict != LimitVerdict.OK:
        log.info("inline queries of user %s are over the limit (%s)", query.from_user.id, verdict)
        if verdict == LimitVerdict.WARN:  # once: an empty personal answer ends the spinner
            await query.answer([], cache_time=0, is_personal=True)
        return
    movies = await s.match(movies_for, s.reelpick, state, query.query or "")
    start = parse_offset(query.offset)
    page = movies[start : start + state.page_size]
    cards = await asyncio.gather(*(state.card(s, m) for m in page))
    results = [_result(s, context, card, _) for card in cards]
    end = start + len(page)
    button = results_button(query.query or "", found=bool(movies), _=_)
    personal = state.is_personal(query.from_user.id)
    translated = _.language != DEFAULT_LANGUAGE  # see the module's docstring
    degraded = any(card.degraded for card in cards)  # never cached for anyone else
    cache_time = state.cache_time_personal if personal else state.cache_time
    await query.answer(
        results,
        cache_time=min(cache_time, state.cache_time_degraded) if degraded else cache_time,
        is_personal=personal or translated or degraded,
        next_offset=str(end) if page and end < len(movies) else "",
        button=button,
    )


def results_button(text: str, *, found: bool, _: Translator) -> InlineQueryResultsButton:
    """The button above the results: a private chat with the bot; says so when nothing
    matched ``text``."""
    shown = " ".join(text.split())
    if found or not shown:
        label = _("Personal picks: open a chat with me")
    else:
        label = _("No movie matches “{query}”. Ask me in a chat", query=_short(shown, QUERY_CHARS))
    return InlineQueryResultsButton(label, start_parameter=START_PARAMETER)


def _result(
    s: BotServices, context: BotContext, card: Card, _: Translator
) -> InlineQueryResultCachedPhoto | InlineQueryResultArticle:
    result_id = f"movie-{card.movie_id}"  # unique within an answer, far below 64 bytes
    file_id = s.sender.file_id(context.bot, card.poster) if card.poster is not None else None
    # "Watch later" adds to the list of whoever presses it, wherever the result was posted.
    markup = InlineKeyboardMarkup([[watch_later_button(card.movie_id, _)]])
    if file_id:
        return InlineQueryResultCachedPhoto(
            result_id,
            file_id,
            title=card.title,
            description=card.description(),
            caption=card.text(_),
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
        )
    return InlineQueryResultArticle(
        result_id,
        card.title,
        InputTextMessageContent(
            card.text(_),
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        ),
        description=card.description(),
        thumbnail_url=card.thumbnail_url,
        reply_markup=markup,
    )


async def _make_card(s: BotServices, movie_id: int) -> Card:
    registry = s.reelpick.registry
    names = [n for n in registry.enabled() if registry.plugins[n].fitted]
    answers = await asyncio.gather(*(s.ask(name, movie_id, PICKS) for name in names))
    # Refused (paused, too many calls running) or past the time budget: ``ask`` says so as
    # an error; the card lacks that plugin's picks only for now.
    degraded = any(answer.error for answer in answers)
    picks = tuple(
        (answer.label, tuple(s.label(n.movie_id) for n in answer.neighbours))
        for answer in answers
        if answer.ok
    )
    store = s.sender.store
    poster = await asyncio.to_thread(store.local, movie_id)  # never the network here
    thumbnail = None
    if poster is not None and poster.source == "tmdb":
        entry = await asyncio.to_thread(store.entry, movie_id)
        path = (entry or {}).get("tmdb_path")
        if isinstance(path, str) and path.startswith("/"):
            thumbnail = TMDB_THUMBNAIL + path
    return Card(
        movie_id,
        s.label(movie_id),
        picks,
        poster,
        thumbnail,
        degraded,
    )


def _short(text: str, limit: int = TITLE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
