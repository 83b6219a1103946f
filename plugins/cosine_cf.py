"""cosine-CF: item-item cosine similarity on the rating matrix, as in the seed article.

Similar movies come from a top-k table computed once (see ``reelpick.neighbours``). The
plugin also predicts ratings the article's user-based way: a similarity-weighted sum of
other users' ratings, either exactly as written (zero-filled) or mean-centred.

Recommendations for a profile are item-based, through the same table: each liked movie j
lends each of its neighbours m ``sim(j, m)``, a movie only seen half that, and m scores the
sum (``weighting = "liked"``; ``"centred"`` weighs each rating by its distance from the
person's mean, so dislikes push their neighbours down). Each movie is weighed by
``Profile.recency_weights`` too, as the ease plugin does: while the person is still rating, by
``recency_half_life`` ratings back; coming back later, by ``returning_half_life_days`` days
back. ``weighting`` and the half-lives are chosen by ``reelpick tune cosine-cf``: on validation
users inside the training data of the top-N protocol, never on its test users (the figures are
in config.toml).
"""

from __future__ import annotations

import threading
from enum import StrEnum

import numpy as np
import scipy.sparse as sp

from reelpick import (
    ArtifactStore,
    Config,
    ConfigError,
    Dataset,
    Neighbour,
    NeighbourTable,
    NoAnswer,
    PluginInfo,
    Profile,
    Recommendation,
    engine_for,
    hookimpl,
)


class Prediction(StrEnum):
    """How a rating is predicted from the neighbours' ratings."""

    MEAN_CENTRED = "mean-centred"
    ZERO_FILLED = "zero-filled"  # the article's formula as written


class Weighting(StrEnum):
    """How a profile's ratings weigh its movies when recommending."""

    CENTRED = "centred"
    LIKED = "liked"


PREDICTION_MODES = tuple(mode.value for mode in Prediction)
WEIGHTINGS = tuple(weighting.value for weighting in Weighting)
# A person's mean rating is shrunk towards PRIOR_MEAN as if PRIOR_RATINGS more ratings of it
# had been given: a profile of one or two ratings has no mean worth centring on.
PRIOR_MEAN, PRIOR_RATINGS = 3.5, 3.0
# What a movie marked "seen" (no rating) weighs: watching it says a little about taste.
SEEN_WEIGHT = 0.5


def profile_weights(profile: Profile, weighting: str = Weighting.LIKED) -> dict[int, float]:
    """How much each profile movie counts towards its neighbours' scores.

    ``liked`` (the default): 1 for each liked rating (``Profile.liked``), 0 otherwise;
    ``centred``: rating minus the person's mean shrunk towards :data:`PRIOR_MEAN` (dislikes
    push their neighbours down). Seen movies weigh
    :data:`SEEN_WEIGHT` either way; "not interested" ones weigh nothing.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    weights = {int(m): SEEN_WEIGHT for m in profile.seen}
    ratings = profile.ratings
    if weighting == Weighting.LIKED:
        liked = profile.liked()
        weights.update({int(m): 1.0 if m in liked else 0.0 for m in ratings})
        return weights
    total = sum(ratings.values()) + PRIOR_MEAN * PRIOR_RATINGS
    centre = total / (len(ratings) + PRIOR_RATINGS)
    weights.update({int(m): float(r) - centre for m, r in ratings.items()})
    return weights


UNKNOWN_MOVIE = "cosine-CF knows no ratings of this movie"


class CosineCF:
    def __init__(self) -> None:
        self.table: NeighbourTable | None = None
        self.params: dict = {}
        self.raters: Raters | None = None  # for predictions; built on the first one
        self.rated: set[int] = set()

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            label="cosine-CF",
            description="Movies rated alike by the same people (item-item cosine on ratings).",
            version="1",
            params={
                "neighbours": 50,  # width of the stored table (the most a query can ask for)
                "adjusted": False,  # subtract each user's mean rating first (adjusted cosine)
                "min_support": 3,  # ignore pairs rated together by fewer users
                "prediction": "mean-centred",  # or "zero-filled", the article's formula as written
                "weighting": "liked",  # how a profile weighs its movies when recommending
                "recency_half_life": 4.0,  # while still rating, weight halves every N ratings back
                "returning_half_life_days": 300.0,  # coming back, weight halves every N days back
            },
            # reelpick evaluate scores both prediction formulas, whichever is configured.
            variants={mode: {"prediction": mode} for mode in PREDICTION_MODES},
        )

    @hookimpl
    def reelpick_fit(
        self, dataset: Dataset, params: dict, store: ArtifactStore, config: Config | None = None
    ) -> None:
        if params["prediction"] not in PREDICTION_MODES:
            raise ValueError("prediction must be 'mean-centred' or 'zero-filled'")
        if params["weighting"] not in WEIGHTINGS:
            raise ConfigError(
                f"[plugins.cosine-cf] weighting must be one of {', '.join(WEIGHTINGS)}, "
                f"got {params['weighting']!r}"
            )
        for key in ("neighbours", "min_support"):
            if params[key] < 1:
                raise ConfigError(f"[plugins.cosine-cf] {key} must be 1 or more, got {params[key]}")
        self.params = params
        counts = dataset.rating_counts
        self.rated = set(counts.index[counts.to_numpy() > 0].tolist())
        self.raters = Raters(dataset)
        table = NeighbourTable.load(store)
        if table is None:
            matrix = dataset.matrix
            values = _centred(matrix.matrix) if params["adjusted"] else matrix.matrix
            # The local numba kernel or Spark jobs, as [engine] says: the same table either way.
            engine = engine_for(config)
            index, score = engine.topk_cosine(values, params["neighbours"], params["min_support"])
            table = NeighbourTable(matrix.movie_ids, index, score)
            table.save(store)
        self.table = table

    @hookimpl
    def reelpick_similar(self, movie_id: int, k: int) -> list[Neighbour]:
        if movie_id not in self.rated:
            raise NoAnswer(UNKNOWN_MOVIE)
        return self._table().similar(
            movie_id,
            k,
            unknown=UNKNOWN_MOVIE,
            alone="no other movie shares enough raters with this one",
        )

    @hookimpl
    def reelpick_recommend(
        self, profile: Profile, k: int, exclude: frozenset[int]
    ) -> list[Recommendation]:
        table = self._table()
        weights = profile_weights(profile, self.params["weighting"])
        # Recency ranks the movies that count here, as each plugin ranks its own.
        known = [m for m in weights if table.position(m) is not None]
        recency = profile.recency_weights(
            known, self.params["recency_half_life"], self.params["returning_half_life_days"]
        )
        weights = {m: weights[m] * r for m, r in zip(known, recency, strict=True)}
        if not any(table.has_neighbours(m) for m in weights):
            raise NoAnswer("cosine-CF knows no ratings of the movies in this profile")
        found = table.recommend(weights, k, exclude)
        if not found:
            raise NoAnswer("cosine-CF needs a movie you liked or saw to go on")
        return found

    @hookimpl
    def reelpick_predict(self, user_id: int, movie_ids: list[int]) -> list[float]:
        """User-based prediction: weights are the cosine of the user's rating row with others'."""
        if self.raters is None:
            raise NoAnswer("cosine-CF is not fitted")
        ratings, user_ids, norms, means = self.raters.figures()
        row = int(np.searchsorted(user_ids, user_id))
        if row >= len(user_ids) or user_ids[row] != user_id:
            raise NoAnswer(f"user {user_id} has no ratings")
        table = self._table()
        positions = [table.position(m) for m in movie_ids]
        columns = [c for c in positions if c is not None]
        if len(columns) < len(positions):
            raise NoAnswer("unknown movie id")
        sims = np.asarray(ratings @ ratings[row].T.toarray()).ravel() / np.maximum(
            norms * norms[row], 1e-12
        )
        sims[row] = 0.0  # the user's own ratings are what we are predicting
        block = ratings[:, columns].toarray()
        if self.params["prediction"] == Prediction.ZERO_FILLED:
            # The article's formula as written: unrated cells count as ratings of 0.
            predicted = sims @ block / np.abs(sims).sum()
        else:
            rated = block != 0
            deviations = np.where(rated, block - means[:, None], 0.0)
            weight = np.abs(sims) @ rated
            lift = np.divide(
                sims @ deviations, weight, out=np.zeros(len(columns)), where=weight > 0
            )
            predicted = np.clip(means[row] + lift, 0.5, 5.0)
        return [float(p) for p in predicted]

    def _table(self) -> NeighbourTable:
        """The fitted similar-movie table; NoAnswer before a fit."""
        if self.table is None:
            raise NoAnswer("cosine-CF is not fitted")
        return self.table


class Raters:
    """The rating matrix and per-user figures that user-based predictions read, built from
    the dataset on the first prediction: serving similar movies and picks never needs them,
    and at MovieLens 32M's size they are 0.6 GB a bot would otherwise hold from its start."""

    def __init__(self, dataset: Dataset) -> None:
        self._dataset = dataset
        self._lock = threading.Lock()
        self._figures: tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray] | None = None

    def figures(self) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray]:
        """The ratings (users x movies), user ids, each user's rating norm and mean."""
        with self._lock:
            if self._figures is None:
                matrix = self._dataset.matrix
                ratings = matrix.matrix
                counts = np.diff(ratings.indptr)
                norms = np.sqrt(np.asarray(ratings.multiply(ratings).sum(axis=1)).ravel())
                means = np.asarray(ratings.sum(axis=1)).ravel() / np.maximum(counts, 1)
                self._figures = (ratings, matrix.user_ids, norms, means)
            return self._figures


def _centred(ratings: sp.csr_matrix) -> sp.csr_matrix:
    """Each user's ratings minus that user's mean (stored entries only)."""
    centred = ratings.copy().astype(np.float32)
    counts = np.diff(centred.indptr)
    means = np.asarray(centred.sum(axis=1)).ravel() / np.maximum(counts, 1)
    # A rating equal to the user's mean becomes a stored 0: kept, so it still counts as a
    # co-rating towards min_support.
    centred.data -= np.repeat(means, counts).astype(np.float32)
    return centred
