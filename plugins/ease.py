"""EASE: personal recommendations from a closed-form item-item model (Steck, 2019).

EASE learns one weight matrix ``B`` (items x items, zero diagonal) that best rebuilds each
person's row of watched movies from their other movies, with an L2 penalty ``l2``::

    P = (X^T X + l2 I)^-1        B = I - P diagMat(1 / diag(P))

on the binary users x movies matrix ``X`` of the training ratings (a rating, whatever its
stars, says the person chose to watch the movie; that is what a top-N list must predict).
Only the ``max_items`` most rated movies enter ``X``: the inverse is dense, so this bounds
fit time and memory on any catalogue (4000 movies: 64 MB, a few seconds), and rarely rated
movies are seldom the right answer anyway.

A person's scores are their profile row times ``B``. When the person asks while still rating
(``Profile.still_rating``: their latest rating is less than an hour old) and
``recency_half_life`` is above 0, recent movies weigh more: the weight halves every
``recency_half_life`` ratings back (``Profile.recency_weights``). That predicts the rest of a
rating session ("last 10" protocol). A person who comes back later (the session protocol) is
served by their whole history with older ratings fading: a rating's weight halves every
``returning_half_life_days`` days before their latest one. With ``hide_newer_movies``, movies
nobody had rated yet at the moment of the question (``Profile.asked_at``; now in the product)
are not offered: they had not come out. Films that came out while the person was away are
offered: a returning person wants exactly those.
``l2`` and the half-lives are chosen by ``reelpick tune ease``, on validation users inside the
training data, never on test users (the figures are in config.toml).

Similar movies come from ``B``'s rows: the movies that watching this one predicts most.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from reelpick import (
    ArtifactStore,
    Dataset,
    NeighbourTable,
    NoAnswer,
    PluginInfo,
    Profile,
    Recommendation,
    hookimpl,
)

BECAUSE = 3  # profile movies named as the reason of a recommendation


def ease_weights(interactions: sp.csr_matrix | np.ndarray, l2: float) -> np.ndarray:
    """EASE's closed form: the items x items weight matrix ``B`` (float32, zero diagonal)."""
    if l2 <= 0:
        raise ValueError(f"l2 must be > 0, got {l2}")
    x = sp.csr_matrix(interactions, dtype=np.float32)
    gram = (x.T @ x).toarray().astype(np.float32)
    gram[np.diag_indices_from(gram)] += np.float32(l2)
    inverse = np.linalg.inv(gram)
    weights = -inverse / np.diag(inverse)[None, :]
    weights[np.diag_indices_from(weights)] = 0.0
    return weights.astype(np.float32, copy=False)


class Ease:
    def __init__(self) -> None:
        self.movie_ids: np.ndarray = np.empty(0, dtype=np.int64)
        self.weights: np.ndarray = np.empty((0, 0), dtype=np.float32)
        self.first_rated: np.ndarray = np.empty(0, dtype=np.int64)
        self.table: NeighbourTable | None = None
        self.params: dict = {}

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            label="EASE",
            description="Personal picks from what people with the same movies watched next "
            "(EASE, a closed-form item-item model).",
            version="1",
            params={
                "l2": 1000.0,  # L2 penalty of the closed form
                "max_items": 4000,  # most rated movies in the model (bounds fit time and memory)
                "recency_half_life": 4.0,  # while still rating, weight halves every N ratings back
                "returning_half_life_days": 300.0,  # coming back, weight halves every N days back
                "hide_newer_movies": True,  # skip movies first rated after the question
                "neighbours": 50,  # width of the stored similar-movie table
            },
        )

    @hookimpl
    def reelpick_fit(self, dataset: Dataset, params: dict, store: ArtifactStore) -> None:
        if params["max_items"] < 2 or params["neighbours"] < 1:
            raise ValueError("max_items must be >= 2 and neighbours >= 1")
        self.params = params
        saved = store.load_arrays("ease")
        table = NeighbourTable.load(store)
        if saved is None or table is None:
            saved = self._fit(dataset, params)
            table = _similar_table(saved["movie_ids"], saved["weights"], params["neighbours"])
            store.save_arrays("ease", **saved)
            table.save(store)
        self.movie_ids = saved["movie_ids"]
        self.weights = saved["weights"]
        self.first_rated = saved["first_rated"]
        self.table = table

    @staticmethod
    def _fit(dataset: Dataset, params: dict) -> dict[str, np.ndarray]:
        ratings = dataset.ratings
        counts = ratings["movieId"].value_counts()
        # Most rated first, ties by movieId, so the same data always keeps the same movies.
        order = np.lexsort((counts.index.to_numpy(), -counts.to_numpy()))
        movie_ids = np.sort(counts.index.to_numpy()[order][: params["max_items"]]).astype(np.int64)
        kept = ratings[ratings["movieId"].isin(movie_ids)]
        _, rows = np.unique(kept["userId"].to_numpy(), return_inverse=True)
        cols = np.searchsorted(movie_ids, kept["movieId"].to_numpy())
        interactions = sp.csr_matrix(
            (np.ones(len(kept), dtype=np.float32), (rows, cols)),
            shape=(int(rows.max()) + 1 if len(rows) else 0, len(movie_ids)),
        )
        first = kept.groupby("movieId")["timestamp"].min().reindex(movie_ids).to_numpy()
        return {
            "movie_ids": movie_ids,
            "weights": ease_weights(interactions, params["l2"]),
            "first_rated": first.astype(np.int64),
        }

    @hookimpl
    def reelpick_recommend(
        self, profile: Profile, k: int, exclude: frozenset[int]
    ) -> list[Recommendation]:
        positions, weights = self._profile_row(profile)
        if not len(positions):
            raise NoAnswer("none of the profile's movies is among the movies EASE knows")
        rows = self.weights[positions]
        scores = weights @ rows
        banned = [p for p in map(self._position, exclude) if p is not None]
        scores[banned] = -np.inf
        if self.params["hide_newer_movies"]:
            # Movies nobody had rated by the moment of the question had not come out yet.
            asked = time.time() if profile.asked_at is None else profile.asked_at
            scores[self.first_rated > asked] = -np.inf
        # A stable sort: equal scores keep movieId order, so answers never flicker.
        best = np.argsort(-scores, kind="stable")[:k]
        best = best[np.isfinite(scores[best])]
        contributions = weights[:, None] * rows[:, best]  # profile movies x picks
        picks = []
        for column, position in enumerate(best):
            share = contributions[:, column]
            reasons = [i for i in np.argsort(-share, kind="stable")[:BECAUSE] if share[i] > 0]
            picks.append(
                Recommendation(
                    int(self.movie_ids[position]),
                    float(scores[position]),
                    tuple(int(self.movie_ids[positions[i]]) for i in reasons),
                )
            )
        return picks

    def _profile_row(self, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
        """Model positions of the profile's watched movies and their recency weights."""
        watched = sorted(set(profile.ratings) | set(profile.seen))
        found = [(m, p) for m in watched if (p := self._position(m)) is not None]
        if not found:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        positions = np.array([p for _, p in found], dtype=np.int64)
        recency = profile.recency_weights(
            [m for m, _ in found],
            self.params["recency_half_life"],
            self.params["returning_half_life_days"],
        )
        return positions, np.array(recency, dtype=np.float32)

    def _position(self, movie_id: int) -> int | None:
        pos = int(np.searchsorted(self.movie_ids, movie_id))
        if pos < len(self.movie_ids) and self.movie_ids[pos] == movie_id:
            return pos
        return None

    @hookimpl
    def reelpick_similar(self, movie_id: int, k: int):
        if self.table is None:
            raise NoAnswer("EASE is not fitted")
        return self.table.similar(
            movie_id,
            k,
            unknown="too few ratings to be among the movies EASE models",
            alone="watching this movie predicts no other movie in EASE",
        )


def _similar_table(movie_ids: np.ndarray, weights: np.ndarray, k: int) -> NeighbourTable:
    """Each movie's top-k row of ``B`` (what watching it predicts), positive weights only."""
    n = len(movie_ids)
    k = min(k, n - 1)
    index = np.full((n, k), -1, dtype=np.int32)
    score = np.zeros((n, k), dtype=np.float32)
    for start in range(0, n, 1024):
        block = weights[start : start + 1024].copy()
        block[np.arange(len(block)), np.arange(start, start + len(block))] = -np.inf
        # Stable: equal weights go to the lower movieId, the same on every fit.
        top = np.argsort(-block, axis=1, kind="stable")[:, :k]
        values = np.take_along_axis(block, top, axis=1)
        keep = values > 0
        index[start : start + len(block)] = np.where(keep, top, -1)
        score[start : start + len(block)] = np.where(keep, values, 0)
    return NeighbourTable(movie_ids, index, score)
