"""Similar movies for a movie no one has rated yet: genres, release period and audience size.

A movie without ratings (a new release, a catalogue movie from TMDB) has a place in the taste
space only through the content map, and the map pulls such movies towards the average: every
new action film of one year lands on the same point, near whatever rated movies sit in the
middle. Its collaborative neighbours, once people rate it, are more predictable than that:
people rate the films of a period together, and item-item cosine favours the films most of
them watched. So a movie without ratings is compared with the candidates by

    score(j) = Jaccard(genres, genres_j)
               + year_weight * exp(-|year - year_j| / year_scale)
               + audience_weight * audience_j
               + taste_weight * cosine(mapped taste vector, taste vector_j)

``audience_j`` is log(1 + ratings of j), standardised over the rated movies. A movie without
ratings has no known audience: it gets the one a ridge regression predicts from its genres,
release period and title shape (a colon or a number: sequels and franchises), fitted on the
rated movies. The candidates are the movies with ``pool`` ratings or more and the other movies
without ratings (a new film's neighbours are often other new films). The last term lets the
content map's view (posters, keywords) weigh in.

The weights are chosen on validation movies inside the training data (the newest movies of
the training split lose their ratings; the truth is cosine-CF on the training data) by
``bench/tune_hybrid_unrated.py``; bench/bench_new_releases.py measures them on held-out films.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reelpick import Dataset

PERIOD_YEARS = 5  # width of a release-period bin in the audience model
PERIODS = 12  # bins, counted back from the newest rated movie's year
AUDIENCE_RIDGE = 10.0  # penalty of the audience model (fitted on thousands of movies)
SEQUEL = re.compile(r"\b(?:[2-9]|II|III|IV|V|VI|Part|Chapter|Vol\.?)\b")


@dataclass(frozen=True)
class UnratedSettings:
    """The weights of the score (module docstring); ``pool``: ratings a rated candidate needs."""

    year_weight: float
    year_scale: float
    audience_weight: float
    taste_weight: float
    pool: int


def settings_from(params: Mapping[str, Any]) -> UnratedSettings:
    """The settings in the hybrid's parameters (``unrated_*``)."""
    return UnratedSettings(
        year_weight=params["unrated_year_weight"],
        year_scale=params["unrated_year_scale"],
        audience_weight=params["unrated_audience_weight"],
        taste_weight=params["unrated_taste_weight"],
        pool=params["unrated_pool"],
    )


@dataclass(frozen=True)
class Described:
    """What the score reads of one movie: genre names, year (NaN: unknown), title."""

    genres: tuple[str, ...]
    year: float
    title: str


class UnratedNeighbours:
    """The candidates' genres, years and audience, fitted from a dataset's movies and counts."""

    def __init__(self, dataset: Dataset) -> None:
        movies = dataset.movies
        self.movie_ids = movies.index.to_numpy(dtype=np.int64)
        self.vocabulary = {
            g: i for i, g in enumerate(sorted({g for gs in movies["genres"] for g in gs}))
        }
        self.genres = self._genre_rows(list(movies["genres"]))
        self.sizes = self.genres.sum(axis=1)
        self.years = movies["year"].astype("float64").to_numpy()
        self.counts = dataset.rating_counts.reindex(movies.index).to_numpy()
        self.rated = self.counts > 0
        self.described = (self.sizes > 0) | ~np.isnan(self.years)
        rated_years = self.years[self.rated & ~np.isnan(self.years)]
        self.newest = float(rated_years.max()) if len(rated_years) else 2000.0
        self.year_mean = float(rated_years.mean()) if len(rated_years) else 2000.0
        self.titles = list(movies["name"].astype(str))  # without the year
        self.audience = self._fit_audience()

    # -- the audience model ----------------------------------------------------------------
    def _genre_rows(self, genres: Sequence[Sequence[str]]) -> np.ndarray:
        rows = np.zeros((len(genres), len(self.vocabulary)), dtype=np.float32)
        for r, names in enumerate(genres):
            for g in names:
                if g in self.vocabulary:
                    rows[r, self.vocabulary[g]] = 1.0
        return rows

    def _audience_rows(
        self, genre_rows: np.ndarray, years: np.ndarray, titles: Sequence[str]
    ) -> np.ndarray:
        """Genres, genre count, release period (newest bins last), title shape, intercept."""
        known = ~np.isnan(years)
        filled = np.where(known, years, self.year_mean)
        # Years past the newest rated movie fall in its bin: the newest period seen.
        back = np.clip((self.newest - filled) // PERIOD_YEARS, 0, PERIODS - 1).astype(int)
        period = np.zeros((len(years), PERIODS + 1), dtype=np.float32)
        period[np.arange(len(years)), back] = known
        period[:, PERIODS] = ~known
        shape = np.array(
            [(":" in t, bool(SEQUEL.search(t))) for t in titles], dtype=np.float32
        ).reshape(len(titles), 2)
        count = genre_rows.sum(axis=1, keepdims=True) / 3.0
        return np.hstack([genre_rows, count, period, shape, np.ones((len(years), 1))])

    def _fit_audience(self) -> np.ndarray:
        """Standardised log audience: measured where rated, predicted elsewhere."""
        if self.rated.sum() < 2:
            return np.zeros(len(self.counts))
        measured = np.log1p(self.counts.astype(np.float64))
        x = self._audience_rows(self.genres, self.years, self.titles).astype(np.float64)
        mean = float(measured[self.rated].mean())
        scale = float(measured[self.rated].std()) or 1.0
        a = x[self.rated]
        weights: np.ndarray = np.linalg.solve(
            a.T @ a + AUDIENCE_RIDGE * np.eye(a.shape[1]),
            a.T @ ((measured[self.rated] - mean) / scale),
        )
        return np.where(self.rated, (measured - mean) / scale, x @ weights)

    # -- the score ---------------------------------------------------------------------------
    def describe(self, position: int) -> Described:
        """The movie at ``position`` as the score reads it."""
        names = [g for g, i in self.vocabulary.items() if self.genres[position, i]]
        return Described(tuple(names), float(self.years[position]), self.titles[position])

    def candidates(self, settings: UnratedSettings) -> np.ndarray:
        return self.described & ((self.counts >= settings.pool) | ~self.rated)

    def scores(
        self,
        movie: Described,
        settings: UnratedSettings,
        taste: np.ndarray | None = None,
    ) -> np.ndarray:
        """The score of every movie of the data for ``movie`` (-inf for non-candidates).

        ``taste``: cosine of the movie's mapped taste vector with every movie's (or None)."""
        row = self._genre_rows([movie.genres])[0]
        inter = self.genres @ row
        union = self.sizes + row.sum() - inter
        score = np.divide(inter, union, out=np.zeros(len(union)), where=union > 0)
        if not np.isnan(movie.year):
            gap = np.abs(self.years - movie.year)
            score += settings.year_weight * np.where(
                np.isnan(gap), 0.0, np.exp(-np.nan_to_num(gap) / settings.year_scale)
            )
        score += settings.audience_weight * self.audience
        if taste is not None and settings.taste_weight:
            score += settings.taste_weight * taste
        return np.where(self.candidates(settings), score, -np.inf)

    def top(
        self,
        movie: Described,
        k: int,
        settings: UnratedSettings,
        taste: np.ndarray | None = None,
        exclude: int | None = None,
    ) -> list[tuple[int, float]]:
        """(position, score) of the ``k`` best candidates, best first."""
        score = self.scores(movie, settings, taste)
        if exclude is not None:
            score[exclude] = -np.inf
        k = min(k, int(np.isfinite(score).sum()))
        if k <= 0:
            return []
        best = np.argpartition(-score, k - 1)[:k]
        best = best[np.argsort(-score[best], kind="stable")]
        return [(int(i), float(score[i])) for i in best]
