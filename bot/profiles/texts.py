"""Wording, button data and keyboards of the profile feature (no Telegram calls here).

Button data is parsed strictly: every rating button carries the movie *and* the person it
was sent to (``rate:<choice>:<movie id>:<user id>``), so a press is accepted only from that
person and only for a movie the catalogue knows; /forget's buttons carry a one-time nonce.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from reelpick.data import Dataset
from reelpick.profiles import Entry, ImportResult
from reelpick.types import PluginAnswer, Profile

RATE_PREFIX = "rate:"
FORGET_PREFIX = "forget:"
STARS = ("1", "2", "3", "4", "5")
# choice code in button data -> button text
CHOICES = {
    **{s: f"★{s}" for s in STARS},
    "seen": "Seen it",
    "no": "Not interested",
    "skip": "Skip",
}
_RATE = re.compile(r"rate:(1|2|3|4|5|seen|no|skip):([1-9]\d{0,9}):([1-9]\d{0,19})")
_FORGET = re.compile(r"forget:(yes|no):([1-9]\d{0,19}):([0-9a-f]{16})")
UNMATCHED_SHOWN = 5  # unmatched import rows listed in the reply
TOP_SHOWN = 5  # top-rated movies named in /myratings
BECAUSE_SHOWN = 2  # liked movies named in a pick's "because"

# -- one-line answers to a refused button ------------------------------------------------
STALE = "That button is out of date."
NOT_YOURS = "These buttons are for someone else."
UNKNOWN_MOVIE = "I don't know that movie."
PRIVATE_ONLY = "Your ratings are personal, so I keep them to a private chat with you."


@dataclass(frozen=True)
class RatePress:
    choice: str  # "1".."5", "seen", "no" or "skip"
    movie_id: int
    user_id: int


@dataclass(frozen=True)
class ForgetPress:
    confirmed: bool
    user_id: int
    nonce: str


def parse_rate(data: str | None) -> RatePress | None:
    """The press a rating button carries, or None for anything that is not exactly one."""
    found = _RATE.fullmatch(data or "")
    if found is None:
        return None
    return RatePress(found.group(1), int(found.group(2)), int(found.group(3)))


def parse_forget(data: str | None) -> ForgetPress | None:
    found = _FORGET.fullmatch(data or "")
    if found is None:
        return None
    return ForgetPress(found.group(1) == "yes", int(found.group(2)), found.group(3))


def rating_keyboard(
    movie_id: int, user_id: int, *, chosen: str | None = None, skip: bool = True
) -> InlineKeyboardMarkup:
    """★1…★5, then "Seen it", "Not interested" (and "Skip" in /rate); ``chosen`` is marked."""

    def button(choice: str) -> InlineKeyboardButton:
        text = CHOICES[choice]
        return InlineKeyboardButton(
            f"✓ {text}" if choice == chosen else text,
            callback_data=f"{RATE_PREFIX}{choice}:{int(movie_id)}:{int(user_id)}",
        )

    marks = ["seen", "no", *(["skip"] if skip else [])]
    return InlineKeyboardMarkup([[button(s) for s in STARS], [button(m) for m in marks]])


def forget_keyboard(user_id: int, nonce: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    "Delete everything", callback_data=f"{FORGET_PREFIX}yes:{user_id}:{nonce}"
                ),
                InlineKeyboardButton("Keep", callback_data=f"{FORGET_PREFIX}no:{user_id}:{nonce}"),
            ]
        ]
    )


def private_keyboard(username: str, payload: str, text: str) -> InlineKeyboardMarkup:
    """A button opening the private chat with the bot, sending ``/start <payload>``."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, url=f"https://t.me/{username}?start={payload}")]]
    )


def recorded(choice: str, label: str) -> str:
    """The short answer to a rating press (shown as a toast, at most 200 characters)."""
    if choice in STARS:
        text = f"★{choice} for {label}"
    elif choice == "seen":
        text = f"Marked as seen: {label}"
    elif choice == "no":
        text = f"I won't suggest {label}"
    else:
        text = "Skipped"
    return text[:190]


def question_caption(dataset: Dataset, movie_id: int, rated: int) -> str:
    """HTML caption of a /rate question: title, genres, how far the person has come."""
    genres = [g for g in dataset.movies.loc[movie_id]["genres"] if g != "(no genres listed)"]
    lines = [f"<b>{html.escape(dataset.label(movie_id))}</b>"]
    if genres:
        lines.append(html.escape(" · ".join(genres)))
    lines.append(f"How would you rate it? ({rated} rated so far; /forme for picks)")
    return "\n".join(lines)


def name(dataset: Dataset, movie_id: int) -> str:
    """A movie's name without the year ("Heat"), for short reasons."""
    if movie_id not in dataset:
        return f"movie {movie_id}"
    return str(dataset.movies.loc[movie_id]["name"])


def because_text(dataset: Dataset, because: tuple[int, ...]) -> str:
    """``"because you liked Heat, Ronin"`` from a recommendation's reasons ("" for none)."""
    names = [name(dataset, m) for m in because[:BECAUSE_SHOWN]]
    return f"because you liked {', '.join(names)}" if names else ""


def shortfall_line(answer: PluginAnswer) -> str | None:
    """Why a plugin has no personal picks, worded for the person; None when it has some.

    :meth:`PluginAnswer.shortfall` decides *whether*; its wording speaks of "this movie",
    so the personal flow says it its own way (the technical error text stays in the log).
    """
    if answer.shortfall(with_error=False) is None:
        return None
    if answer.error:
        return f"{answer.label} could not make picks for you just now."
    if answer.no_answer:
        return f"{answer.label} has no picks for you: {answer.no_answer}."
    return f"{answer.label} found nothing new for you."


def forme_header(profile: Profile) -> str:
    rated = len(profile.ratings)
    return (
        f"<b>Picks for you</b>, from your {rated} rating{'s' if rated != 1 else ''}. "
        "Rate more with /rate to sharpen them."
    )


EMPTY_PROFILE = (
    "<b>I don't know your taste yet.</b> Rate a few movies with /rate (one tap each), or send "
    "me your Letterboxd or IMDb ratings export (a CSV file). Meanwhile, some well-liked movies:"
)
NO_RECOMMENDER = "No recommender can make personal picks right now; see /plugins."


def summary(profile: Profile, entries: list[Entry], dataset: Dataset) -> str:
    """HTML summary for /myratings: counts and a few top-rated movies."""
    ratings = len(profile.ratings)
    lines = [
        "<b>Your ratings</b>",
        f"Rated: {ratings}"
        + (f" (average ★{profile.mean_rating:.1f})" if profile.mean_rating else ""),
        f"Seen, no rating: {len(profile.seen)}",
        f"Not interested: {len(profile.not_interested)}",
    ]
    # Best first; among equals the most recent change first.
    rated = sorted(
        (e for e in entries if e.kind == "rating" and e.movie_id in dataset),
        key=lambda e: (-(e.stars or 0), -e.updated_at),
    )[:TOP_SHOWN]
    if rated:
        lines.append("Top rated:")
        lines += [f"★{e.stars:g} {html.escape(dataset.label(e.movie_id))}" for e in rated]
    lines.append("The full list is in the file below (it imports back unchanged).")
    return "\n".join(lines)


NOTHING_RATED = (
    "You have no ratings yet. Rate movies with /rate, or send me your Letterboxd or IMDb "
    "ratings export (a CSV file)."
)


def import_report(result: ImportResult, filename: str) -> str:
    """HTML reply to an import: what matched, what changed, a few rows that did not match."""
    shown_name = html.escape(filename)
    lines = [
        f"Imported <b>{shown_name}</b> ({result.format}): {result.matched} of {result.rows} "
        f"rows matched a movie; {result.changed} changed your profile."
    ]
    lines += [html.escape(note) for note in result.notes]
    if result.unmatched:
        lines.append(f"{len(result.unmatched)} rows did not match, for example:")
        lines += [
            f"row {u.row}: {html.escape(u.reason)}" for u in result.unmatched[:UNMATCHED_SHOWN]
        ]
    lines.append("See them with /myratings; picks with /forme.")
    return "\n".join(lines)


def import_refused(reason: str) -> str:
    return f"Nothing stored: {reason}."


NOT_A_CSV = (
    "I can import ratings from a CSV file: your Letterboxd export (ratings.csv) or IMDb "
    "ratings export. {name} is not one."
)
TOO_BIG = "Nothing stored: {name} is {size:.1f} MB; an import takes at most {limit:g} MB."
ZIPPED = (
    "Nothing stored: {name} is a zip archive. Unpack it and send me the CSV file inside "
    "(ratings.csv for Letterboxd)."
)
DOWNLOAD_FAILED = "I couldn't download {name} from Telegram just now; please send it again."
