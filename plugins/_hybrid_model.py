"""The hybrid plugin's model: a map from content rows to SGD-MF's movie factors and biases.

Candidates, compared on validation movies held out of the map's training movies (never on a
test split):

- ridge regression in closed form, one penalty λ for all outputs, chosen from
  :data:`RIDGE_LAMBDAS` (one eigendecomposition serves every λ);
- a small MLP (one ReLU hidden layer, Adam, weight decay), trained in numpy, the number of
  epochs chosen by early stopping on the same validation movies.

The criterion is what the map is for: the RMSE of the validation movies' ratings predicted
from the *mapped* factors and bias with the users' fitted factors
(μ + b_u + b̂_i + p_u·q̂_i). The users' factors saw those ratings during SGD, so this slightly
flatters every candidate alike; it ranks them without a second SGD fit.

Movies with a few ratings blend their SGD and mapped parameters by ``n/(n+c)``. ``c`` is chosen
by simulation on the validation movies: reveal n of a movie's ratings, place the movie from
them with the users fixed (a ridge fold-in, the item-side twin of ``reelpick.sgd.fold_in``),
blend with its mapped parameters and score the ratings not revealed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

RIDGE_LAMBDAS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
SHRINKAGE_GRID = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 1e9)
REVEALED = (1, 2, 3, 5, 8)  # ratings revealed per validation movie when choosing c
MIN_LEFT = 3  # ratings a validation movie must keep to score a reveal
RMSE_CHUNK = 32_768  # held-out ratings scored at once


class Model(StrEnum):
    """The content map: ridge regression, a small MLP, or AUTO (the better on validation)."""

    AUTO = "auto"
    RIDGE = "ridge"
    MLP = "mlp"


@dataclass
class UserSide:
    """What the map's validation needs of the fitted SGD model: users and their ratings."""

    mu: float
    user_bias: np.ndarray
    user_vec: np.ndarray
    # Ratings as (user row, item position in the map's targets, rating), grouped by item.
    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray

    def rmse(self, items: np.ndarray, bias: np.ndarray, vectors: np.ndarray) -> float:
        """RMSE over the ratings of the target rows ``items`` (distinct ids) given their bias
        and vectors."""
        keep = np.isin(self.items, items)
        order = np.argsort(items, kind="stable")
        rows = order[np.searchsorted(items[order], self.items[keep])]
        users, truth = self.users[keep], self.ratings[keep]
        if not len(rows):
            return float("nan")
        squared = 0.0
        # In chunks: one (ratings x factors) gather of every held-out rating at MovieLens
        # 32M's size is tens of GB.
        for start in range(0, len(rows), RMSE_CHUNK):
            u, r = users[start : start + RMSE_CHUNK], rows[start : start + RMSE_CHUNK]
            dots = np.einsum("ij,ij->i", self.user_vec[u], vectors[r])
            predicted = np.clip(self.mu + self.user_bias[u] + bias[r] + dots, 0.5, 5.0)
            squared += float(np.sum((predicted - truth[start : start + RMSE_CHUNK]) ** 2))
        return float(np.sqrt(squared / len(rows)))


@dataclass
class ContentMap:
    """content row -> (bias, vector). ``kind`` is RIDGE or MLP; weights in ``layers``."""

    kind: Model
    x_mean: np.ndarray
    y_mean: np.ndarray
    y_scale: np.ndarray
    layers: list[np.ndarray]  # ridge: [W]; mlp: [W1, b1, W2, b2]

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(bias, vectors) of content rows ``x``."""
        h = x - self.x_mean
        if self.kind == Model.MLP:
            w1, b1, w2, b2 = self.layers
            h = np.maximum(h @ w1 + b1, 0) @ w2 + b2
        else:
            h = h @ self.layers[0]
        y = h * self.y_scale + self.y_mean
        return y[:, 0], y[:, 1:]

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"kind": np.array(self.kind.value), "x_mean": self.x_mean, "y_mean": self.y_mean}
        out["y_scale"] = self.y_scale
        out.update({f"layer{n}": layer for n, layer in enumerate(self.layers)})
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ContentMap:
        layers = [arrays[f"layer{n}"] for n in range(sum(k.startswith("layer") for k in arrays))]
        return cls(
            Model(str(arrays["kind"])),
            arrays["x_mean"],
            arrays["y_mean"],
            arrays["y_scale"],
            layers,
        )


# -- ridge ------------------------------------------------------------------------------------


class RidgePath:
    """Ridge solutions for many λ from one eigendecomposition of XᵀX (intercept unpenalised)."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x_mean, self.y_mean = x.mean(axis=0), y.mean(axis=0)
        xc = x - self.x_mean
        self.values, self.vectors = np.linalg.eigh(xc.T @ xc)
        self.values = np.maximum(self.values, 0)
        self.projected = self.vectors.T @ (xc.T @ (y - self.y_mean))

    def solve(self, lam: float) -> ContentMap:
        weights = self.vectors @ (self.projected / (self.values + lam)[:, None])
        return ContentMap(
            Model.RIDGE, self.x_mean, self.y_mean, np.ones_like(self.y_mean), [weights]
        )


def fit_ridge(x: np.ndarray, y: np.ndarray, lam: float) -> ContentMap:
    """Ridge regression of ``y`` (bias column first, then vectors) on ``x``, penalty ``lam``."""
    return RidgePath(x, y).solve(lam)


# -- MLP --------------------------------------------------------------------------------------


def fit_mlp(
    x: np.ndarray,
    y: np.ndarray,
    hidden: int,
    epochs: int,
    seed: int,
    weight_decay: float = 1e-4,
    lr: float = 1e-3,
    batch: int = 64,
    validate: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[ContentMap, list[float]]:
    """One-hidden-layer ReLU network trained by Adam on standardised targets.

    Returns the map after ``epochs`` epochs and, with ``validate`` = (x, y), the validation
    MSE after each epoch (to choose the number of epochs).
    """
    rng = np.random.default_rng(seed)
    x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
    y_scale = y.std(axis=0)
    y_scale[y_scale == 0] = 1.0
    xs, ys = x - x_mean, (y - y_mean) / y_scale
    d, k = xs.shape[1], ys.shape[1]
    params = [
        rng.standard_normal((d, hidden)) * np.sqrt(2.0 / d),
        np.zeros(hidden),
        rng.standard_normal((hidden, k)) * np.sqrt(1.0 / hidden),
        np.zeros(k),
    ]
    moments = [np.zeros_like(p) for p in params]
    squares = [np.zeros_like(p) for p in params]
    history: list[float] = []
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(xs))
        for start in range(0, len(xs), batch):
            rows = order[start : start + batch]
            hid = xs[rows] @ params[0] + params[1]
            act = np.maximum(hid, 0)
            err = (act @ params[2] + params[3] - ys[rows]) * (2.0 / (len(rows) * k))
            g_act = (err @ params[2].T) * (hid > 0)
            grads = [xs[rows].T @ g_act, g_act.sum(0), act.T @ err, err.sum(0)]
            step += 1
            for n, grad in enumerate(grads):
                if n in (0, 2):  # decay the weights, not the offsets
                    grad = grad + weight_decay * params[n]
                moments[n] = 0.9 * moments[n] + 0.1 * grad
                squares[n] = 0.999 * squares[n] + 0.001 * grad**2
                m_hat = moments[n] / (1 - 0.9**step)
                v_hat = squares[n] / (1 - 0.999**step)
                params[n] = params[n] - lr * m_hat / (np.sqrt(v_hat) + 1e-8)
        if validate is not None:
            fitted = ContentMap(Model.MLP, x_mean, y_mean, y_scale, params)
            bias, vectors = fitted.predict(validate[0])
            guess = np.column_stack([bias, vectors])
            history.append(float(np.mean(((guess - validate[1]) / y_scale) ** 2)))
    return ContentMap(Model.MLP, x_mean, y_mean, y_scale, [p.copy() for p in params]), history


# -- choosing -----------------------------------------------------------------------------------


@dataclass
class Choice:
    """What validation chose, and the scores it chose by (kept for the report and the bench)."""

    kind: Model
    lam: float
    mlp_epochs: int
    shrinkage: float
    ridge_rmse: float
    mlp_rmse: float
    scores: dict[str, float]

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "kind": np.array(self.kind.value),
            "lam": np.array(self.lam),
            "mlp_epochs": np.array(self.mlp_epochs),
            "shrinkage": np.array(self.shrinkage),
            "ridge_rmse": np.array(self.ridge_rmse),
            "mlp_rmse": np.array(self.mlp_rmse),
            "score_names": np.array(list(self.scores), dtype=str),
            "score_values": np.array(list(self.scores.values()), dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> Choice:
        names, values = a["score_names"].tolist(), a["score_values"].tolist()
        return cls(
            Model(str(a["kind"])),
            float(a["lam"]),
            int(a["mlp_epochs"]),
            float(a["shrinkage"]),
            float(a["ridge_rmse"]),
            float(a["mlp_rmse"]),
            dict(zip(names, values, strict=True)),
        )


def choose_and_fit(
    x: np.ndarray,
    y: np.ndarray,
    side: UserSide,
    params: dict,
) -> tuple[ContentMap, Choice]:
    """Choose the map and the shrinkage on validation movies, then refit the map on all rows.

    ``x``/``y`` are the content rows and targets (bias, vector) of the map's training movies;
    ``side.items`` refer to rows of ``y``. ``params``: model ("auto", "ridge" or "mlp"),
    validation_share, seed, mlp_hidden, mlp_epochs, fold_in_reg.
    """
    rng = np.random.default_rng(int(params["seed"]))
    n = len(x)
    held = rng.permutation(n)[: max(1, int(round(params["validation_share"] * n)))]
    train = np.setdiff1d(np.arange(n), held)
    scores: dict[str, float] = {}
    path = RidgePath(x[train], y[train])
    best_lam, ridge_rmse = RIDGE_LAMBDAS[0], np.inf
    best_ridge = path.solve(best_lam)
    for lam in RIDGE_LAMBDAS:
        candidate = path.solve(lam)
        bias, vectors = candidate.predict(x[held])
        scores[f"ridge λ={lam:g}"] = rmse = side.rmse(held, bias, vectors)
        if rmse < ridge_rmse:
            best_lam, ridge_rmse, best_ridge = lam, rmse, candidate
    mlp_rmse, mlp_epochs, best_mlp = np.inf, 0, None
    if params["model"] in (Model.AUTO, Model.MLP):
        _, curve = fit_mlp(
            x[train],
            y[train],
            params["mlp_hidden"],
            params["mlp_epochs"],
            int(params["seed"]),
            validate=(x[held], y[held]),
        )
        mlp_epochs = int(np.argmin(curve)) + 1
        best_mlp, _ = fit_mlp(
            x[train], y[train], params["mlp_hidden"], mlp_epochs, int(params["seed"])
        )
        bias, vectors = best_mlp.predict(x[held])
        scores[f"mlp epochs={mlp_epochs}"] = mlp_rmse = side.rmse(held, bias, vectors)
    use_mlp = params["model"] == Model.MLP or (
        params["model"] == Model.AUTO and mlp_rmse < ridge_rmse
    )
    chosen = best_mlp if use_mlp and best_mlp is not None else best_ridge
    shrinkage, blend_scores = choose_shrinkage(chosen, x, y, held, side, params)
    scores.update(blend_scores)
    if use_mlp:
        final, _ = fit_mlp(x, y, params["mlp_hidden"], mlp_epochs, int(params["seed"]))
    else:
        final = fit_ridge(x, y, best_lam)
    choice = Choice(
        Model.MLP if use_mlp else Model.RIDGE,
        best_lam,
        mlp_epochs,
        shrinkage,
        ridge_rmse,
        float(mlp_rmse),
        scores,
    )
    return final, choice


def choose_shrinkage(
    mapped: ContentMap,
    x: np.ndarray,
    y: np.ndarray,
    held: np.ndarray,
    side: UserSide,
    params: dict,
) -> tuple[float, dict[str, float]]:
    """The ``c`` of the blend n/(n+c) that best predicts unrevealed ratings (see module doc)."""
    rng = np.random.default_rng(int(params["seed"]) + 1)
    bias_hat, vec_hat = mapped.predict(x[held])
    k = side.user_vec.shape[1]
    reg = float(params["fold_in_reg"])
    # Per-column penalties as a rescaling: the bias is penalised less (as in the user fold-in).
    scale = np.concatenate([np.full(k, 1 / np.sqrt(reg)), [1 / np.sqrt(0.1 * reg)]])
    errors = np.zeros(len(SHRINKAGE_GRID))
    count = 0
    order = np.argsort(side.items, kind="stable")
    starts = np.searchsorted(side.items[order], held)
    stops = np.searchsorted(side.items[order], held, side="right")
    for h, (start, stop) in enumerate(zip(starts, stops, strict=True)):
        rows = order[start:stop]
        for revealed in REVEALED:
            if len(rows) < revealed + MIN_LEFT:
                continue
            pick = rng.permutation(len(rows))
            known, rest = rows[pick[:revealed]], rows[pick[revealed:]]
            users = side.users[known]
            design = np.column_stack([side.user_vec[users], np.ones(len(known))]) * scale
            target = side.ratings[known] - side.mu - side.user_bias[users]
            # Dual ridge: n x n, since only a few ratings are revealed.
            beta = design.T @ np.linalg.solve(design @ design.T + np.eye(len(known)), target)
            beta = beta * scale
            others = side.users[rest]
            base = side.mu + side.user_bias[others]
            others_vec = side.user_vec[others]  # gathered once for the whole grid
            for g, c in enumerate(SHRINKAGE_GRID):
                w = revealed / (revealed + c)
                vec = w * beta[:k] + (1 - w) * vec_hat[h]
                b = w * beta[k] + (1 - w) * bias_hat[h]
                predicted = np.clip(base + b + others_vec @ vec, 0.5, 5.0)
                errors[g] += np.sum((predicted - side.ratings[rest]) ** 2)
            count += len(rest)
    if count == 0:
        return SHRINKAGE_GRID[len(SHRINKAGE_GRID) // 2], {}
    rmse = np.sqrt(errors / count)
    scores = {f"blend c={c:g}": float(r) for c, r in zip(SHRINKAGE_GRID, rmse, strict=True)}
    return float(SHRINKAGE_GRID[int(np.argmin(rmse))]), scores


def blend_weights(counts: np.ndarray, shrinkage: float) -> np.ndarray:
    """How much a movie's own SGD parameters count against the mapped ones: n/(n+c)."""
    counts = np.asarray(counts, dtype=np.float64)
    if shrinkage <= 0:
        return (counts > 0).astype(np.float64)
    return counts / (counts + shrinkage)


def topk_among(
    vectors: np.ndarray, queries: np.ndarray, candidates: np.ndarray, k: int, block: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k cosine neighbours of the ``queries`` rows, drawn from the ``candidates`` rows only.

    The layout of :func:`reelpick.topk_cosine_dense` (positions into ``vectors``, -1 padding),
    but queries and candidates are separate masks: every placed movie gets neighbours, and they
    are movies whose place was measured from ratings rather than guessed from content.
    """
    norms = np.linalg.norm(vectors, axis=1)
    unit_rows = np.divide(
        vectors, norms[:, None], out=np.zeros_like(vectors), where=norms[:, None] > 0
    )
    pool = np.flatnonzero(candidates & (norms > 0))
    n = len(vectors)
    k = min(k, max(len(pool) - 1, 0))
    index = np.full((n, k), -1, dtype=np.int32)
    score = np.zeros((n, k), dtype=np.float32)
    asked = np.flatnonzero(queries & (norms > 0))
    if k == 0 or len(asked) == 0:
        return index, score
    for start in range(0, len(asked), block):
        rows = asked[start : start + block]
        sims = (unit_rows[rows] @ unit_rows[pool].T).astype(np.float32)
        sims[pool[None, :] == rows[:, None]] = -np.inf  # never the query itself
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        index[rows] = pool[np.take_along_axis(top, order, axis=1)]
        score[rows] = np.take_along_axis(top_scores, order, axis=1)
    bad = ~np.isfinite(score)
    index[bad], score[bad] = -1, 0
    np.clip(score, -1.0, 1.0, out=score)
    return index, score
