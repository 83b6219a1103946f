"""Small value types shared by the core, the plugins and the bot."""

from __future__ import annotations

import bisect
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# A pause this long between two ratings ends a rating session: the product's "still rating"
# and the evaluation's session protocol both cut sessions here.
SESSION_GAP = 3600.0
DAY = 86400.0  # seconds


@dataclass(frozen=True)
class Neighbour:
    """One recommended movie and how similar the plugin thinks it is (higher is closer)."""

    movie_id: int
    score: float


@dataclass(frozen=True)
class NewMovie:
    """A movie outside the rating data (a catalogue movie from TMDB), described by what TMDB
    gives: genres in the dataset's names, year, keywords (where the dataset has user tags),
    and where TMDB keeps its poster (``poster_path``, fetched through the poster store by the
    plugins that look at posters)."""

    movie_id: int
    title: str
    year: int | None
    genres: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    tmdb_id: int | None = None
    poster_path: str | None = None


@dataclass(frozen=True)
class Recommendation(Neighbour):
    """A movie recommended for a person: a :class:`Neighbour` plus ``because``, the profile
    movies that drove it (best reason first; may be empty)."""

    because: tuple[int, ...] = ()


@dataclass(frozen=True, eq=False)
class Profile:
    """What reelpick knows of one person's taste, as plugins see it.

    ``ratings`` maps movieId to stars (0.5 to 5 in half steps); ``seen`` are movies watched
    without a rating; ``not_interested`` are movies the person does not want suggested.
    ``rated_at`` optionally maps movies of ``ratings`` or ``seen`` to when the person rated or
    watched them (Unix seconds); it may be empty or cover only some movies, and plugins that
    use it (recent taste weighs more) must work without it. ``asked_at`` is when the question
    is asked (Unix seconds; None: now): the evaluation asks at a past moment. Plugins read a
    profile; they never store it.
    """

    ratings: Mapping[int, float] = field(default_factory=dict)
    seen: frozenset[int] = frozenset()
    not_interested: frozenset[int] = frozenset()
    rated_at: Mapping[int, float] = field(default_factory=dict)
    asked_at: float | None = None

    @property
    def movies(self) -> frozenset[int]:
        """Every movie the profile mentions: none of them is ever recommended back."""
        return frozenset(self.ratings) | self.seen | self.not_interested

    @property
    def mean_rating(self) -> float | None:
        return sum(self.ratings.values()) / len(self.ratings) if self.ratings else None

    def liked(self, threshold: float | None = None) -> dict[int, float]:
        """Ratings at or above ``threshold`` (default: the person's own mean, at least 3.5)."""
        if threshold is None:
            threshold = max(3.5, self.mean_rating or 0.0)
        return {m: r for m, r in self.ratings.items() if r >= threshold}

    def still_rating(self, gap: float = SESSION_GAP) -> bool:
        """Whether the person asks in the middle of a rating session: their latest timed
        rating or watch is less than ``gap`` seconds before ``asked_at`` (or now). A time
        after the question (a file's date in a timezone ahead) is no session under way."""
        if not self.rated_at:
            return False
        now = time.time() if self.asked_at is None else self.asked_at
        return 0.0 <= now - max(self.rated_at.values()) < gap

    def recency_weights(
        self, movies: Sequence[int], half_life: float, returning_half_life_days: float = 0.0
    ) -> list[float]:
        """A weight for each of ``movies`` (the profile movies a plugin counts).

        While the person is still rating (:meth:`still_rating`), a timed movie weighs
        ``0.5 ** (later / half_life)``, ``later`` being how many of ``movies`` were rated
        strictly after it (so movies rated at the same moment, as a whole file imported at
        once, weigh the same). That predicts the rest of the session being rated.

        A person who comes back later is weighed by age instead: a timed movie weighs
        ``0.5 ** (days / returning_half_life_days)``, ``days`` being how long before the
        latest of ``movies`` it was rated. Counting ratings would drop all but the last
        session, however long ago; counting days keeps last month's sessions and fades the
        years-old ones, whose taste has moved on.

        Either way a movie without a time weighs as the oldest timed one; with the matching
        half-life at 0 or below, or no times, all weigh 1.
        """
        times = self.rated_at
        timed = sorted(times[m] for m in movies if m in times)
        if not timed:
            return [1.0] * len(movies)
        weight_of = {}
        if self.still_rating():
            if half_life <= 0:
                return [1.0] * len(movies)
            for m in movies:
                if m in times:
                    later = len(timed) - bisect.bisect_right(timed, times[m])
                    weight_of[m] = 0.5 ** (later / half_life)
        else:
            if returning_half_life_days <= 0:
                return [1.0] * len(movies)
            latest, span = timed[-1], returning_half_life_days * DAY
            weight_of = {m: 0.5 ** ((latest - times[m]) / span) for m in movies if m in times}
        oldest = min(weight_of.values())
        return [weight_of.get(m, oldest) for m in movies]

    def __len__(self) -> int:
        return len(self.movies)


@dataclass(frozen=True)
class Need:
    """A product (see :mod:`reelpick.products`) that a plugin's fit needs from another plugin.

    ``when`` names a boolean parameter of the plugin that switches the need on; None: always.
    """

    product: str
    when: str | None = None


@dataclass(frozen=True)
class PluginInfo:
    """What a plugin says about itself in ``reelpick_plugin_info``.

    ``variants`` name other settings of its own ``params`` worth measuring side by side, e.g.
    ``{"zero-filled": {"prediction": "zero-filled"}}``: ``reelpick evaluate`` also scores
    the plugin with each variant that differs from the configured parameters, as
    ``NAME-VARIANT`` (rating accuracy only: a variant is meant to change how it predicts).

    ``needs`` are the products its fit takes from other plugins (the registry fits their
    providers first and passes the products to ``reelpick_fit`` as ``needs``); ``provides``
    are the products it hands over through ``reelpick_provide`` once fitted.

    ``online`` says the plugin answers by asking a web service while a person waits (e.g.
    TMDB). Evaluation and tuning leave such a plugin out, with a line saying so: measured
    offline they would score the service (and send it thousands of requests), not reelpick.
    """

    label: str
    description: str
    version: str = "0"
    params: dict[str, Any] = field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    needs: tuple[Need, ...] = ()
    provides: tuple[str, ...] = ()
    online: bool = False


@dataclass(frozen=True)
class PluginAnswer:
    """One plugin's answer to a query: its neighbours, or why it has none.

    Exactly one of the three outcomes holds: ``neighbours`` (possibly empty),
    ``no_answer`` (an expected "I can't say for this movie"), or ``error``
    (the plugin failed; the traceback was logged).
    """

    plugin: str
    label: str
    neighbours: list[Neighbour] = field(default_factory=list)
    no_answer: str | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.no_answer is None

    def shortfall(self, with_error: bool = True) -> str | None:
        """Why this answer has no movies to show, worded for people; None when it has some.

        The one wording every front end uses (CLI table, contact sheet, bot). ``with_error``
        False leaves out the technical error text (the bot does not show it to chat members).
        """
        if self.error:
            detail = f" ({self.error})" if with_error else ""
            return f"{self.label} had a problem with this movie{detail}"
        if self.no_answer:
            return f"{self.label} has no suggestions for this movie: {self.no_answer}"
        if not self.neighbours:
            return f"{self.label} found no similar movies"
        return None
