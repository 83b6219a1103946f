"""``reelpick evaluate --task topn --tune``: the ``[picks]`` settings chosen on validation users.

The protocol that made the test split splits its training ratings again: the validation users'
held-out ratings come from the training data only, never from a test user's test ratings. The
plugins are fitted on what is left. A second fold applies the protocol once more to that
fold's training ratings (``FOLDS``): a hundred-odd validation users per fold are too few to
choose between close settings, and each figure below is the mean over both folds' users. On
the validation users:

1. every weight combination of ``WEIGHT_GRID`` (the first plugin keeps weight 1: fusion only
   sees ratios) and every ``rrf_k`` of ``RRF_K_GRID`` is scored by nDCG@10; the best wins
   (strictly better only: ties keep the earlier setting);
2. with those weights, each calibration λ of ``LAMBDA_GRID`` is scored by nDCG@10 and genre
   miscalibration; the λ kept is the one with the lowest miscalibration among those whose
   nDCG@10 is at least ``KEEP_NDCG`` (0.95) of the uncalibrated picks'. Calibration is
   suggested on (that λ) only when it also at least halves the miscalibration
   (``CALIBRATION_GOAL``); otherwise λ 0.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..config import Config
from ..data import Dataset
from ..errors import ReelpickError
from ..picks import PICKS, PickSettings
from .protocols import split_for
from .ratings import Split
from .topn_scoring import K, ScoringContext, picks_lists, score_lists
from .training import Trained, train_and_ask, truth_of

WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 2.0)
RRF_K_GRID = (60, 20, 5)  # 60 first: on a tie the usual constant stays
LAMBDA_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
FOLDS = 2  # validation folds, each inside the previous fold's training ratings
KEEP_NDCG = 0.95  # a calibrated λ must keep this share of the uncalibrated nDCG@10
CALIBRATION_GOAL = 0.5  # ... and bring miscalibration to at most this share to be switched on


def validation_folds(protocol: str, train: pd.DataFrame, test_per_user: int) -> list[Split]:
    """Up to ``FOLDS`` splits, each the protocol applied to the previous one's training
    ratings (the first to ``train``); a fold without validation users ends the list."""
    folds: list[Split] = []
    for number in range(1, FOLDS + 1):
        inner = split_for(protocol, train, test_per_user)
        if not truth_of(inner.test):
            break
        inner.label = f"validation fold {number} inside training: {inner.label}"
        folds.append(inner)
        train = inner.train
    return folds


def pooled(values: list[float], sizes: list[int]) -> float:
    """The mean over every fold's users of a figure each fold gives as its users' mean."""
    return float(np.average(values, weights=sizes))


def tune_picks(
    config: Config,
    dataset: Dataset,
    split: Split,
    plugins: list[str] | None,
    protocol: str,
    test_per_user: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Best picks weights, rrf_k and calibration λ on validation inside ``split.train``."""
    folds = validation_folds(protocol, split.train, test_per_user)
    if not folds:
        raise ReelpickError(f"the {protocol} protocol finds no validation users to tune on")
    pool = config.settings.picks.calibration_pool
    fitted: list[Trained] = []
    truths: list[dict[int, set[int]]] = []
    for inner in folds:
        truths.append(truth_of(inner.test))
        progress(f"{inner.label}: {len(truths[-1])} validation users")
        fitted.append(train_and_ask(config, dataset, inner, plugins, max(K, pool), progress))
    names = fitted[0].names
    if not names:
        raise ReelpickError("no plugin recommends: nothing to tune")
    for f in fitted[1:]:
        if f.names != names:
            raise ReelpickError(
                f"the validation folds recommend with different plugins ({', '.join(names)} "
                f"against {', '.join(f.names)}): choose them with --plugin"
            )
    sizes = [len(truth) for truth in truths]
    plugin_scores = {
        name: pooled(
            [
                score_lists(f.plugin_lists(name), truth, name).ndcg
                for f, truth in zip(fitted, truths, strict=True)
            ],
            sizes,
        )
        for name in names
    }
    grids = [FusionGrid(f, truth) for f, truth in zip(fitted, truths, strict=True)]
    best: tuple[float, dict[str, float], int] | None = None
    others = names[1:]
    for combo in itertools.product(WEIGHT_GRID, repeat=len(others)):
        weights = {names[0]: 1.0, **dict(zip(others, combo, strict=True))}
        for rrf_k in RRF_K_GRID:
            ndcg = pooled([grid.ndcg(weights, float(rrf_k)) for grid in grids], sizes)
            if best is None or ndcg > best[0] + 1e-12:
                best = (ndcg, weights, rrf_k)
    assert best is not None
    contexts = [ScoringContext.of(f) for f in fitted]
    base = PickSettings(best[1], float(best[2]), 0.0, pool).for_everyone()
    rows = []
    for lam in LAMBDA_GRID:  # through the picks themselves, as shipped
        found = [
            score_lists(picks_lists(f, K, base.calibrated(lam)), truth, PICKS, context=context)
            for f, truth, context in zip(fitted, truths, contexts, strict=True)
        ]
        # Miscalibration is a mean over the users who got a list: pooled by those.
        measured = [r for r in found if r.miscalibration is not None and r.answered]
        miscalibration = (
            pooled([r.miscalibration or 0.0 for r in measured], [r.answered for r in measured])
            if measured
            else None
        )
        rows.append(
            {
                "lambda": lam,
                "ndcg@10": pooled([r.ndcg for r in found], sizes),
                "miscalibration": miscalibration,
            }
        )
    return {
        "protocol": protocol,
        # A person can validate in both folds (two of their sessions): counted once here.
        "validation_users": len(set().union(*truths)),
        "folds": sizes,
        "plugins_ndcg@10": plugin_scores,
        "picks_ndcg@10": rows[0]["ndcg@10"],
        "grid_ndcg@10": best[0],  # the same setting on the grid's arrays: equal up to rounding
        "weights": best[1],
        "rrf_k": best[2],
        "calibration": choose_lambda(rows),
        "calibration_grid": rows,
    }


class FusionGrid:
    """nDCG@K of the fused picks of every validation user for one weights/rrf_k setting,
    computed on arrays: the same sums and the same order as :func:`reelpick.fusion.fuse`
    (score, then more lists, then best rank, then movie id), thousands of settings a minute.
    The chosen setting's figure is then measured again through the picks themselves."""

    def __init__(self, fitted: Trained, truth: dict[int, set[int]]) -> None:
        users = sorted(truth)
        names = fitted.names
        lists = {n: fitted.plugin_lists(n) for n in names}
        width = K * len(names)
        self.movies = np.full((len(users), width), np.iinfo(np.int64).max, dtype=np.int64)
        self.ranks = np.zeros((len(users), len(names), width))  # 0: not in that list
        self.relevant = np.zeros((len(users), width), dtype=bool)
        for u, user in enumerate(users):
            column: dict[int, int] = {}
            for p, name in enumerate(names):
                for rank, movie in enumerate(dict.fromkeys(lists[name].get(user, [])[:K]), 1):
                    c = column.setdefault(movie, len(column))
                    self.ranks[u, p, c] = rank
            for movie, c in column.items():
                self.movies[u, c] = movie
                self.relevant[u, c] = movie in truth[user]
        self.names = names
        discounts = 1.0 / np.log2(np.arange(2, K + 2))
        self.discounts = discounts
        self.ideal = np.array([discounts[: min(K, len(truth[u]))].sum() for u in users])

    def ndcg(self, weights: dict[str, float], rrf_k: float) -> float:
        w = np.array([weights.get(n, 1.0) for n in self.names])
        present = (self.ranks > 0) & (w[None, :, None] > 0)
        parts = np.where(present, w[None, :, None] / (rrf_k + self.ranks), 0.0)
        score = parts.sum(axis=1)
        hits = present.sum(axis=1)
        best = np.where(present, self.ranks, np.inf).min(axis=1)
        score = np.where(hits > 0, score, -np.inf)
        order = np.lexsort((self.movies, best, -hits, -score), axis=-1)[:, :K]
        gains = np.take_along_axis(self.relevant & (hits > 0), order, axis=1)
        return float(np.mean((gains @ self.discounts[: order.shape[1]]) / self.ideal))


def choose_lambda(grid: list[dict[str, Any]]) -> float:
    """λ from the validation grid (rows of lambda, ndcg@10, miscalibration; λ 0 first), by the
    rule in the module doc."""
    plain = grid[0]
    if plain["lambda"] != 0.0 or not plain["miscalibration"]:
        return 0.0
    kept = [row for row in grid[1:] if row["ndcg@10"] >= KEEP_NDCG * plain["ndcg@10"]]
    if not kept:
        return 0.0
    best = min(kept, key=lambda row: (row["miscalibration"], row["lambda"]))
    if best["miscalibration"] <= CALIBRATION_GOAL * plain["miscalibration"]:
        return float(best["lambda"])
    return 0.0
