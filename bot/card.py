"""The movie card that opens an answer: poster, title (year), runtime, genres, director, top
cast, a short overview, TMDB rating, trailer, and where to watch it in the chat's region
(stream / rent / buy, with the JustWatch attribution TMDB asks for), in the reader's
language where TMDB has it.

Without TMDB the card holds what the dataset knows and one line saying what a TMDB key
would add. Built from :meth:`reelpick.app.Reelpick.card` on a worker thread (TMDB round
trips), so a slow TMDB never blocks the event loop; a failure there falls back to the
dataset's header (:func:`~reelpick.bot.media.movie_header`).
"""

from __future__ import annotations

import asyncio
import html
import logging

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, ReplyParameters, User
from telegram.constants import ParseMode

from reelpick.catalogue import MovieCard
from reelpick.redact import redact

from .i18n import N_, Translator
from .media import NO_PREVIEW, genre_line, movie_header, visible_length
from .services import BotServices

log = logging.getLogger(__name__)

OVERVIEW = 280  # characters of the overview shown
CAPTION = 1024  # kept short as a photo caption, though sent as a message
WITHOUT_TMDB = N_(
    "With a TMDB key I would also show the plot, cast, rating, trailer and where to watch it."
)


def short_overview(text: str, limit: int = OVERVIEW) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with "…" when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:.-") + "…"


def _names(names: tuple[str, ...]) -> str:
    return html.escape(", ".join(names))


def card_text(card: MovieCard, _: Translator, *, tmdb: bool) -> str:
    """The card as HTML (fits a photo caption)."""
    lines = [f"<b>{html.escape(card.label)}</b>"]
    facts = []
    if card.runtime:
        hours, minutes = divmod(int(card.runtime), 60)
        facts.append(_("{h} h {m} min", h=hours, m=minutes) if hours else _("{m} min", m=minutes))
    genres = genre_line(card.genres, _) if card.source == "dataset" else _names(card.genres)
    if genres:
        facts.append(genres)
    if card.rating:
        facts.append(_("TMDB ★ {rating}/10", rating=_.number(card.rating, 1)))
    if facts:
        lines.append(" · ".join(facts))
    if card.directors:
        lines.append(_("Director: {names}", names=_names(card.directors[:2])))
    if card.cast:
        lines.append(_("With: {names}", names=_names(card.cast[:4])))
    if card.overview:
        lines.append("<i>" + html.escape(short_overview(card.overview)) + "</i>")
    links = []
    if card.trailer_url:
        links.append(f'<a href="{html.escape(card.trailer_url)}">▶ {_("Trailer")}</a>')
    if card.imdb_id:  # the links the dataset's header always had
        links.append(f'<a href="https://www.imdb.com/title/tt{card.imdb_id:07d}/">IMDb</a>')
    if card.tmdb_id:
        links.append(f'<a href="https://www.themoviedb.org/movie/{card.tmdb_id}">TMDB</a>')
    if links:
        lines.append(" · ".join(links))
    where = card.where_to_watch
    if where is not None:
        offers = [
            (_("Stream"), where.flatrate),
            (_("Rent"), where.rent),
            (_("Buy"), where.buy),
        ]
        shown = [f"{kind}: {_names(names[:5])}" for kind, names in offers if names]
        if shown:
            lines.append(_("📺 Where to watch in {region}:", region=where.region))
            lines.extend(shown)
        else:
            lines.append(_("📺 Not offered in {region} right now.", region=where.region))
        attribution = html.escape(where.attribution)
        if where.link:
            attribution = f'<a href="{html.escape(where.link)}">{attribution}</a>'
        lines.append(attribution)
    elif not tmdb:
        lines.append("<i>" + html.escape(_(WITHOUT_TMDB)) + "</i>")
    text = "\n".join(lines)
    while visible_length(text) > CAPTION and len(lines) > 1:  # overlong names: drop the tail
        lines.pop(-2)
        text = "\n".join(lines)
    return text


def chat_region(s: BotServices, chat_id: int, user: User | None) -> str:
    """Where-to-watch region of a chat: chosen in /settings, else from the asker's language
    ("de-AT" -> AT, "de" -> DE), else ``[tmdb] region``."""
    chosen = s.settings.get(chat_id, []).region
    if chosen:
        return chosen
    code = (getattr(user, "language_code", None) or "").replace("_", "-").split("-")
    if len(code) > 1 and len(code[1]) == 2 and code[1].isascii() and code[1].isalpha():
        return code[1].upper()
    if code[0].lower() == "de":
        return "DE"
    return s.config.settings.tmdb.region.upper()


async def send_card(
    s: BotServices,
    bot: Bot,
    chat_id: int,
    movie_id: int,
    _: Translator,
    *,
    region: str,
    reply_to: int | None = None,
    markup: InlineKeyboardMarkup | None = None,
) -> None:
    """The card of ``movie_id`` in ``chat_id``: one message whose preview is TMDB's poster
    (the albums that follow carry the dataset's posters)."""
    app = s.reelpick
    reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
    try:
        card = await asyncio.to_thread(app.card, movie_id, region=region, language=_.language)
    except Exception as exc:  # TMDB or the catalogue file: the dataset's header instead
        log.warning("card of movie %s failed: %s", movie_id, redact(exc))
        await bot.send_message(
            chat_id,
            movie_header(app.dataset, movie_id, _)
            if movie_id in app.dataset
            else f"<b>{html.escape(s.known_label(movie_id) or f'#{movie_id}')}</b>",
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
            reply_parameters=reply,
            reply_markup=markup,
        )
        return
    text = card_text(card, _, tmdb=app.tmdb_available)
    preview = (
        LinkPreviewOptions(url=card.poster_url, prefer_large_media=True, show_above_text=True)
        if card.poster_url
        else NO_PREVIEW
    )
    await bot.send_message(
        chat_id,
        text,
        parse_mode=ParseMode.HTML,
        link_preview_options=preview,
        reply_parameters=reply,
        reply_markup=markup,
    )
