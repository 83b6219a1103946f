"""The "watch later" button any feature puts under a movie, and its strict callback data.

``wl:a:<movie id>`` adds the movie to the watchlist of whoever presses (never the chat's,
never the sender's of the message): in a group each member keeps their own list. The
watchlist feature (:mod:`reelpick.bot.watchlist`) answers the presses; any data may arrive,
so :func:`parse_watchlist_data` accepts only the shapes the bot writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from .i18n import N_, Translator

WATCH_LATER = N_("🔖 Watch later")
# add, remove from the list view (with the page to show after), turn to a page
_DATA = re.compile(
    r"wl:(?:(a):([1-9][0-9]{0,11})|(r):([1-9][0-9]{0,11}):([0-9]{1,4})|(p):([0-9]{1,4}))"
)


@dataclass(frozen=True)
class WatchlistPress:
    action: str  # "add", "remove" or "page"
    movie_id: int | None
    page: int


def add_data(movie_id: int) -> str:
    return f"wl:a:{int(movie_id)}"


def remove_data(movie_id: int, page: int) -> str:
    return f"wl:r:{int(movie_id)}:{int(page)}"


def page_data(page: int) -> str:
    return f"wl:p:{int(page)}"


def parse_watchlist_data(data: str | None) -> WatchlistPress | None:
    """The press ``data`` stands for, or None for anything the bot never wrote."""
    found = _DATA.fullmatch(data or "")
    if found is None:
        return None
    add, added, remove, removed, after, page, number = found.groups()
    if add:
        return WatchlistPress("add", int(added), 0)
    if remove:
        return WatchlistPress("remove", int(removed), int(after))
    return WatchlistPress("page", None, int(number))


def watch_later_button(movie_id: int, _: Translator) -> InlineKeyboardButton:
    return InlineKeyboardButton(_(WATCH_LATER), callback_data=add_data(movie_id))


def with_watch_later(
    markup: InlineKeyboardMarkup | None, movie_id: int, _: Translator
) -> InlineKeyboardMarkup:
    """``markup`` (rating buttons, say) with a "watch later" row at the bottom."""
    rows = [list(row) for row in markup.inline_keyboard] if markup is not None else []
    return InlineKeyboardMarkup([*rows, [watch_later_button(movie_id, _)]])
