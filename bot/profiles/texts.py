"""Wording, button data and keyboards of the profile feature (no Telegram calls here).

/forget's buttons carry the person and a one-time nonce (``forget:<yes|no>:<user id>:<nonce>``),
parsed strictly. The rating buttons, which other features send too, are
:mod:`reelpick.bot.rating_buttons`.

Wording is in the reader's language: constants are message ids (``N_``) translated where they
are sent, and every function that words something takes the reader's translator ``_``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType

from reelpick.data import Dataset
from reelpick.profiles import Entry, ImportResult
from reelpick.types import PluginAnswer, Profile

from ..context import BotContext
from ..i18n import N_, Translator
from ..media import genre_line
from ..rating_buttons import STARS, Mark
from ..updates import chat_of, message_of

Label = Callable[[int], str | None]  # "Heat (1995)", or None for an id no longer known

FORGET_PREFIX = "forget:"
_FORGET = re.compile(r"forget:(yes|no):([1-9]\d{0,19}):([0-9a-f]{16})")
UNMATCHED_SHOWN = 5  # unmatched import rows listed in the reply
TOP_SHOWN = 5  # top-rated movies named in /myratings
BECAUSE_SHOWN = 2  # liked movies named in a pick's "because"

# -- one-line answers to a refused button ------------------------------------------------
NOT_YOURS = N_("These buttons are for someone else.")
UNKNOWN_MOVIE = N_("I don't know that movie.")
# A profile command in a group: one whole sentence per command, for translators' sake.
PRIVATE_RATE = N_(
    "Your ratings are personal, so I keep them to a private chat with you. "
    "Tap below and I'll ask you there."
)
PRIVATE_FORME = N_(
    "Your ratings are personal, so I keep them to a private chat with you. "
    "Tap below for your picks there."
)
PRIVATE_MYRATINGS = N_(
    "Your ratings are personal, so I keep them to a private chat with you. "
    "Send /myratings to me there."
)
PRIVATE_FORGET = N_(
    "Your ratings are personal, so I keep them to a private chat with you. "
    "Send /forget to me there."
)


@dataclass(frozen=True)
class ForgetPress:
    confirmed: bool
    user_id: int
    nonce: str


def parse_forget(data: str | None) -> ForgetPress | None:
    found = _FORGET.fullmatch(data or "")
    if found is None:
        return None
    return ForgetPress(found.group(1) == "yes", int(found.group(2)), found.group(3))


def forget_keyboard(user_id: int, nonce: str, _: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Delete everything"), callback_data=f"{FORGET_PREFIX}yes:{user_id}:{nonce}"
                ),
                InlineKeyboardButton(
                    _("Keep"), callback_data=f"{FORGET_PREFIX}no:{user_id}:{nonce}"
                ),
            ]
        ]
    )


def private_keyboard(username: str, payload: str, text: str) -> InlineKeyboardMarkup:
    """A button opening the private chat with the bot, sending ``/start <payload>``
    (``text`` already in the reader's language)."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, url=f"https://t.me/{username}?start={payload}")]]
    )


async def only_in_private(
    update: Update, context: BotContext, text: str, payload: str, button: str
) -> bool:
    """True in a private chat; elsewhere reply ``text`` with a button that opens the private
    chat on ``/start <payload>`` (profiles are personal: never shown in a group)."""
    if chat_of(update).type == ChatType.PRIVATE:
        return True
    await message_of(update).reply_text(
        text, reply_markup=private_keyboard(context.bot.username, payload, button)
    )
    return False


def recorded(choice: str, label: str, _: Translator) -> str:
    """The short answer to a rating press (shown as a toast, at most 200 characters)."""
    if choice in STARS:
        text = _("★{stars} for {title}", stars=choice, title=label)
    elif choice == Mark.SEEN:
        text = _("Marked as seen: {title}", title=label)
    elif choice == Mark.NOT_INTERESTED:
        text = _("I won't suggest {title}", title=label)
    else:
        text = _("Skipped")
    return text[:190]


def question_caption(dataset: Dataset, movie_id: int, rated: int, _: Translator) -> str:
    """HTML caption of a /rate question: title, genres, how far the person has come."""
    lines = [f"<b>{html.escape(dataset.label(movie_id))}</b>"]
    genres = genre_line(dataset.genres(movie_id), _)
    if genres:
        lines.append(genres)
    lines.append(_("How would you rate it? ({rated} rated so far; /forme for picks)", rated=rated))
    return "\n".join(lines)


def name(dataset: Dataset, movie_id: int, _: Translator, label: Label | None = None) -> str:
    """A movie's name without the year ("Heat"), for short reasons; a movie beyond the
    dataset (a catalogue movie) by ``label``, with its year."""
    if movie_id in dataset:
        return str(dataset.movies.loc[movie_id]["name"])
    found = label(movie_id) if label is not None else None
    return found if found is not None else _("movie {id}", id=movie_id)


def because_text(
    dataset: Dataset, because: tuple[int, ...], _: Translator, label: Label | None = None
) -> str:
    """``"because you liked Heat, Ronin"`` from a recommendation's reasons ("" for none)."""
    names = [name(dataset, m, _, label) for m in because[:BECAUSE_SHOWN]]
    return _("because you liked {titles}", titles=", ".join(names)) if names else ""


def shortfall_line(answer: PluginAnswer, _: Translator) -> str | None:
    """Why a plugin has no personal picks, worded for the person; None when it has some.

    :meth:`PluginAnswer.shortfall` decides *whether*; its wording speaks of "this movie",
    so the personal flow says it its own way (the technical error text stays in the log).
    """
    if answer.shortfall(with_error=False) is None:
        return None
    if answer.error:
        return _("{label} could not make picks for you just now.", label=answer.label)
    if answer.no_answer:  # the plugin's own reason: its data, shown as it is
        return _(
            "{label} has no picks for you: {reason}.", label=answer.label, reason=answer.no_answer
        )
    return _("{label} found nothing new for you.", label=answer.label)


def forme_header(profile: Profile, _: Translator) -> str:
    rated = len(profile.ratings)
    return _.ngettext(
        "<b>Picks for you</b>, from your {count} rating. Rate more with /rate to sharpen them.",
        "<b>Picks for you</b>, from your {count} ratings. Rate more with /rate to sharpen them.",
        rated,
    )


EMPTY_PROFILE = N_(
    "<b>I don't know your taste yet.</b> Rate a few movies with /rate (one tap each), or send "
    "me your Letterboxd or IMDb ratings export (a CSV file). Meanwhile, some well-liked movies:"
)
NO_RECOMMENDER = N_("No recommender can make personal picks right now; see /plugins.")


def summary(profile: Profile, entries: list[Entry], label: Label, _: Translator) -> str:
    """HTML summary for /myratings: counts and a few top-rated movies (dataset and catalogue
    movies: ``label`` gives None for an id neither knows any more)."""
    ratings = len(profile.ratings)
    rated_line = (
        _("Rated: {count} (average ★{mean})", count=ratings, mean=_.number(profile.mean_rating, 1))
        if profile.mean_rating
        else _("Rated: {count}", count=ratings)
    )
    lines = [
        _("<b>Your ratings</b>"),
        rated_line,
        _("Seen, no rating: {count}", count=len(profile.seen)),
        _("Not interested: {count}", count=len(profile.not_interested)),
    ]
    rated: list[tuple[Entry, str]] = []
    # Best first; among equals the most recent change first. Labelled one by one until
    # enough are named: a movie no longer known is skipped, and no more rows are read.
    for entry in sorted(
        (e for e in entries if e.kind == "rating"), key=lambda e: (-(e.stars or 0), -e.updated_at)
    ):
        if len(rated) == TOP_SHOWN:
            break
        if (title := label(entry.movie_id)) is not None:
            rated.append((entry, title))
    if rated:
        lines.append(_("Top rated:"))
        lines += [f"★{e.stars:g} {html.escape(title)}" for e, title in rated]
    lines.append(_("The full list is in the file below (it imports back unchanged)."))
    return "\n".join(lines)


NOTHING_RATED = N_(
    "You have no ratings yet. Rate movies with /rate, or send me your Letterboxd or IMDb "
    "ratings export (a CSV file)."
)


def import_report(result: ImportResult, filename: str, _: Translator) -> str:
    """HTML reply to an import: what matched, what changed, a few rows that did not match.

    The notes and row reasons come from :mod:`reelpick.profiles` (core) in English.
    """
    lines = [
        _.ngettext(
            "Imported <b>{file}</b> ({format}): {matched} of {rows} row matched a movie; "
            "{changed} changed your profile.",
            "Imported <b>{file}</b> ({format}): {matched} of {rows} rows matched a movie; "
            "{changed} changed your profile.",
            result.rows,
            file=html.escape(filename),
            format=result.format,
            matched=_.number(result.matched),
            rows=_.number(result.rows),
            changed=_.number(result.changed),
        )
    ]
    lines += [html.escape(note) for note in result.notes]
    if result.unmatched:
        lines.append(
            _.ngettext(
                "{count} row did not match, for example:",
                "{count} rows did not match, for example:",
                len(result.unmatched),
            )
        )
        lines += [
            _("row {row}: {reason}", row=u.row, reason=html.escape(u.reason))
            for u in result.unmatched[:UNMATCHED_SHOWN]
        ]
    lines.append(_("See them with /myratings; picks with /forme."))
    return "\n".join(lines)


def import_refused(reason: str, _: Translator) -> str:
    """``reason`` comes from :mod:`reelpick.profiles` (core), in English."""
    return _("Nothing stored: {reason}.", reason=reason)


# Pictures go to the photo feature; this answers every other kind of file.
NOT_A_CSV = N_(
    "I can read your ratings from a CSV file (your Letterboxd export ratings.csv or your IMDb "
    "ratings export) and find a movie from a picture of its poster. {name} is neither."
)
# size and limit come in formatted with Translator.number (decimal comma in German).
TOO_BIG = N_("Nothing stored: {name} is {size} MB; an import takes at most {limit} MB.")
ZIPPED = N_(
    "Nothing stored: {name} is a zip archive. Unpack it and send me the CSV file inside "
    "(ratings.csv for Letterboxd)."
)
STILL_IMPORTING = N_("Your previous import is still running; send this file again once it is done.")
DOWNLOAD_FAILED = N_("I couldn't download {name} from Telegram just now; please send it again.")
