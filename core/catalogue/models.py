"""What the catalogue hands to front ends: a movie card, where to watch it, online candidates.

Plain frozen dataclasses with no I/O, so that the bot and the CLI can build, compare and
serialise them without touching TMDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

CATALOGUE_ID_BASE = 1_000_000_000
"""Catalogue movie id = base + tmdb_id: far above any MovieLens movieId (ml-32m stops near
300 k), so a catalogue movie can never take a dataset movie's id."""

JUSTWATCH_ATTRIBUTION = "Streaming data: JustWatch"
"""TMDB's watch-provider data comes from JustWatch, which must be credited wherever it is shown."""

WITHOUT_TMDB = (
    "With a TMDB key (TMDB_API_KEY) this card would also show the plot, runtime, director, "
    "cast, rating, trailer and where to watch."
)
"""The one line a card without TMDB says about what a key would add."""


def catalogue_id(tmdb_id: int) -> int:
    return CATALOGUE_ID_BASE + int(tmdb_id)


def is_catalogue_id(movie_id: int) -> bool:
    return int(movie_id) >= CATALOGUE_ID_BASE


@dataclass(frozen=True)
class WhereToWatch:
    """Stream / rent / buy offers in one region (provider names, TMDB's display order)."""

    region: str
    link: str | None
    flatrate: tuple[str, ...]
    rent: tuple[str, ...]
    buy: tuple[str, ...]
    attribution: str = JUSTWATCH_ATTRIBUTION

    @property
    def empty(self) -> bool:
        return not (self.flatrate or self.rent or self.buy)

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "link": self.link,
            "flatrate": list(self.flatrate),
            "rent": list(self.rent),
            "buy": list(self.buy),
        }


@dataclass(frozen=True)
class MovieCard:
    """What a title card shows. ``rating`` is TMDB's vote average (0-10)."""

    id: int
    title: str
    year: int | None
    tmdb_id: int | None
    imdb_id: int | None
    overview: str | None
    runtime: int | None
    genres: tuple[str, ...]
    directors: tuple[str, ...]
    cast: tuple[str, ...]
    rating: float | None
    trailer_url: str | None
    poster_url: str | None
    source: Literal["dataset", "catalogue"]
    where_to_watch: WhereToWatch | None

    @property
    def label(self) -> str:
        """``"Title (Year)"``."""
        return f"{self.title} ({self.year})" if self.year else self.title

    def to_json(self) -> dict[str, Any]:
        """The ``reelpick info --json`` shape."""
        return {
            "movie": {
                "id": self.id,
                "title": self.title,
                "year": self.year,
                "tmdb_id": self.tmdb_id,
                "overview": self.overview,
                "runtime": self.runtime,
                "genres": list(self.genres),
                "directors": list(self.directors),
                "cast": list(self.cast),
                "trailer_url": self.trailer_url,
                "source": self.source,
            },
            "where_to_watch": None
            if self.where_to_watch is None
            else self.where_to_watch.to_json(),
        }


@dataclass(frozen=True)
class Candidate:
    """A TMDB search result. ``movie_id`` is set when the movie is already in the dataset (via
    links.csv) or in the catalogue."""

    tmdb_id: int
    title: str
    year: int | None
    overview: str | None
    movie_id: int | None

    @property
    def label(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title
