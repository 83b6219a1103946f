"""als: Spark MLlib ALS (alternating least squares) on explicit ratings.

Fitting always runs on Spark (a cluster with ``[engine] name = "spark"``, else pyspark in
local mode), so it needs the ``[spark]`` extra. Answering never does: everything a query
needs (factors, the global mean, the similar-movie table) is stored as numpy arrays.

- similar movies: cosine between item factors (a stored top-k table);
- predictions: global mean + user bias + movie bias + user factors . item factors (the
  biases are regularised means, computed first in numpy; ALS learns what they leave);
- recommendations: fold-in. A profile's ratings are fitted by least squares on the fixed
  item factors, with ALS's own penalty (regParam x number of ratings, as Spark's ALS-WR
  weighting), then every movie is scored; numpy only.
"""

from __future__ import annotations

import numpy as np

from reelpick import (
    ArtifactStore,
    Config,
    Dataset,
    Neighbour,
    NeighbourTable,
    NoAnswer,
    PluginInfo,
    Profile,
    Recommendation,
    engine_for,
    hookimpl,
    topk_cosine_dense,
)

FACTORS = "factors"


class SparkALS:
    def __init__(self) -> None:
        self.params: dict = {}
        self.table: NeighbourTable | None = None
        self.movie_ids = np.empty(0, dtype=np.int64)
        self.user_ids = np.empty(0, dtype=np.int64)
        self.user_factors = np.empty((0, 0), dtype=np.float32)
        self.item_factors = np.empty((0, 0), dtype=np.float32)
        self.trained = np.empty(0, dtype=bool)  # movies with ratings in the fit
        self.user_bias = np.empty(0, dtype=np.float32)
        self.item_bias = np.empty(0, dtype=np.float32)
        self.mean = 0.0

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            label="ALS (Spark)",
            description="Close in a taste space learned by Spark MLlib ALS on the ratings.",
            version="1",
            params={
                # Chosen on a validation split inside the training data (docs/scaling.md).
                "rank": 20,  # length of the user and movie vectors
                "reg": 0.15,  # regParam; Spark scales it by each user's/movie's rating count
                "max_iter": 15,  # ALS sweeps
                "seed": 0,
                "neighbours": 50,  # width of the stored similar-movie table
                "min_ratings": 3,  # movies with fewer ratings get and give no similar movies
                "reg_bias": 10.0,  # shrinks user and movie biases towards 0 (like that many 0s)
            },
        )

    @hookimpl
    def reelpick_fit(
        self, dataset: Dataset, params: dict, store: ArtifactStore, config: Config | None = None
    ) -> None:
        for ok, message in (
            (params["rank"] >= 1, "rank must be at least 1"),
            (params["reg"] > 0, "reg must be positive"),
            (params["max_iter"] >= 1, "max_iter must be at least 1"),
        ):
            if not ok:
                raise ValueError(message)
        self.params = params
        matrix = dataset.matrix
        arrays = store.load_arrays(FACTORS)
        table = NeighbourTable.load(store)
        if arrays is None or table is None:
            arrays, table = self._train(dataset, params, config)
            # Only now, after the whole Spark job: a failed fit leaves no store behind.
            table.save(store)
            store.save_arrays(FACTORS, **arrays)
        self.table = table
        self.movie_ids = matrix.movie_ids
        self.user_ids = arrays["user_ids"]
        self.user_factors = arrays["user_factors"]
        self.item_factors = arrays["item_factors"]
        self.trained = arrays["trained"]
        self.user_bias = arrays["user_bias"]
        self.item_bias = arrays["item_bias"]
        self.mean = float(arrays["mean"])

    def _train(
        self, dataset: Dataset, params: dict, config: Config | None
    ) -> tuple[dict[str, np.ndarray], NeighbourTable]:
        matrix = dataset.matrix
        ratings = matrix.matrix.tocsr(copy=True)
        mean = float(ratings.data.mean()) if ratings.nnz else 0.0
        user_bias, item_bias = _biases(ratings, mean, params["reg_bias"])
        # Spark's ALS has no bias terms: it learns what the mean and the biases leave.
        rows = np.repeat(np.arange(ratings.shape[0]), np.diff(ratings.indptr))
        ratings.data -= (mean + user_bias[rows] + item_bias[ratings.indices]).astype(np.float32)
        factors = engine_for(config).fit_als(
            ratings, params["rank"], params["reg"], params["max_iter"], params["seed"]
        )
        counts = np.diff(matrix.matrix.tocsc().indptr)
        trained = counts > 0
        index, score = topk_cosine_dense(
            factors.item_factors, params["neighbours"], valid=counts >= params["min_ratings"]
        )
        arrays = {
            "user_ids": matrix.user_ids,
            "user_factors": factors.user_factors,
            "item_factors": factors.item_factors,
            "trained": trained,
            "user_bias": user_bias,
            "item_bias": item_bias,
            "mean": np.asarray(mean, dtype=np.float64),
        }
        return arrays, NeighbourTable(matrix.movie_ids, index, score)

    @hookimpl
    def reelpick_similar(self, movie_id: int, k: int) -> list[Neighbour]:
        return self._table().similar(
            movie_id,
            k,
            unknown="ALS knows no such movie",
            alone=f"ALS has no vector for this movie (fewer than {self.params['min_ratings']} ratings)",
        )

    @hookimpl
    def reelpick_predict(self, user_id: int, movie_ids: list[int]) -> list[float]:
        row = int(np.searchsorted(self.user_ids, user_id))
        if row >= len(self.user_ids) or self.user_ids[row] != user_id:
            raise NoAnswer(f"user {user_id} has no ratings; recommend from a profile instead")
        columns = self._columns(movie_ids)
        # A movie without ratings has a zero vector and bias: the user's baseline remains.
        predicted = (
            self.mean
            + self.user_bias[row]
            + self.item_bias[columns]
            + self.item_factors[columns] @ self.user_factors[row]
        )
        return [float(p) for p in np.clip(predicted, 0.5, 5.0)]

    @hookimpl
    def reelpick_recommend(
        self, profile: Profile, k: int, exclude: frozenset[int]
    ) -> list[Recommendation]:
        table = self._table()
        known = {
            int(m): float(r)
            for m, r in profile.ratings.items()
            if (c := table.position(int(m))) is not None and self.trained[c]
        }
        if not known:
            raise NoAnswer("none of the profile's rated movies has ratings ALS learned from")
        bias, user = self.fold_in(known)
        scores = self.item_bias + self.item_factors @ user  # the user's own offset ranks nothing
        usable = self.trained.copy()
        banned = [c for m in exclude if (c := table.position(int(m))) is not None]
        usable[banned] = False
        candidates = np.flatnonzero(usable)
        if not len(candidates):
            raise NoAnswer("every movie ALS knows is already in the profile")
        take = min(k, len(candidates))
        best = candidates[np.argpartition(-scores[candidates], take - 1)[:take]]
        best = best[np.lexsort((best, -scores[best]))]  # best first, ties to the lower id
        liked = sorted(known, key=lambda m: -known[m])[:3]
        return [
            Recommendation(int(self.movie_ids[c]), float(scores[c]), because=tuple(liked))
            for c in best
        ]

    def fold_in(self, ratings: dict[int, float]) -> tuple[float, np.ndarray]:
        """A user bias and vector for ``ratings`` (movieId -> stars), the movies fixed: the
        bias as at fit, then the least-squares step ALS itself takes for a user, with the same
        penalty (regParam x number of ratings)."""
        columns = self._columns(list(ratings))
        stars = np.asarray(list(ratings.values()), dtype=np.float64)
        offsets = stars - self.mean - self.item_bias[columns]
        bias = float(offsets.sum() / (len(offsets) + self.params["reg_bias"]))
        items = self.item_factors[columns].astype(np.float64)
        penalty = self.params["reg"] * len(columns) * np.eye(items.shape[1])
        vector = np.linalg.solve(items.T @ items + penalty, items.T @ (offsets - bias))
        return bias, vector.astype(np.float32)

    def _columns(self, movie_ids: list[int]) -> list[int]:
        table = self._table()
        columns = [table.position(int(m)) for m in movie_ids]
        found = [c for c in columns if c is not None]
        if len(found) < len(columns):
            raise NoAnswer("unknown movie id")
        return found

    def _table(self) -> NeighbourTable:
        """The fitted similar-movie table; NoAnswer before a fit."""
        if self.table is None:
            raise NoAnswer("ALS is not fitted")
        return self.table


def _biases(ratings, mean: float, reg: float, sweeps: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """User and movie biases: regularised mean offsets, alternated a few times (they settle
    within a few sweeps). ``ratings`` is users x movies CSR."""
    by_item = ratings.tocsc()
    user_counts = np.diff(ratings.indptr)
    item_counts = np.diff(by_item.indptr)
    rows = np.repeat(np.arange(ratings.shape[0]), user_counts)
    item_bias = np.zeros(ratings.shape[1])
    user_bias = np.zeros(ratings.shape[0])
    stars = ratings.data.astype(np.float64) - mean
    for _ in range(sweeps):
        residual = stars - item_bias[ratings.indices]
        user_bias = np.bincount(rows, residual, ratings.shape[0]) / (user_counts + reg)
        residual = stars - user_bias[rows]
        item_bias = np.bincount(ratings.indices, residual, ratings.shape[1]) / (item_counts + reg)
    return user_bias.astype(np.float32), item_bias.astype(np.float32)
