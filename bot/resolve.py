"""From what a person typed to one movie: clean the text, search, and build choice buttons.

Shared by every feature that takes a title (the /similar flow, movie nights' /suggest):

    found = resolve_title(app, text)
    if found.kind == TitleKind.MATCH:        ... found.movie_id
    elif found.kind == TitleKind.AMBIGUOUS:  reply with choice_keyboard(found.candidates)
    elif found.kind == TitleKind.NONE:       reply with choice_keyboard(found.candidates)
    else:                                    reply found.problem  (INVALID: empty, emoji, long)

Texts for people come in the asker's language: ``resolve_title(app, text, translate=_)`` words
``found.problem`` with it and ``question_text(found, _)`` the question (English without one).
Buttons carry ``"<action>:<movie_id>"`` (``action`` defaults to "pick"); read them back with
:func:`parse_choice`.
"""

from __future__ import annotations

import html
import logging
import re
import threading
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz, process
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from reelpick.app import Reelpick
from reelpick.catalogue import Candidate as OnlineCandidate
from reelpick.data.search import MAX_QUERY, Candidate, normalise
from reelpick.errors import ReelpickError

from .i18n import Translator, translator

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 10_000
BUTTON_TEXT = 60
# Real titles of the catalogue, so not translated; only the words around them are.
EXAMPLE_TITLES = ("Heat", "The Matrix 1999", "Amelie")
ENGLISH = translator(None)  # for callers that do not say whom they answer


def examples(translate: Translator = ENGLISH) -> str:
    """``"Heat, The Matrix 1999 or Amelie"`` in the reader's language."""
    _ = translate
    first, second, third = EXAMPLE_TITLES
    return _("{first}, {second} or {third}", first=first, second=second, third=third)


_names_cache: dict[str, tuple[list[str], list[int]]] = {}
_names_lock = threading.Lock()


class TitleKind(StrEnum):
    """What a typed title turned out to be."""

    MATCH = "match"  # one movie, clearly
    AMBIGUOUS = "ambiguous"  # several candidates to choose from
    NONE = "none"  # no movie; "did you mean" suggestions, perhaps
    INVALID = "invalid"  # not a title at all (empty, only emoji, too long)
    ONLINE = "online"  # TMDB's candidates match better than any local title: choose one


@dataclass(frozen=True)
class Resolution:
    query: str
    kind: TitleKind
    movie_id: int | None = None
    candidates: tuple[Candidate, ...] = ()  # choices (ambiguous) or suggestions (none)
    problem: str = ""  # what to tell the person when kind is "invalid"
    online: tuple[OnlineCandidate, ...] = ()  # TMDB's candidates (buttons ``tmdb:<id>``)


def clean_title(text: str | None, translate: Translator = ENGLISH) -> tuple[str, str]:
    """``(title, problem)``: the title with spaces tidied, or why it cannot be one (worded
    with ``translate``)."""
    _ = translate
    text = text or ""
    if len(text.encode("utf-8", "replace")) > MAX_MESSAGE_BYTES or len(text) > MAX_QUERY:
        return "", _(
            "That is too long for a movie title (at most {limit} characters). "
            "Send just the title, for example {examples}.",
            limit=MAX_QUERY,
            examples=examples(_),
        )
    title = re.sub(r"\s+", " ", text).strip()
    if not title:
        return "", _("Send me a movie title, for example {examples}.", examples=examples(_))
    if not any(c.isalnum() for c in title):
        return "", _(
            "I can only look up movie titles, for example {examples}.", examples=examples(_)
        )
    return title, ""


def resolve_title(
    app: Reelpick, text: str | None, limit: int = 5, *, translate: Translator = ENGLISH
) -> Resolution:
    """Resolve free text to a movie: a clear match, several candidates, or suggestions.
    ``translate`` words ``problem`` in the asker's language."""
    title, problem = clean_title(text, translate)
    if problem:
        return Resolution(text or "", TitleKind.INVALID, problem=problem)
    found = app.search(title, limit)
    if found.confident:
        return Resolution(title, TitleKind.MATCH, movie_id=found.candidates[0].movie_id)
    if found.candidates:
        return Resolution(title, TitleKind.AMBIGUOUS, candidates=tuple(found.candidates))
    return Resolution(title, TitleKind.NONE, candidates=tuple(did_you_mean(app, title, limit)))


def resolve_online(
    app: Reelpick,
    text: str | None,
    limit: int = 5,
    *,
    translate: Translator = ENGLISH,
    language: str | None = None,
) -> Resolution:
    """:func:`resolve_title` over the dataset and the catalogue, asking TMDB when no local
    title is a sure match (:meth:`Reelpick.lookup`): a clearly better TMDB movie is added to
    the catalogue and answered at once; otherwise TMDB's candidates come with the local ones.
    Without TMDB (or when it fails) exactly :func:`resolve_title`. Runs TMDB round trips:
    call it on a worker thread."""
    title, problem = clean_title(text, translate)
    if problem or not app.tmdb_available:
        return resolve_title(app, text, limit, translate=translate)
    try:
        found = app.lookup(title, language=language)
        best = found.online_best
        movie_id = found.movie_id
        if movie_id is None and best is not None:
            movie_id = app.add_from_tmdb(best.tmdb_id)
    except ReelpickError as exc:
        log.warning("TMDB lookup of a title failed: %s", exc)
        return resolve_title(app, text, limit, translate=translate)
    if movie_id is not None:
        return Resolution(title, TitleKind.MATCH, movie_id=movie_id)
    local, online = tuple(found.local.candidates[:limit]), tuple(found.online[:limit])
    if found.prefer_online or (online and not local):
        return Resolution(title, TitleKind.ONLINE, candidates=local, online=online)
    if local:
        return Resolution(title, TitleKind.AMBIGUOUS, candidates=local, online=online)
    suggestions = tuple(did_you_mean(app, title, limit))
    return Resolution(title, TitleKind.NONE, candidates=suggestions, online=online)


def did_you_mean(app: Reelpick, query: str, limit: int = 5) -> list[Candidate]:
    """Looser matches than the search's cut-off, best and most rated first (may be empty)."""
    key = normalise(query)
    if not key:
        return []
    names, owners = _names(app)
    counts = app.dataset.rating_counts
    scored: dict[int, float] = {}
    for _name, score, pos in process.extract(
        key, names, scorer=fuzz.WRatio, limit=limit * 4, score_cutoff=50
    ):
        owner = owners[pos]
        scored[owner] = max(scored.get(owner, 0.0), float(score))
    ranked = sorted(scored.items(), key=lambda item: (-item[1], -int(counts.get(item[0], 0))))
    return [Candidate(m, app.dataset.label(m), round(s, 1)) for m, s in ranked[:limit]]


def _names(app: Reelpick) -> tuple[list[str], list[int]]:
    """Normal-form display names of every movie (built once per dataset)."""
    fingerprint = app.dataset.fingerprint
    with _names_lock:
        if fingerprint not in _names_cache:
            movies = app.dataset.movies
            names, owners = [], []
            for movie_id, name in zip(movies.index, movies["name"], strict=True):
                names.append(normalise(str(name)))
                owners.append(int(movie_id))
            _names_cache[fingerprint] = (names, owners)
        return _names_cache[fingerprint]


def choice_keyboard(
    candidates: list[Candidate] | tuple[Candidate, ...],
    action: str = "pick",
    online: tuple[OnlineCandidate, ...] = (),
    online_first: bool = False,
) -> InlineKeyboardMarkup:
    """One button per candidate (title + year), carrying ``"<action>:<movie_id>"``; TMDB's
    ``online`` candidates carry ``"tmdb:<tmdb id>"`` (``pick`` when already stored), after
    the local ones or (``online_first``) before them; a movie is offered once."""
    local: list[tuple[str, str, int | None]] = [
        (c.label, f"{action}:{c.movie_id}", c.movie_id) for c in candidates
    ]
    remote = [
        (
            "🌐 " + c.label,
            f"{action}:{c.movie_id}" if c.movie_id else f"tmdb:{c.tmdb_id}",
            c.movie_id,
        )
        for c in online
    ]
    rows, seen = [], set()
    for label, data, movie_id in (remote + local) if online_first else (local + remote):
        if movie_id is not None and movie_id in seen:
            continue
        seen.add(movie_id)
        rows.append([InlineKeyboardButton(_short(label), callback_data=data)])
    return InlineKeyboardMarkup(rows)


def parse_online_choice(data: str | None) -> int | None:
    """The TMDB id of an online candidate's button, or None if it is not one."""
    match = re.fullmatch(r"tmdb:([1-9][0-9]{0,9})", data or "")
    return int(match.group(1)) if match else None


def parse_choice(data: str | None, action: str = "pick") -> int | None:
    """The movie id of a button made by :func:`choice_keyboard`, or None if it is not one."""
    match = re.fullmatch(rf"{re.escape(action)}:(\d{{1,10}})", data or "")
    return int(match.group(1)) if match else None


def question_text(found: Resolution, translate: Translator = ENGLISH) -> str:
    """The HTML question above the buttons of an ambiguous or unmatched title."""
    _ = translate
    shown = html.escape(found.query[:80])
    if found.kind in (TitleKind.AMBIGUOUS, TitleKind.ONLINE):
        return _("Which “{title}” do you mean?", title=shown)
    if found.candidates or found.online:
        return _("I found no movie called “{title}”. Did you mean one of these?", title=shown)
    return _(
        "I found no movie called “{title}”. Check the spelling, or try {examples}.",
        title=shown,
        examples=examples(_),
    )


def _short(text: str) -> str:
    return text if len(text) <= BUTTON_TEXT else text[: BUTTON_TEXT - 1] + "…"
