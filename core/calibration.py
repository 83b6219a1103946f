"""Calibrated recommendations (Steck 2018, "Calibrated Recommendations", RecSys '18).

A list is *calibrated* when its genres come in the proportions of the person's profile: someone
who rated eleven animated films and two dramas should not get ten blockbusters. With ``p`` the
profile's genre distribution and ``q`` the list's (each movie spreads weight 1 evenly over its
genres; movies without genres count for nothing), the **miscalibration** is

    KL(p || q~) = Σ_g p(g) log(p(g) / q~(g)),   q~ = (1 - a) q + a p,   a = 0.01

(q~ keeps the divergence finite when the list misses a genre of the profile). 0 is perfectly
calibrated.

**Popularity lift** compares how popular the list's movies are with the profile's: mean
training rating count of the listed movies over that of the profile's movies, minus 1 (0: as
popular as what the person rates; 1: twice as popular).

:func:`calibrate` re-ranks a longer candidate list greedily (maximal-marginal-relevance
style, Steck's section 3): at each of ``k`` steps it adds the candidate maximising

    (1 - λ) · Σ relevance of the list  -  λ · KL(p || q~(list))

where relevance is each candidate's score divided by the best candidate's. λ = 0 is the plain
ranking; λ is ``[picks] calibration`` (:class:`reelpick.picks.PickSettings`), chosen on
validation users inside the training data by ``reelpick evaluate --task topn --tune``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from copy import copy as copy_of
from typing import Any

import numpy as np

ALPHA = 0.01  # Steck's smoothing of q


class Genres:
    """Each movie's genres as rows of a matrix over the catalogue's genre names."""

    def __init__(self, genres: Mapping[int, Sequence[str]]) -> None:
        names = sorted({g for gs in genres.values() for g in gs if g != "(no genres listed)"})
        self.names = names
        self._column = {g: i for i, g in enumerate(names)}
        self._rows: dict[int, np.ndarray] = {
            int(movie_id): self._row_of(gs) for movie_id, gs in genres.items()
        }
        self._more: dict[int, np.ndarray] = {}  # :meth:`extended` rows, looked at first
        self._empty = np.zeros(len(names))

    def _row_of(self, genres: Sequence[str]) -> np.ndarray:
        cols = [self._column[g] for g in genres if g in self._column]
        row = np.zeros(len(self.names))
        if cols:
            row[cols] = 1.0 / len(cols)
        return row

    def extended(self, more: Mapping[int, Sequence[str]]) -> Genres:
        """These genres and those of ``more`` movies (catalogue movies, whose genres are
        already the dataset's names) over the same genre names; this object is unchanged."""
        copy = copy_of(self)  # the dataset's rows are shared, never copied
        copy._more = {**self._more, **{int(m): self._row_of(gs) for m, gs in more.items()}}
        return copy

    def row(self, movie_id: int) -> np.ndarray:
        movie_id = int(movie_id)
        found = self._more.get(movie_id)
        return found if found is not None else self._rows.get(movie_id, self._empty)

    def matrix(self, movies: Sequence[int]) -> np.ndarray:
        if not movies:
            return np.zeros((0, len(self.names)))
        return np.vstack([self.row(m) for m in movies])

    def distribution(self, movies: Iterable[int]) -> np.ndarray:
        """The genre distribution of ``movies`` (zeros when none has a genre)."""
        total: np.ndarray = self.matrix(list(movies)).sum(axis=0)
        mass = float(total.sum())
        return total / mass if mass > 0 else total


_BY_FINGERPRINT: dict[str, Genres] = {}
_KEPT = 8  # datasets whose genres are kept (an evaluation makes a few training datasets)


def genres_of(dataset: Any) -> Genres:
    """The :class:`Genres` of a dataset (``movies["genres"]``), built once per dataset."""
    key = str(dataset.fingerprint)
    found = _BY_FINGERPRINT.get(key)
    if found is None:
        column = dataset.movies["genres"]
        found = Genres(dict(zip(column.index.tolist(), column.tolist(), strict=True)))
        if len(_BY_FINGERPRINT) >= _KEPT:
            _BY_FINGERPRINT.pop(next(iter(_BY_FINGERPRINT)))
        _BY_FINGERPRINT[key] = found
    return found


def kl(p: np.ndarray, q: np.ndarray, alpha: float = ALPHA) -> float:
    """KL(p || (1 - alpha) q + alpha p), over the genres where p > 0."""
    smoothed = (1 - alpha) * q + alpha * p
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / smoothed[mask])))


def miscalibration(profile_movies: Iterable[int], listed: Sequence[int], genres: Genres) -> float:
    """KL of the profile's genre distribution against the list's (module doc)."""
    p = genres.distribution(profile_movies)
    if p.sum() == 0:
        return 0.0  # a profile without genres cannot be miscalibrated
    return kl(p, genres.distribution(listed))


def popularity_lift(
    profile_movies: Iterable[int], listed: Sequence[int], counts: Mapping[int, int]
) -> float | None:
    """Mean rating count of ``listed`` over the profile's, minus 1 (None without either)."""
    mine = [counts.get(m, 0) for m in profile_movies]
    shown = [counts.get(m, 0) for m in listed]
    if not mine or not shown or np.mean(mine) == 0:
        return None
    return float(np.mean(shown) / np.mean(mine) - 1.0)


def calibrate(
    candidates: Sequence[int],
    scores: Sequence[float],
    profile_movies: Iterable[int],
    genres: Genres,
    k: int,
    lam: float,
    alpha: float = ALPHA,
) -> list[int]:
    """The ``k`` of ``candidates`` (best first, with their ``scores``) chosen greedily for
    relevance and calibration, in the order chosen (module doc). ``lam`` 0: the first ``k``."""
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"calibration lambda {lam} is outside 0-1")
    p = genres.distribution(profile_movies)
    if lam == 0.0 or p.sum() == 0 or len(candidates) <= 1:
        return list(candidates[:k])
    top = max(scores) if len(scores) else 0.0
    relevance = np.asarray(scores, dtype=np.float64) / (top if top > 0 else 1.0)
    rows = genres.matrix(list(candidates))  # candidates x genres, each row sums to 1 or 0
    mask = p > 0
    chosen: list[int] = []
    taken = np.zeros(len(candidates), dtype=bool)
    mass = np.zeros(rows.shape[1])
    gained = 0.0
    for _ in range(min(k, len(candidates))):
        # q of the list with each candidate added, for all candidates at once.
        totals = mass[None, :] + rows
        sums = totals.sum(axis=1, keepdims=True)
        q = np.divide(totals, sums, out=np.zeros_like(totals), where=sums > 0)
        smoothed = (1 - alpha) * q[:, mask] + alpha * p[mask][None, :]
        divergence = (p[mask][None, :] * np.log(p[mask][None, :] / smoothed)).sum(axis=1)
        objective = (1 - lam) * (gained + relevance) - lam * divergence
        objective[taken] = -np.inf
        best = int(np.argmax(objective))  # ties: the better-ranked candidate
        chosen.append(best)
        taken[best] = True
        mass += rows[best]
        gained += relevance[best]
    return [candidates[i] for i in chosen]
