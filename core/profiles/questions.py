"""Which movie to ask a person to rate next (the bot's ``/rate``: one movie at a time).

A rating teaches the most when the movie is well known (the person has likely seen it) and
divides opinion (its ratings spread widely: loving or hating it says something). So the
candidate pool is the ~500 movies with the highest ``sqrt(rating count) * rating std``,
computed once per dataset. Each call then walks that pool, skipping what the profile holds
or was asked already, and lowers movies whose genres the profile and the last questions
already cover, so ten questions span comedy, drama, sci-fi, ... instead of three comedies
in a row. The order is deterministic for a given profile, ``asked`` and ``seed``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..data import Dataset
from ..types import Profile

POOL_SIZE = 500
MIN_RATINGS = 10  # fewer ratings make the spread noise (relaxed for tiny datasets)
JITTER = 0.15  # seeded noise, so two people with the same profile need not see one order
PROFILE_WEIGHT = 0.5  # genres the profile covers count half as much as the last questions
DIVERSITY = 0.8  # how strongly covered genres lower a candidate (1 would zero it)
RUN_PENALTY = 0.1  # a genre the last two questions both had: a third in a row is unlikely
RUN = 2


class RatingQuestions:
    """The question pool of one dataset. Building it takes a few milliseconds; each
    :meth:`next` call well under one."""

    def __init__(self, dataset: Dataset, pool_size: int = POOL_SIZE) -> None:
        self.fingerprint = dataset.fingerprint
        stats = dataset.ratings.groupby("movieId")["rating"].agg(["count", "std"]).dropna()
        stats = stats[stats.index.isin(dataset.movies.index)]
        enough = stats[stats["count"] >= MIN_RATINGS]
        if len(enough) < min(pool_size, 20):  # a tiny dataset: take what has a spread
            enough = stats[stats["count"] >= 2]
        informative = np.sqrt(enough["count"].to_numpy()) * enough["std"].to_numpy()
        # Ties (identical counts and spreads) break by movieId, so the pool is stable.
        order = np.lexsort((enough.index.to_numpy(), -informative))[:pool_size]
        self.pool = enough.index.to_numpy(dtype=np.int64)[order]
        self._base = informative[order]
        genres = sorted({g for gs in dataset.movies["genres"] for g in gs})
        column = {g: i for i, g in enumerate(genres)}
        # Every movie's genres (the profile may hold any movie), as 0/1 rows by movieId.
        self._movie_ids = dataset.movies.index.to_numpy(dtype=np.int64)
        self._genres = np.zeros((len(self._movie_ids), len(genres)), dtype=np.float32)
        for row, movie_genres in enumerate(dataset.movies["genres"]):
            for genre in movie_genres:
                self._genres[row, column[genre]] = 1.0
        self._pool_genres = self._genres[np.searchsorted(self._movie_ids, self.pool)]
        counts = self._pool_genres.sum(axis=1)
        self._pool_genre_count = np.maximum(counts, 1.0)

    def next(
        self, profile: Profile, n: int = 1, seed: int = 0, asked: Sequence[int] = ()
    ) -> list[int]:
        """Up to ``n`` movies to ask next, best first.

        ``asked``: the movies already put to this person in this session, oldest first
        (rated, skipped or not); they are never asked again and the last two steer genres.
        """
        known = profile.movies
        available = np.fromiter(
            (m not in known for m in self.pool.tolist()), dtype=bool, count=len(self.pool)
        )
        available &= ~np.isin(self.pool, np.asarray(asked, dtype=np.int64))
        jitter = 1.0 + JITTER * np.random.default_rng(seed).random(len(self.pool))
        base = self._base * jitter
        profile_share = self._share(np.fromiter(known, dtype=np.int64, count=len(known)))
        recent = [int(m) for m in asked]
        picks: list[int] = []
        while len(picks) < n and available.any():
            covered = np.maximum(PROFILE_WEIGHT * profile_share, self._share(recent))
            # Mean coverage of each candidate's own genres.
            overlap = (self._pool_genres @ covered) / self._pool_genre_count
            score = base * (1.0 - DIVERSITY * overlap)
            run = self._run_genres(recent[-RUN:])
            if run is not None:
                score = np.where(self._pool_genres @ run > 0, score * RUN_PENALTY, score)
            score = np.where(available, score, -np.inf)
            best = int(np.argmax(score))
            picks.append(int(self.pool[best]))
            recent.append(int(self.pool[best]))
            available[best] = False
        return picks

    def _share(self, movie_ids: np.ndarray | list[int]) -> np.ndarray:
        """Per genre: the fraction of these movies (those in the dataset) that have it."""
        genres = self._genres_of(movie_ids)
        if not len(genres):
            return np.zeros(self._genres.shape[1], dtype=np.float32)
        share: np.ndarray = genres.mean(axis=0)
        return share

    def _genres_of(self, movie_ids: np.ndarray | list[int]) -> np.ndarray:
        ids = np.asarray(movie_ids, dtype=np.int64)
        rows = np.searchsorted(self._movie_ids, ids).clip(max=len(self._movie_ids) - 1)
        genres: np.ndarray = self._genres[rows[self._movie_ids[rows] == ids]]
        return genres

    def _run_genres(self, last: list[int]) -> np.ndarray | None:
        """Genres every one of the last questions had (a third would make a run)."""
        if len(last) < RUN:
            return None
        genres = self._genres_of(last)
        if len(genres) < RUN:
            return None
        shared = genres.min(axis=0)
        return shared if shared.any() else None


_POOLS: dict[str, RatingQuestions] = {}


def next_to_rate(
    dataset: Dataset,
    profile: Profile,
    n: int = 1,
    rng_seed: int = 0,
    asked: Sequence[int] = (),
) -> list[int]:
    """Up to ``n`` movies to ask ``profile``'s person to rate next (see the module docstring).

    The pool is built on the first call for a dataset and kept (by fingerprint).
    """
    questions = _POOLS.get(dataset.fingerprint)
    if questions is None:
        if len(_POOLS) >= 4:  # a long-lived process sees few datasets; keep memory bounded
            _POOLS.pop(next(iter(_POOLS)))
        questions = _POOLS[dataset.fingerprint] = RatingQuestions(dataset)
    return questions.next(profile, n=n, seed=rng_seed, asked=asked)
