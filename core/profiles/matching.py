"""Find the catalogue movie an import row means: by IMDb id, by movieId, or by title and year.

Title matching is strict on purpose: a wrong movie in someone's profile is worse than a row
reported as unmatched. A title is accepted only when the title search is confident, and
when the file gives a year, only if the movie has that very year; or when exactly one movie
has both the exact name and the year. Everything else comes
back with a reason a person can act on.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

import numpy as np

from ..data import Dataset
from ..data.search import EXACT, TitleIndex

_IMDB_CONST = re.compile(r"^tt0*(\d{1,10})$")
NEAR_SCORE = 90.0  # candidates this close to the query make a title ambiguous
CLOSEST_SCORE = 80.0  # a candidate worth naming as "the closest"
MAX_NAMED = 3  # candidates named in an "ambiguous" reason
# Titles remembered across imports (diaries repeat them), bounded in bytes rather than
# entries: a file of long titles must not make the cache large.
MAX_CACHED_BYTES = 16 * 1024 * 1024
_ENTRY_BYTES = 200  # a dict slot, the key tuple and the answer tuple around the strings
QUOTED = 60  # characters of a title quoted back in a reason


class MovieMatcher:
    """Matches import rows against one dataset. Build it once and reuse it across imports:
    it holds the title index and a cache of titles already looked up."""

    def __init__(
        self,
        dataset: Dataset,
        index: TitleIndex | None = None,
        beyond: Callable[[int], bool] | None = None,
    ) -> None:
        """``beyond``: whether a movieId outside ``dataset`` names a movie all the same (a
        stored catalogue movie, :meth:`reelpick.app.Reelpick.knows`): our own exports name
        such movies by id, and import back whole."""
        self.dataset = dataset
        self._beyond = beyond
        self._index = index if index is not None else TitleIndex(dataset)
        movies = dataset.movies
        ids = movies.index.to_numpy(dtype=np.int64)
        years = movies["year"].to_numpy(dtype=float, na_value=np.nan)
        self._years = {
            int(m): (int(y) if y == y else None) for m, y in zip(ids, years, strict=True)
        }
        imdb = movies["imdb_id"].dropna()
        self._by_imdb: dict[int, int] = {}
        # Index order is movieId order: where links.csv gives two movies one IMDb title,
        # the older movieId keeps it.
        for movie_id, imdb_id in zip(imdb.index, imdb.astype("int64"), strict=True):
            self._by_imdb.setdefault(int(imdb_id), int(movie_id))
        self._imdb_of = {movie: imdb_id for imdb_id, movie in self._by_imdb.items()}
        self._titles: dict[tuple[str, int | None], tuple[int | None, str]] = {}
        self._cached_bytes = 0

    def knows(self, movie_id: int) -> bool:
        return movie_id in self._years or (self._beyond is not None and self._beyond(movie_id))

    def by_imdb(self, const: str) -> int | None:
        """The movie of an IMDb id such as ``"tt0113277"``, if links.csv has it."""
        found = _IMDB_CONST.match(const.strip().lower())
        return self._by_imdb.get(int(found.group(1))) if found else None

    def by_title(self, title: str, year: int | None) -> tuple[int | None, str]:
        """``(movie_id, "")`` for a sure match, else ``(None, reason)``."""
        key = (title, year)
        found = self._titles.get(key)
        if found is None:
            found = self._search(title, year)
            cost = sys.getsizeof(title) + sys.getsizeof(found[1]) + _ENTRY_BYTES
            if self._cached_bytes + cost > MAX_CACHED_BYTES:  # a long-lived bot
                self._titles.clear()
                self._cached_bytes = 0
            self._titles[key] = found
            self._cached_bytes += cost
        return found

    def _search(self, title: str, year: int | None) -> tuple[int | None, str]:
        shown = title if len(title) <= QUOTED else title[:QUOTED] + "…"
        wanted = f"'{shown}'" + (f" ({year})" if year is not None else "")
        result = self._index.search(f"{title} ({year})" if year is not None else title)
        candidates = result.candidates
        if result.confident and (year is None or self._years[candidates[0].movie_id] == year):
            return candidates[0].movie_id, ""
        if year is not None:
            # The search may doubt an exact name when a better-known film is close ("The
            # Walking Dead" vs "Dead Man Walking"); the exact name *and* year settle it.
            exact = [c for c in candidates if c.score >= EXACT and self._years[c.movie_id] == year]
            if len(exact) == 1:
                return exact[0].movie_id, ""
        near = [
            c
            for c in candidates
            if c.score >= NEAR_SCORE and (year is None or self._years[c.movie_id] == year)
        ]
        if len(near) > 1:
            named = ", ".join(self._tell_apart([c.movie_id for c in near[:MAX_NAMED]]))
            more = f" and {len(near) - MAX_NAMED} more" if len(near) > MAX_NAMED else ""
            return None, f"ambiguous: {wanted} could be {named}{more}"
        reason = f"no movie titled {wanted} in the catalogue"
        if candidates and candidates[0].score >= CLOSEST_SCORE:
            # Named so the person can see why (often the year differs by one).
            reason += f" (the closest is {candidates[0].label})"
        return None, reason

    def _tell_apart(self, movie_ids: list[int]) -> list[str]:
        """Labels of the movies, with their IMDb id where two labels would read the same
        ("Emma (1996)" is two films in MovieLens)."""
        labels = [self.dataset.label(m) for m in movie_ids]
        return [
            f"{label} [tt{self._imdb_of[m]:07d}]"
            if labels.count(label) > 1 and m in self._imdb_of
            else label
            for label, m in zip(labels, movie_ids, strict=True)
        ]
