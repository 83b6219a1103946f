"""The watchlist in the bot: "watch later" presses, /watchlist with remove buttons (paged),
``t.me/<bot>?start=wl_<movie id>`` links (album captions), and watchlist files sent as
documents (Letterboxd ``watchlist.csv``, IMDb ``WATCHLIST.csv``: files named as lists).

Each list belongs to whoever pressed or sent: the owner key is the person's
(:func:`~reelpick.bot.rating_buttons.owner_of`), the same as their profile's, so /forget and
/export cover it. Lists live in ``services.watchlist`` (SQLite in the state folder). Any
callback data may arrive: only what :func:`~reelpick.bot.watchlater.parse_watchlist_data`
accepts, for a movie the bot knows, changes anything; the rest is answered "out of date".
"""

from __future__ import annotations

import asyncio
import html
import logging
from pathlib import PurePath

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler

from reelpick.errors import ReelpickError
from reelpick.profiles import MovieMatcher, ProfileImportError
from reelpick.redact import redact
from reelpick.watchlist import looks_like_watchlist, read_watchlist

from .context import BotApplication, BotContext
from .handler_groups import HandlerGroup
from .i18n import N_, Translator, translator_for
from .rating_buttons import owner_of
from .replies import STALE
from .services import BotServices
from .stopping import stop_after_politely
from .updates import PRIVATE_FILES, chat_of, message_of, query_of
from .watchlater import page_data, parse_watchlist_data, remove_data

log = logging.getLogger(__name__)

PAGE = 8  # movies per page of /watchlist
MB = 1024 * 1024
COMMANDS = [("watchlist", N_("Movies you want to watch later"))]
PRIVATE_ONLY = N_("Your watchlist is personal, so I show it in a private chat with you.")
EMPTY = N_(
    "Your watchlist is empty. Press 🔖 Watch later under a movie, or send me your "
    "Letterboxd watchlist.csv or IMDb watchlist export."
)
APOLOGY = N_("Something went wrong with your watchlist; please try again.")
CSV_SUFFIXES = {".csv", ".txt"}


class Watchlists:
    """The feature's state: a title matcher for imports, rebuilt when the dataset changes."""

    def __init__(self) -> None:
        self._matcher: MovieMatcher | None = None

    def matcher(self, s: BotServices) -> MovieMatcher:
        app = s.reelpick
        if self._matcher is None or self._matcher.dataset is not app.dataset:
            self._matcher = app.movie_matcher()
        return self._matcher


def register(application: BotApplication, services: BotServices) -> None:
    """Add /watchlist, the ``wl:`` buttons, ``wl_`` deep links and watchlist uploads."""
    services.features.add(Watchlists())
    polite = {"feature": "watchlist", "apology": APOLOGY, "button_apology": APOLOGY}
    application.add_handler(
        CommandHandler("watchlist", stop_after_politely(cmd_watchlist, **polite)),
        HandlerGroup.DEFAULT,
    )
    application.add_handler(
        CallbackQueryHandler(stop_after_politely(on_button, **polite), pattern=r"^wl:"),
        HandlerGroup.DEFAULT,
    )
    application.add_handler(
        MessageHandler(PRIVATE_FILES, on_document),
        HandlerGroup.WATCHLIST,
    )
    services.deep_links.register("wl", deep_link)
    services.commands.extend(COMMANDS)


def movie_known(s: BotServices, movie_id: int) -> bool:
    """Whether ``movie_id`` is a movie the bot can name (forged data names others)."""
    return s.knows(movie_id)


def title_of(s: BotServices, movie_id: int) -> str:
    """``"Heat (1995)"`` for dataset and catalogue movies."""
    return s.label(movie_id)


async def cmd_watchlist(update: Update, context: BotContext) -> None:
    _ = translator_for(update)
    chat, user, message = chat_of(update), update.effective_user, message_of(update)
    if user is None:
        return
    if chat.type != ChatType.PRIVATE:
        await message.reply_text(_(PRIVATE_ONLY))
        return
    text, markup = await watchlist_view(context.services, owner_of(user), 0, _)
    await message.reply_html(text, reply_markup=markup)


async def watchlist_view(
    s: BotServices, owner: str, page: int, _: Translator
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of ``owner``'s list (HTML) with a remove button per movie and page buttons."""
    total = await asyncio.to_thread(s.watchlist.count, owner)
    if not total:
        return html.escape(_(EMPTY)), None
    pages = (total + PAGE - 1) // PAGE
    page = max(0, min(page, pages - 1))
    entries = await asyncio.to_thread(s.watchlist.entries, owner, offset=page * PAGE, limit=PAGE)
    names = []
    for entry in entries:
        try:
            names.append(title_of(s, entry.movie_id))
        except (KeyError, ValueError, ReelpickError):  # no longer in the data: removable
            names.append(_("movie {id}", id=entry.movie_id))
    lines = [f"{page * PAGE + i}. {html.escape(n)}" for i, n in enumerate(names, start=1)]
    heading = _.ngettext(
        "<b>Your watchlist</b>: {count} movie", "<b>Your watchlist</b>: {count} movies", total
    )
    if pages > 1:
        heading += " · " + _("page {page} of {pages}", page=page + 1, pages=pages)
    rows = [
        [InlineKeyboardButton("✖ " + _short(n), callback_data=remove_data(e.movie_id, page))]
        for e, n in zip(entries, names, strict=True)
    ]
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("◀", callback_data=page_data(page - 1)))
    if page < pages - 1:
        nav.append(InlineKeyboardButton("▶", callback_data=page_data(page + 1)))
    if nav:
        rows.append(nav)
    return heading + "\n" + "\n".join(lines), InlineKeyboardMarkup(rows)


def _short(name: str, limit: int = 40) -> str:
    if len(name) <= limit:
        return name
    cut = name[: limit - 1].rsplit(" ", 1)[0]
    return (cut or name[: limit - 1]) + "…"


async def on_button(update: Update, context: BotContext) -> None:
    _ = translator_for(update)
    query = query_of(update)
    s = context.services
    press = parse_watchlist_data(query.data)
    if press is None or (press.movie_id is not None and not movie_known(s, press.movie_id)):
        await query.answer(_(STALE))
        return
    owner = owner_of(query.from_user)
    if press.action == "add":
        assert press.movie_id is not None
        added = await asyncio.to_thread(s.watchlist.add, owner, press.movie_id)
        title = title_of(s, press.movie_id)
        text = (
            _("Added to your watchlist: {title}", title=title)
            if added
            else _("Already on your watchlist: {title}", title=title)
        )
        await query.answer(text[:190])
        return
    # The list view: only in the private chat of the list's owner.
    message = query.message
    if message is None or message.chat.id != query.from_user.id:
        await query.answer(_(STALE))
        return
    if press.action == "remove":
        assert press.movie_id is not None
        removed = await asyncio.to_thread(s.watchlist.remove, owner, press.movie_id)
        title = title_of(s, press.movie_id)
        await query.answer(
            (
                _("Removed: {title}", title=title)
                if removed
                else _("Not on your watchlist: {title}", title=title)
            )[:190]
        )
    else:
        await query.answer()
    text, markup = await watchlist_view(s, owner, press.page, _)
    try:
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
    except TelegramError as exc:  # unchanged (pressed twice) or gone
        log.info("watchlist view not updated: %s", redact(exc))


async def deep_link(update: Update, context: BotContext, argument: str) -> None:
    """``t.me/<bot>?start=wl_<movie id>`` (the links in album captions): add, then say so."""
    _ = translator_for(update)
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    s = context.services
    press = parse_watchlist_data(f"wl:a:{argument}")
    if press is None or press.movie_id is None or not movie_known(s, press.movie_id):
        await message.reply_text(_(STALE))
        return
    added = await asyncio.to_thread(s.watchlist.add, owner_of(user), press.movie_id)
    title = title_of(s, press.movie_id)
    await message.reply_text(
        _("Added to your watchlist: {title}", title=title)
        if added
        else _("Already on your watchlist: {title}", title=title)
    )


async def on_document(update: Update, context: BotContext) -> None:
    """A watchlist file is imported here and stops the update; any other document goes on
    to the rating imports untouched."""
    message, user = message_of(update), update.effective_user
    document = message.document
    if document is None or user is None:
        return
    s = context.services
    limit = s.config.settings.bot.max_import_mb * MB
    filename = PurePath((document.file_name or "").replace("\\", "/")).name
    suffix = PurePath(filename).suffix.lower()
    # Only a file named as a list is downloaded here (Letterboxd's watchlist.csv, IMDb's
    # WATCHLIST.csv or a list export); rating files go straight on to the rating import.
    if (
        suffix not in CSV_SUFFIXES
        or "list" not in filename.lower()
        or (document.file_size or 0) > limit
    ):
        return  # the rating import explains what it refuses
    try:
        file = await document.get_file()
        data = bytes(await file.download_as_bytearray())
    except TelegramError as exc:
        log.warning("downloading a possible watchlist failed: %s", redact(exc))
        return
    if len(data) > limit or not looks_like_watchlist(data, filename):
        return

    async def run(update: Update, context: BotContext) -> None:
        await _import_watchlist(update, context, data, filename)

    await stop_after_politely(run, feature="watchlist", apology=APOLOGY)(update, context)


async def _import_watchlist(
    update: Update, context: BotContext, data: bytes, filename: str
) -> None:
    _ = translator_for(update)
    s = context.services
    user = update.effective_user
    assert user is not None
    matcher = s.features.get(Watchlists).matcher(s)
    shown = filename if len(filename) <= 60 else filename[:57] + "…"
    try:
        parsed = await s.match(read_watchlist, data, matcher, filename=filename)
    except ProfileImportError as exc:
        await message_of(update).reply_text(str(exc))
        return
    added = await asyncio.to_thread(s.watchlist.add_many, owner_of(user), parsed.matched)
    lines = [
        _(
            "{name}: {matched} of {rows} movies found, {added} new on your watchlist.",
            name=shown,
            matched=_.number(len(parsed.matched)),
            rows=_.number(parsed.rows),
            added=_.number(added),
        )
    ]
    for miss in parsed.unmatched[:5]:
        lines.append(
            _("Row {row}: {text}: {reason}", row=miss.row, text=miss.text, reason=miss.reason)
        )
    if len(parsed.unmatched) > 5:
        lines.append(_("… and {count} more not found.", count=len(parsed.unmatched) - 5))
    lines.append(_("See it with /watchlist."))
    await message_of(update).reply_text("\n".join(lines)[:4000])
