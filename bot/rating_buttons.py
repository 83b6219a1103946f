"""Rating buttons, shared by every feature that asks a person to rate a movie.

Button data is parsed strictly: every rating button carries the movie *and* the person it
was sent to (``rate:<choice>:<movie id>:<user id>``), so a press is accepted only from that
person. The profile feature answers the presses; title answers and movie nights send the
buttons. ``owner_of`` is the one spelling of a Telegram user's profile key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, User

from .i18n import N_, Translator, translator_for

RATE_PREFIX = "rate:"
STARS = ("1", "2", "3", "4", "5")


class Mark(StrEnum):
    """A rating button's choice other than stars (its code in the button data)."""

    SEEN = "seen"
    NOT_INTERESTED = "no"
    SKIP = "skip"


# choice code in button data -> button text (a message id; stars are symbols, not words)
CHOICES = {
    **{s: f"★{s}" for s in STARS},
    Mark.SEEN: N_("Seen it"),
    Mark.NOT_INTERESTED: N_("Not interested"),
    Mark.SKIP: N_("Skip"),
}
_RATE = re.compile(r"rate:(1|2|3|4|5|seen|no|skip):([1-9]\d{0,9}):([1-9]\d{0,19})")


def owner_of(user: User | int) -> str:
    """The profile owner key of a Telegram user (``tg:<user id>``)."""
    return f"tg:{int(user if isinstance(user, int) else user.id)}"


@dataclass(frozen=True)
class RatePress:
    choice: str  # one of STARS, or a Mark
    movie_id: int
    user_id: int


def parse_rate(data: str | None) -> RatePress | None:
    """The press a rating button carries, or None for anything that is not exactly one."""
    found = _RATE.fullmatch(data or "")
    if found is None:
        return None
    return RatePress(found.group(1), int(found.group(2)), int(found.group(3)))


def rating_keyboard(
    movie_id: int,
    user_id: int,
    _: Translator,
    *,
    chosen: str | None = None,
    skip: bool = True,
) -> InlineKeyboardMarkup:
    """★1…★5, then "Seen it", "Not interested" (and "Skip" in /rate); ``chosen`` is marked."""

    def button(choice: str) -> InlineKeyboardButton:
        text = _(CHOICES[choice])
        return InlineKeyboardButton(
            f"✓ {text}" if choice == chosen else text,
            callback_data=f"{RATE_PREFIX}{choice}:{int(movie_id)}:{int(user_id)}",
        )

    marks = [Mark.SEEN, Mark.NOT_INTERESTED, *([Mark.SKIP] if skip else [])]
    return InlineKeyboardMarkup([[button(s) for s in STARS], [button(m) for m in marks]])


def rating_markup(chat_id: int, user: User | None, movie_id: int) -> InlineKeyboardMarkup | None:
    """Rating buttons for a single-movie answer in ``chat_id``, or None where they do not belong.

    Only in the private chat with ``user`` (its chat id is the user's id): in a group a
    highlighted ★ would show everyone the rating.
    """
    if user is None or user.is_bot or int(chat_id) != user.id:
        return None
    return rating_keyboard(movie_id, user.id, translator_for(user), skip=False)
