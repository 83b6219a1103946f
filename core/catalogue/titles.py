"""Title search over catalogue movies and over TMDB's candidates, with the dataset's rules.

:class:`reelpick.data.search.TitleIndex` is built over a dataset's ``movies`` table; here the
same index is built over small tables of catalogue movies (every original and alternative
title an alias), so a typed title is scored the same way wherever the movie comes from.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.search import Candidate as Match
from ..data.search import SearchResult, TitleIndex
from ..data.search import _confident as confident  # the dataset index's rule, shared

_PARENS = re.compile(r"[()]")

__all__ = ["CatalogueTitles", "Match", "SearchResult", "TitleRow", "confident", "index_over"]


@dataclass(frozen=True)
class TitleRow:
    movie_id: int
    title: str
    year: int | None
    aliases: tuple[str, ...] = ()
    popularity: int = 0


class _Table:
    """What :class:`TitleIndex` reads of a dataset: ``movies`` and ``rating_counts``."""

    def __init__(self, rows: Sequence[TitleRow]) -> None:
        ids = [r.movie_id for r in rows]
        self.movies = pd.DataFrame(
            {
                "title": [_title_with_aliases(r) for r in rows],
                "name": [r.title for r in rows],
                "year": pd.array([r.year for r in rows], dtype="Int64"),
            },
            index=pd.Index(ids, dtype=np.int64, name="movieId"),
        )
        self.rating_counts = pd.Series([r.popularity for r in rows], index=self.movies.index)


def _title_with_aliases(row: TitleRow) -> str:
    """``"Dune: Part Two (Dune : Deuxième partie) (2024)"``: movies.csv's form, whose
    parentheses the index reads as aliases."""
    clean = [_PARENS.sub(" ", t).strip() for t in (row.title, *row.aliases)]
    names = list(dict.fromkeys(t for t in clean if t))
    text = names[0] + "".join(f" ({alias})" for alias in names[1:]) if names else "?"
    return f"{text} ({row.year})" if row.year else text


def index_over(rows: Sequence[TitleRow]) -> TitleIndex | None:
    return TitleIndex(_Table(rows)) if rows else None  # type: ignore[arg-type]


class CatalogueTitles:
    """The catalogue's titles: one index built over the stored movies, and a small one over
    those added since (rebuilt on each addition, so a new movie is found at once)."""

    def __init__(self, rows: Iterable[TitleRow]) -> None:
        self._main = index_over(list(rows))
        self._recent: list[TitleRow] = []
        self._recent_index: TitleIndex | None = None
        self._lock = threading.Lock()

    def add(self, row: TitleRow) -> None:
        self.add_all([row])

    def add_all(self, rows: Sequence[TitleRow]) -> None:
        """Add (or refresh) ``rows``, rebuilding the small index once."""
        if not rows:
            return
        with self._lock:
            new = {r.movie_id for r in rows}
            self._recent = [r for r in self._recent if r.movie_id not in new] + list(rows)
            self._recent_index = index_over(self._recent)

    @property
    def recent(self) -> int:
        """Rows in the small index (added since the main one was built)."""
        return len(self._recent)

    def __len__(self) -> int:
        return (len(self._main) if self._main else 0) + len(self._recent)

    def search(self, query: str, limit: int = 5) -> list[Match]:
        found: dict[int, Match] = {}
        for index in (self._main, self._recent_index):
            if index is None:
                continue
            for match in index.search(query, limit).candidates:
                if match.movie_id not in found or found[match.movie_id].score < match.score:
                    found[match.movie_id] = match
        return sorted(found.values(), key=lambda m: -m.score)[:limit]
