"""sgd-MF: movies whose learned taste factors point the same way (matrix factorisation).

This module is the plugin: its hooks and the checks on its parameters. The model (training,
validation split, features, the fitted ``Factors`` and the fold-in of a new user) is the
public building block :mod:`reelpick.sgd`, which the hybrid plugin trains too.

Besides the hooks, a fitted plugin places people who are not in the training data::

    model = SgdMF()  # fitted through the registry, or model.reelpick_fit(...)
    user = model.fold_in({318: 5.0, 296: 4.5, 1: 2.0})  # movieId -> rating
    user.predict([2571, 356])                           # predicted ratings
    user.recommend(10)                                  # best unrated movies, as Neighbours

``reelpick_recommend`` is built on it: the profile's ratings are folded in (a small ridge
regression, no refit), every movie is scored with the folded vector and biases, and each pick
is explained by the liked movies whose factors point most its way.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from reelpick import (
    ArtifactStore,
    Dataset,
    Neighbour,
    NeighbourTable,
    NoAnswer,
    PluginInfo,
    Profile,
    Recommendation,
    hookimpl,
    sgd,
    topk_cosine_dense,
)

log = logging.getLogger(__name__)

DEFAULT_PARAMS = sgd.DEFAULT_PARAMS

# Movies with fewer training ratings are never recommended: their factors are mostly the
# initial noise plus their genres', and a confident-looking pick from them misleads.
RECOMMEND_MIN_RATINGS = 10
REASONS = 3  # profile movies named in a recommendation's ``because``


class SgdMF:
    """The reelpick plugin. ``factors`` holds the fitted model once ``reelpick_fit`` ran."""

    def __init__(self) -> None:
        self.factors: sgd.Factors | None = None
        self.table: NeighbourTable | None = None
        self.params: dict = dict(DEFAULT_PARAMS)
        self.loaded_from_cache = False
        self.fit_seconds = 0.0

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            label="SGD-MF",
            description="Movies whose learned taste factors point the same way (matrix factorisation).",
            version="3",
            params=dict(DEFAULT_PARAMS),
        )

    @hookimpl
    def reelpick_fit(self, dataset: Dataset, params: dict, store: ArtifactStore) -> None:
        _check_params(params)
        self.params = dict(params)
        started = time.perf_counter()
        arrays = store.load_arrays("factors")
        table = NeighbourTable.load(store)
        self.loaded_from_cache = arrays is not None and table is not None
        factors = None
        if arrays is not None:
            try:
                factors = sgd.Factors.from_arrays(arrays)
            except (TypeError, KeyError):  # written by another version of this class
                self.loaded_from_cache = False
        if factors is None:
            factors = sgd.fit_factors(dataset, params)
            store.save_arrays("factors", **factors.arrays())
            log.info(
                "sgd-mf trained %d epochs in %.1f s",
                int(factors.history["epochs"][0]),
                time.perf_counter() - started,
            )
        if table is None:
            valid = factors.item_counts >= params["min_ratings"]
            ratings_only = params["similar_from"] == sgd.SimilarFrom.RATINGS
            vectors = factors.item_cf if ratings_only else factors.item_vec
            index, score = topk_cosine_dense(vectors, params["neighbours"], valid)
            table = NeighbourTable(factors.movie_ids, index, score)
            table.save(store)
        self.factors, self.table = factors, table
        self.fit_seconds = time.perf_counter() - started

    @hookimpl
    def reelpick_similar(self, movie_id: int, k: int) -> list[Neighbour]:
        _, table = self._fitted()
        return table.similar(
            movie_id,
            k,
            unknown="SGD-MF does not know this movie",
            alone=f"SGD-MF needs at least {self.params['min_ratings']} ratings of a movie to place it",
        )

    @hookimpl
    def reelpick_predict(self, user_id: int, movie_ids: list[int]) -> list[float]:
        """Predicted ratings of a user from the training data (NoAnswer for other users)."""
        f, _ = self._fitted()
        row = int(np.searchsorted(f.user_ids, user_id))
        if row >= len(f.user_ids) or f.user_ids[row] != user_id:
            raise NoAnswer(f"user {user_id} has no ratings; fold them in with SgdMF.fold_in")
        cols = np.searchsorted(f.movie_ids, movie_ids)
        if np.any(cols >= len(f.movie_ids)) or np.any(f.movie_ids[cols] != np.asarray(movie_ids)):
            raise NoAnswer("unknown movie id")
        model = {
            "mu": np.asarray(f.mu),
            "user_bias": f.user_bias,
            "item_bias": f.item_bias,
            "user_vec": f.user_vec,
            "item_vec": f.item_vec,
        }
        predicted = sgd.predict_pairs(model, np.full(len(cols), row), cols)
        return [float(x) for x in predicted]

    @hookimpl
    def reelpick_recommend(
        self, profile: Profile, k: int, exclude: frozenset[int]
    ) -> list[Recommendation]:
        """Fold the profile's ratings in, score every movie, keep the best ``k``.

        The score is the predicted rating before clipping to 5 stars, so that the best picks
        do not all tie at 5.
        """
        f, table = self._fitted()
        rated = [m for m in profile.ratings if table.position(m) is not None]
        if not rated:
            raise NoAnswer("SGD-MF knows none of the movies rated in this profile")
        user = self.fold_in({m: profile.ratings[m] for m in rated})
        found = user.recommend(k, exclude, RECOMMEND_MIN_RATINGS, clip=False)
        liked_ratings = profile.liked()
        liked = [m for m in rated if m in liked_ratings] or rated
        return [
            Recommendation(n.movie_id, n.score, sgd.aligned(f, n.movie_id, liked, REASONS))
            for n in found
        ]

    def fold_in(self, ratings: dict[int, float]) -> sgd.FoldedUser:
        """Place a new user from a few ``{movieId: rating}`` pairs (see ``reelpick.sgd.fold_in``).

        Not a hook: reelpick_recommend will build on it. Raises NoAnswer before a fit.
        """
        factors, _ = self._fitted()
        return sgd.fold_in(factors, ratings, self.params["fold_in_reg"])

    def _fitted(self) -> tuple[sgd.Factors, NeighbourTable]:
        """The fitted factors and similar-movie table; NoAnswer before a fit."""
        if self.factors is None or self.table is None:
            raise NoAnswer("SGD-MF is not fitted")
        return self.factors, self.table


def _check_params(params: dict) -> None:
    checks = [
        (params["factors"] >= 1, "factors must be at least 1"),
        (params["epochs"] >= 1, "epochs must be at least 1"),
        (params["ensemble"] >= 1, "ensemble must be at least 1"),
        (params["lr"] > 0, "lr must be positive"),
        (0 < params["lr_decay"] <= 1, "lr_decay must be in (0, 1]"),
        (
            min(params[k] for k in ("reg", "reg_bias", "reg_implicit", "reg_genres")) >= 0,
            "regularisation must be >= 0",
        ),
        (0 <= params["validation_share"] < 0.5, "validation_share must be in [0, 0.5)"),
        (params["patience"] >= 1, "patience must be at least 1"),
        (params["neighbours"] >= 1, "neighbours must be at least 1"),
        (params["fold_in_reg"] > 0, "fold_in_reg must be positive"),
        (
            params["similar_from"] in [s.value for s in sgd.SimilarFrom],
            "similar_from must be 'ratings' or 'all'",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(f"sgd-mf: {message}")
