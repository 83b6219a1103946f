"""The SGD-MF model: biased matrix factorisation trained by stochastic gradient descent.

The model predicts user u's rating of movie i as::

    r̂ = μ + b_u + b_i + |G(i)|^-1 Σ_{g∈G(i)} c_g
        + (p_u + |N(u)|^-½ Σ_{j∈N(u)} [y_j + (r_uj - μ - b_u - b_j) x_j])
        · (q_i + |G(i)|^-1 Σ_{g∈G(i)} z_g)

μ is the global mean, b the biases, p/q the user/movie factors. Optional terms use what the
data offers beyond one rating at a time:

- ``implicit``: N(u) is the set of movies u chose to rate (SVD++, vectors y_j), so a user is
  described partly by *which* movies they rated.
- ``asymmetric``: the same movies weighted by how u rated them relative to the baseline
  (Koren's asymmetric SVD, vectors x_j). Both terms are shared by all users, so they help
  most where a user's own vector p_u has little to learn from: users with few ratings.
- ``genres``/``decades``/``min_tagged``: a movie's vector and bias get a share of its genres'
  (decade's, tags') vectors z_g and biases c_g, which is all a rarely rated movie has to go on.

Training runs over the ratings in shuffled order: users in a random order, each user's ratings
in a random order. Keeping a user's ratings together keeps their vector in cache and lets the
implicit term be gathered once per user, its gradient applied after the user's ratings (the
usual fast SVD++ scheme; the numba kernels are in :mod:`.kernels`). The learning rate
decays each epoch and training stops early when the RMSE on a validation slice of the
training data (every user weighted equally, as in the article's protocol) stops improving; the
model is then refitted on all the training data for the best number of epochs, ``ensemble``
times from different seeds, and the fits averaged. Everything is seeded: the same data,
parameters and seed give the same factors.

:func:`~reelpick.sgd.fold_in.fold_in` places a user who is not in the training data from a few
ratings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..data.movielens import Dataset
from . import kernels


class SimilarFrom(StrEnum):
    """Which movie vectors similar movies are measured on."""

    ALL = "all"  # the full vectors, genre and implicit terms included
    RATINGS = "ratings"  # the rating factors only (kept as ``Factors.item_cf``)


# The parameters of the model and of the tables built from it (sgd-mf's [plugins.sgd-mf]).
DEFAULT_PARAMS = {
    "factors": 100,  # length of the user and movie vectors
    "epochs": 100,  # most passes over the ratings (early stopping usually ends sooner)
    "lr": 0.015,  # initial learning rate
    "lr_decay": 0.96,  # learning rate multiplier after each epoch
    "reg": 0.05,  # L2 penalty on the factor vectors p, q
    "reg_bias": 0.01,  # L2 penalty on the user and movie biases
    "reg_implicit": 0.15,  # L2 penalty on the implicit vectors y and asymmetric vectors x
    "reg_genres": 0.0,  # L2 penalty on the genre vectors z and biases c
    "init_std": 0.05,  # standard deviation of the random initial factors
    "implicit": True,  # SVD++ term: which movies a user rated
    "asymmetric": True,  # asymmetric-SVD term: how a user rated them (shares reg_implicit)
    "genres": True,  # genre vectors and biases shared by the movies of a genre
    "decades": True,  # likewise for the decade of release
    "min_tagged": 0,  # likewise for user tags found on this many movies (0: no tags)
    "patience": 4,  # stop after this many epochs without a better validation RMSE
    "min_epochs": 10,  # never stop before this (small factors can sit on a plateau at first)
    "validation_share": 0.05,  # share of each user's training ratings held out to stop early
    "refit": True,  # after early stopping, refit on all ratings for the best epoch count
    "ensemble": 5,  # average this many models trained from seeds seed, seed+1, ...
    "seed": 0,  # seeds the initial factors, the validation slice and the shuffling
    "neighbours": 50,  # width of the stored similar-movie table
    "similar_from": "all",  # cosine of the full movie vectors, or "ratings" (rating factors only)
    "min_ratings": 3,  # movies with fewer training ratings get and give no similar movies
    "fold_in_reg": 3.0,  # ridge penalty when folding in a new user (see fold_in)
}

# -- training ------------------------------------------------------------------------------


@dataclass
class Factors:
    """A fitted model. ``user_vec``/``item_vec`` already include the implicit and genre terms."""

    mu: float
    user_ids: np.ndarray  # sorted userIds, one row per user
    movie_ids: np.ndarray  # sorted movieIds, one row per movie (rated or not)
    user_bias: np.ndarray
    item_bias: np.ndarray  # b_i + genre biases
    user_vec: np.ndarray  # p_u + implicit sum
    item_vec: np.ndarray  # q_i + genre vectors
    item_cf: np.ndarray  # q_i alone: what the ratings say about a movie
    implicit: np.ndarray  # y_j (empty when the implicit term is off)
    asymmetric: np.ndarray  # x_j (empty when the asymmetric term is off)
    item_bias_raw: np.ndarray  # b_i without the genre biases (the asymmetric term's baseline)
    item_counts: np.ndarray  # training ratings per movie
    history: dict[str, np.ndarray] = field(default_factory=dict)

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything, for ArtifactStore.save_arrays."""
        out = {
            "mu": np.array(self.mu),
            "user_ids": self.user_ids,
            "movie_ids": self.movie_ids,
            "user_bias": self.user_bias,
            "item_bias": self.item_bias,
            "user_vec": self.user_vec,
            "item_vec": self.item_vec,
            "item_cf": self.item_cf,
            "implicit": self.implicit,
            "asymmetric": self.asymmetric,
            "item_bias_raw": self.item_bias_raw,
            "item_counts": self.item_counts,
        }
        out.update({f"history_{k}": v for k, v in self.history.items()})
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Factors:
        history = {k[8:]: v for k, v in arrays.items() if k.startswith("history_")}
        plain: dict[str, Any] = {k: v for k, v in arrays.items() if not k.startswith("history_")}
        plain["mu"] = float(plain["mu"])
        return cls(**plain, history=history)


def train(
    matrix: sp.csr_matrix,
    params: dict[str, Any],
    item_features: sp.csr_matrix | None = None,
    valid: sp.csr_matrix | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, list[float]]]:
    """Run SGD on a users x items rating matrix for ``params["epochs"]`` epochs at most.

    ``item_features`` (items x features, see :func:`feature_matrix`) feeds the genre terms.
    ``valid`` (same shape) is used for early stopping: training stops after ``patience``
    epochs without a better validation RMSE and the best epoch's parameters are returned.
    Returns the raw parameters and the per-epoch history (train_rmse, valid_rmse).
    """
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    matrix.sort_indices()
    n_users, n_items = matrix.shape
    k = int(params["factors"])
    rng = np.random.default_rng(int(params["seed"]))
    if item_features is None:
        item_features = sp.csr_matrix((n_items, 1), dtype=np.float64)
    n_genres = item_features.shape[1]
    # Factors are float32: half the memory traffic of float64, and SGD noise dwarfs rounding.
    state = {
        "bu": np.zeros(n_users),
        "bi": np.zeros(n_items),
        "P": rng.standard_normal((n_users, k), dtype=np.float32) * np.float32(params["init_std"]),
        "Q": rng.standard_normal((n_items, k), dtype=np.float32) * np.float32(params["init_std"]),
        "Y": np.zeros((n_items, k), dtype=np.float32),
        "X": np.zeros((n_items, k), dtype=np.float32),
        "Z": np.zeros((n_genres, k), dtype=np.float32),
        "c": np.zeros(n_genres),
    }
    mu = float(matrix.data.mean()) if matrix.nnz else 3.0
    g_ptr, g_idx = item_features.indptr.astype(np.int64), item_features.indices.astype(np.int64)
    history: dict[str, list[float]] = {"train_rmse": [], "valid_rmse": []}
    best, best_rmse, since_best = None, np.inf, 0
    lr = float(params["lr"])
    regs = np.array(
        [params["reg"], params["reg_bias"], params["reg_implicit"], params["reg_genres"]],
        dtype=np.float64,
    )
    for epoch in range(int(params["epochs"])):
        # Users in a random order, each user's ratings in a random order; the arrays are laid
        # out in that order so the kernel reads them front to back.
        users = rng.permutation(n_users).astype(np.int64)
        block, cols, vals = kernels.shuffle(matrix.indptr, matrix.indices, matrix.data, users, rng)
        if not params["implicit"] and not params["asymmetric"] and item_features.nnz == 0:
            sq = kernels.epoch_plain(
                users,
                block,
                cols,
                vals,
                mu,
                state["bu"],
                state["bi"],
                state["P"],
                state["Q"],
                lr,
                regs,
            )
        else:
            sq = kernels.epoch(
                users,
                block,
                cols,
                vals,
                mu,
                state["bu"],
                state["bi"],
                state["P"],
                state["Q"],
                state["Y"],
                state["X"],
                state["Z"],
                state["c"],
                g_ptr,
                g_idx,
                lr,
                regs,
                bool(params["implicit"]),
                bool(params["asymmetric"]),
            )
        history["train_rmse"].append(float(np.sqrt(sq / max(matrix.nnz, 1))))
        lr *= float(params["lr_decay"])
        if valid is None or valid.nnz == 0:
            continue
        model = _assemble(matrix, mu, state, item_features, params)
        rmse = _rmse(model, valid)
        history["valid_rmse"].append(rmse)
        if rmse < best_rmse - 1e-5:
            best, best_rmse, since_best = model, rmse, 0
        else:
            since_best += 1
            if since_best >= int(params["patience"]) and epoch + 1 >= int(params["min_epochs"]):
                break
    if best is None:
        best = _assemble(matrix, mu, state, item_features, params)
    return best, history


def _assemble(
    matrix: sp.csr_matrix,
    mu: float,
    state: dict[str, np.ndarray],
    item_features: sp.csr_matrix,
    params: dict[str, Any],
) -> dict[str, np.ndarray]:
    """Fold the implicit and genre terms into one vector and bias per user and movie."""
    counts = np.diff(matrix.indptr)
    norm = sp.diags(1 / np.sqrt(np.maximum(counts, 1)))
    implicit = np.zeros_like(state["P"])
    if params["implicit"]:
        rated = matrix.copy()
        rated.data = np.ones_like(rated.data, dtype=np.float32)
        implicit += (norm @ rated) @ state["Y"]
    if params["asymmetric"]:
        rows = np.repeat(np.arange(matrix.shape[0]), counts)
        residual = matrix.copy().astype(np.float64)
        residual.data -= mu + state["bu"][rows] + state["bi"][matrix.indices]
        implicit += (norm @ residual) @ state["X"]
    g_counts = np.diff(item_features.indptr)
    genre_share = sp.diags(1 / np.maximum(g_counts, 1)) @ item_features
    return {
        "mu": np.array(mu),
        "user_bias": state["bu"].copy(),
        "item_bias": state["bi"] + genre_share @ state["c"],
        "user_vec": state["P"] + implicit,
        "item_vec": state["Q"] + genre_share @ state["Z"],
        "item_cf": state["Q"].copy(),
        "implicit": state["Y"].copy(),
        "asymmetric": state["X"].copy(),
        "item_bias_raw": state["bi"].copy(),
    }


def _rmse(model: dict[str, np.ndarray], ratings: sp.csr_matrix) -> float:
    """RMSE with every user weighted equally, as in the article's protocol (10 per user)."""
    coo = ratings.tocoo()
    predicted = predict_pairs(model, coo.row, coo.col)
    per_user = np.diff(ratings.indptr)[coo.row]
    weights = 1.0 / per_user
    return float(np.sqrt(np.sum(weights * (coo.data - predicted) ** 2) / np.sum(weights)))


def predict_pairs(model: dict[str, np.ndarray], users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Predicted ratings (0.5-5) of the pairs (row ``users[n]``, column ``items[n]``)."""
    dots = np.einsum("ij,ij->i", model["user_vec"][users], model["item_vec"][items])
    raw = float(model["mu"]) + model["user_bias"][users] + model["item_bias"][items] + dots
    clipped: np.ndarray = np.clip(raw, 0.5, 5.0)
    return clipped


def validation_split(
    matrix: sp.csr_matrix, share: float, seed: int
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Hold out ``share`` of each user's ratings (at least one for users with 5 or more)."""
    matrix = sp.csr_matrix(matrix)
    rng = np.random.default_rng(seed + 7919)  # its own stream: independent of the init
    held = np.zeros(matrix.nnz, dtype=bool)
    for u in range(matrix.shape[0]):
        start, stop = matrix.indptr[u], matrix.indptr[u + 1]
        n = stop - start
        take = int(round(share * n)) if n >= 5 else 0
        if share > 0 and n >= 5:
            take = max(take, 1)
        if take:
            held[start + rng.choice(n, take, replace=False)] = True
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))

    def part(mask: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix(
            (matrix.data[mask], (rows[mask], matrix.indices[mask])), shape=matrix.shape
        )

    return part(~held), part(held)


def feature_matrix(
    dataset: Dataset, genres: bool = True, decades: bool = False, min_tagged: int = 0
) -> sp.csr_matrix:
    """Movies x features indicator matrix, rows in movieId order.

    Features: genres, decade of release, and (``min_tagged`` > 0) user tags applied to at
    least ``min_tagged`` different movies.
    """
    tags: list[list[str]] = [[] for _ in range(len(dataset.movies))]
    if min_tagged > 0 and len(dataset.tags):
        pairs = pd.DataFrame(
            {"movieId": dataset.tags["movieId"], "tag": dataset.tags["tag"].str.strip().str.lower()}
        ).drop_duplicates()
        pairs = pairs[pairs.groupby("tag")["movieId"].transform("size") >= min_tagged]
        rows = np.searchsorted(dataset.movies.index.to_numpy(), pairs["movieId"].to_numpy())
        for row, tag in zip(rows, pairs["tag"], strict=True):
            tags[row].append(f"tag {tag}")
    if genres:
        for row, names in enumerate(dataset.movies["genres"]):
            tags[row].extend(names)
    if decades:
        for row, year in enumerate(dataset.movies["year"]):
            if year is not None and year is not pd.NA:
                tags[row].append(f"decade {int(year) // 10 * 10}")
    names = sorted({t for row in tags for t in row})
    column = {t: n for n, t in enumerate(names)}
    tag_rows = [r for r, row in enumerate(tags) for _ in row]
    cols = [column[t] for row in tags for t in row]
    return sp.csr_matrix(
        (np.ones(len(tag_rows)), (tag_rows, cols)), shape=(len(dataset.movies), max(len(names), 1))
    )


def fit_factors(dataset: Dataset, params: dict[str, Any]) -> Factors:
    """Fit the model on ``dataset``: early stopping on a validation slice, then refit."""
    ratings = dataset.matrix
    features = feature_matrix(dataset, params["genres"], params["decades"], params["min_tagged"])
    matrix = ratings.matrix
    epochs = int(params["epochs"])
    history: dict[str, list[float]] = {}
    if params["validation_share"] > 0:
        fit_part, valid = validation_split(matrix, params["validation_share"], params["seed"])
        model, history = train(fit_part, params, features, valid)
        epochs = int(np.argmin(history["valid_rmse"])) + 1 if history["valid_rmse"] else epochs
    members = int(params["ensemble"])
    if params["validation_share"] <= 0 or params["refit"] or members > 1:
        fitted = []
        for member in range(members):
            seed = int(params["seed"]) + member
            model, final = train(matrix, dict(params, epochs=epochs, seed=seed), features)
            fitted.append(model)
            history[f"train_rmse_refit{member or ''}"] = final["train_rmse"]
        model = _average(fitted)
    empty = np.zeros((0, 0), dtype=np.float32)

    def vectors(key: str, keep: bool = True) -> np.ndarray:
        # float32, exactly as stored in the cache: a loaded fit predicts what a fresh one did.
        return model[key].astype(np.float32) if keep else empty

    return Factors(
        mu=float(model["mu"]),
        user_ids=ratings.user_ids,
        movie_ids=ratings.movie_ids,
        user_bias=model["user_bias"],
        item_bias=model["item_bias"],
        user_vec=vectors("user_vec"),
        item_vec=vectors("item_vec"),
        # Only the "ratings" similar-movie table needs the rating part alone.
        item_cf=vectors("item_cf", params["similar_from"] == SimilarFrom.RATINGS),
        implicit=vectors("implicit", params["implicit"]),
        asymmetric=vectors("asymmetric", params["asymmetric"]),
        item_bias_raw=model["item_bias_raw"],
        item_counts=np.diff(sp.csc_matrix(matrix).indptr).astype(np.int64),
        history={k: np.asarray(v, dtype=np.float64) for k, v in history.items()}
        | {"epochs": np.array([epochs])},
    )


def _average(models: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One model whose predictions are the mean of ``models``' (vectors side by side, / sqrt M)."""
    if len(models) == 1:
        return models[0]
    scale = 1 / np.sqrt(len(models))
    out = {
        k: np.mean([m[k] for m in models], axis=0)
        for k in ("mu", "user_bias", "item_bias", "item_bias_raw")
    }
    for key in ("user_vec", "item_vec", "item_cf", "implicit", "asymmetric"):
        out[key] = np.hstack([m[key] for m in models]) * scale
    return out
