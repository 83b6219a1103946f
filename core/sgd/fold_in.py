"""Placing a person who is not in the training data into a fitted SGD-MF model (fold-in).

A few ratings are enough: with the movies' factors fixed, the person's bias and vector are a
small ridge regression (:func:`fold_in`), and :class:`FoldedUser` then predicts and ranks
every movie for them. :func:`aligned` explains a pick by the rated movies pointing its way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..types import Neighbour
from . import kernels
from .model import Factors


@dataclass
class FoldedUser:
    """A user who is not in the training data, described by a few ratings (see :func:`fold_in`)."""

    factors: Factors
    ratings: dict[int, float]
    vector: np.ndarray
    bias: float

    def predict(self, movie_ids: list[int]) -> list[float]:
        """Predicted ratings (0.5-5) of ``movie_ids``; unknown movies get the user's mean guess."""
        f = self.factors
        cols = np.searchsorted(f.movie_ids, movie_ids)
        cols = np.minimum(cols, len(f.movie_ids) - 1)
        known = f.movie_ids[cols] == np.asarray(movie_ids)
        raw = (
            f.mu
            + self.bias
            + np.where(known, f.item_bias[cols] + f.item_vec[cols] @ self.vector, 0)
        )
        return [float(x) for x in np.clip(raw, 0.5, 5.0)]

    def scores(self) -> np.ndarray:
        """The raw predicted rating (not clipped) of every movie of the factors, in their order."""
        f = self.factors
        # The vector in the factors' float32: a float64 one would copy every movie vector.
        dots = kernels.matvec(f.item_vec, self.vector.astype(np.float32))
        scores: np.ndarray = f.mu + self.bias + f.item_bias + dots
        return scores

    def recommend(
        self,
        k: int = 10,
        exclude: set[int] | frozenset[int] = frozenset(),
        min_ratings: int = 10,
        clip: bool = True,
    ) -> list[Neighbour]:
        """The ``k`` movies with the highest predicted rating, as Neighbour(movie_id, rating).

        Movies the user rated, ``exclude``, and movies with fewer than ``min_ratings`` training
        ratings (whose factors are mostly guesswork) are left out. ``clip=False`` gives the
        raw prediction, which can pass 5 stars but does not tie there. Ties: lower movie id.
        """
        f = self.factors
        scores = self.scores()
        banned = np.fromiter(set(exclude) | set(self.ratings), dtype=np.int64)
        positions = np.searchsorted(f.movie_ids, banned)
        inside = positions < len(f.movie_ids)
        positions, banned = positions[inside], banned[inside]
        usable = f.item_counts >= min_ratings
        usable[positions[f.movie_ids[positions] == banned]] = False
        chosen = np.flatnonzero(usable & np.isfinite(scores))
        if k <= 0:
            return []
        if len(chosen) > k:  # argpartition, then settle the ties at the k-th score by id
            kth = scores[chosen[np.argpartition(-scores[chosen], k - 1)[k - 1]]]
            chosen = chosen[scores[chosen] >= kth]
        chosen = chosen[np.lexsort((f.movie_ids[chosen], -scores[chosen]))][:k]
        return [
            Neighbour(int(f.movie_ids[i]), float(min(scores[i], 5.0) if clip else scores[i]))
            for i in chosen
        ]


def aligned(factors: Factors, movie_id: int, candidates: list[int], limit: int) -> tuple[int, ...]:
    """Up to ``limit`` of ``candidates`` whose movie vectors point most the way of
    ``movie_id``'s (positive cosine only), best first: why the model thinks alike of them."""
    f = factors
    cols = np.searchsorted(f.movie_ids, np.asarray(candidates, dtype=np.int64))
    target = f.item_vec[int(np.searchsorted(f.movie_ids, movie_id))]
    vectors = f.item_vec[cols]
    norms = np.linalg.norm(vectors, axis=1) * max(float(np.linalg.norm(target)), 1e-12)
    cosines = vectors @ target / np.maximum(norms, 1e-12)
    order = np.lexsort((np.asarray(candidates), -cosines))[:limit]
    return tuple(int(candidates[i]) for i in order if cosines[i] > 0)


def fold_in(factors: Factors, ratings: dict[int, float], reg: float) -> FoldedUser:
    """Place a new user from a few ``{movieId: rating}`` pairs, movie factors held fixed.

    The user's vector and bias solve a ridge regression (penalty ``reg``) of their ratings
    (minus the global mean and movie biases) on the movies' vectors; the implicit and
    asymmetric terms are computed from the given ratings exactly as in training. Unknown movie
    ids are ignored; with no known movie at all the user is the average user (bias 0, the
    implicit term only). Raises ValueError for ratings outside 0.5-5.
    """
    f = factors  # short, so that the formulas below read like the maths above
    clean: dict[int, float] = {}
    for movie_id, rating in ratings.items():
        rating = float(rating)
        if not 0.5 <= rating <= 5.0:
            raise ValueError(f"rating {rating} of movie {movie_id} is outside 0.5-5")
        clean[int(movie_id)] = rating
    ids = np.array(sorted(clean), dtype=np.int64)
    cols = np.searchsorted(f.movie_ids, ids)
    known = (cols < len(f.movie_ids)) & (f.movie_ids[np.minimum(cols, len(f.movie_ids) - 1)] == ids)
    cols, ids = cols[known], ids[known]
    k = f.item_vec.shape[1]
    implicit = np.zeros(k)
    if len(cols) and f.implicit.size:
        implicit = f.implicit[cols].sum(axis=0) / np.sqrt(len(cols))
    if not len(cols):
        return FoldedUser(f, clean, implicit, 0.0)
    q = f.item_vec[cols]
    rated = np.array([clean[int(m)] for m in ids])
    # Unknowns: the user's free vector p (k values) and bias b. The bias is penalised
    # less so that a user who rates everything high is first of all "generous".
    design = np.hstack([q, np.ones((len(cols), 1))])
    penalty = np.full(k + 1, float(reg))
    penalty[-1] *= 0.1
    bias = 0.0
    # The asymmetric term depends on the user's bias, so solve twice: bias 0, then fitted.
    for _ in range(2 if f.asymmetric.size else 1):
        known_part = implicit.copy()
        if f.asymmetric.size:
            residual = rated - f.mu - bias - f.item_bias_raw[cols]
            known_part += residual @ f.asymmetric[cols] / np.sqrt(len(cols))
        target = rated - f.mu - f.item_bias[cols] - q @ known_part
        solution = _ridge(design, target, penalty)
        bias = float(solution[k])
    implicit = known_part
    return FoldedUser(f, clean, implicit + solution[:k], bias)


def _ridge(design: np.ndarray, target: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """argmin_w |design w - target|^2 + sum(penalty * w^2), solved in the smaller space.

    The normal equations are (A'A + D) w = A't, a system of one equation per factor (500 with
    the default ensemble). A person rates fewer movies than that, and by the Woodbury identity
    w = D^-1 A' (A D^-1 A' + I)^-1 t needs a system of one equation per rating instead: the
    same solution, a 50x50 solve instead of 501x501 (what keeps a fold-in in milliseconds).
    """
    rows, unknowns = design.shape
    solution: np.ndarray
    if rows >= unknowns:
        solution = np.linalg.solve(design.T @ design + np.diag(penalty), design.T @ target)
    else:
        scaled = design / penalty  # A D^-1
        solution = scaled.T @ np.linalg.solve(scaled @ design.T + np.eye(rows), target)
    return solution
