"""``reelpick evaluate --task topn``: how well each plugin, and the picks, guess what comes next.

Temporal protocol: for every user with at least ``min_ratings`` ratings, the ``test_per_user``
most recent ratings (ties by movieId) are the test set and the rest trains. Every plugin that
recommends is fitted on the training ratings only; each test user's :class:`Profile` is built
from their training ratings (stars and times), and each plugin is asked for 10 movies among
those the user has not rated in training. Recall@10 (hits / min(10, test movies)) and nDCG@10
with binary gain (ideal DCG over min(10, test movies) hits) are averaged over test users; a
user a plugin cannot answer for scores 0. The picks (:mod:`reelpick.picks`) fuse the same
answers with the ``[picks]`` weights of config.toml.

``tune=True`` re-derives those weights without touching the test users: the same split is
applied again to the training ratings (each user's last training ratings are the validation
set), the plugins are fitted on what is left, and every weight combination of a small grid is
scored on the validation users.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..config import Config
from ..data import Dataset
from ..errors import ReelpickError
from ..picks import PICKS, PickSettings
from .ratings import Split
from .training import Trained, train_and_ask, truth_of

log = logging.getLogger(__name__)

K = 10
MIN_RATINGS = 20
WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 2.0)
RRF_K_GRID = (60, 20, 5)  # 60 first: on a tie the usual constant stays


# -- split and profiles ------------------------------------------------------------------------


def temporal_split(
    ratings: pd.DataFrame, test_per_user: int = 10, min_ratings: int = MIN_RATINGS
) -> Split:
    """Each user's ``test_per_user`` latest ratings (ties by movieId) move to the test set.

    Users with fewer than ``min_ratings`` ratings stay wholly in training (``users_left_out``).
    """
    if test_per_user < 1:
        raise ReelpickError("--test-per-user must be at least 1")
    ordered = ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    by_user = ordered.groupby("userId")
    sizes = by_user["movieId"].transform("size")
    in_test = (sizes >= min_ratings) & (by_user.cumcount(ascending=False) < test_per_user)
    tested_users = ordered.loc[in_test, "userId"].nunique()
    return Split(
        train=ordered[~in_test.to_numpy()],
        test=ordered[in_test.to_numpy()],
        label=f"temporal split last={test_per_user} min={min_ratings}",
        users_left_out=int(ratings["userId"].nunique() - tested_users),
    )


# -- metrics -----------------------------------------------------------------------------------


def recall_ndcg(recommended: list[int], relevant: set[int], k: int = K) -> tuple[float, float]:
    """Recall@k and nDCG@k (binary gain) of one ranked list against the relevant movies."""
    if not relevant:
        raise ValueError("no relevant movies to score against")
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    hits = np.array([m in relevant for m in recommended[:k]], dtype=float)
    ideal = discounts[: min(k, len(relevant))].sum()
    return float(hits.sum() / min(k, len(relevant))), float(hits @ discounts[: len(hits)] / ideal)


@dataclass
class TopnResult:
    plugin: str
    recall: float
    ndcg: float
    answered: int  # users the plugin gave a list to
    fit_seconds: float = 0.0


def score_lists(
    lists: dict[int, list[int]], truth: dict[int, set[int]], plugin: str, k: int = K
) -> TopnResult:
    """Mean Recall@k and nDCG@k over every user in ``truth`` (a user without a list scores 0)."""
    recalls, ndcgs = [], []
    for user_id, relevant in truth.items():
        recall, ndcg = recall_ndcg(lists.get(user_id, []), relevant, k)
        recalls.append(recall)
        ndcgs.append(ndcg)
    answered = sum(1 for u in truth if lists.get(u))
    return TopnResult(plugin, float(np.mean(recalls)), float(np.mean(ndcgs)), answered)


# -- the evaluation ----------------------------------------------------------------------------


@dataclass
class TopnReport:
    dataset: str
    users: int
    results: list[TopnResult] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    picks: dict[str, Any] = field(default_factory=dict)  # the weights and rrf_k the picks used
    tuned: dict[str, Any] | None = None  # with tune: best weights on validation and scores

    def to_json(self) -> dict[str, Any]:
        return {
            "task": "topn",
            "dataset": self.dataset,
            "users": self.users,
            "results": [
                {
                    "plugin": r.plugin,
                    "recall@10": r.recall,
                    "ndcg@10": r.ndcg,
                    "answered": r.answered,
                    "fit_seconds": r.fit_seconds,
                }
                for r in self.results
            ],
            "skipped": self.skipped,
            "picks": self.picks,
            **({"tuned": self.tuned} if self.tuned is not None else {}),
        }


def picks_lists(
    trained: Trained, k: int, settings: PickSettings | None = None
) -> dict[int, list[int]]:
    """Every user's picks from the plugins' answers (``settings``: other weights)."""
    app = trained.app
    return {
        user_id: [
            r.movie_id
            for r in app.picks(trained.profiles[user_id], k, answers=answers, settings=settings)
        ]
        for user_id, answers in trained.answers.items()
    }


def evaluate_topn(
    config: Config,
    dataset: Dataset,
    plugins: list[str] | None = None,
    test_per_user: int = 10,
    tune: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> TopnReport:
    """Fit on the temporal training split and score each plugin and the picks (module doc)."""
    settings = config.settings.picks
    split = temporal_split(dataset.ratings, test_per_user)
    truth = truth_of(split.test)
    progress(f"{split.label}: {len(split.train):,} training ratings, {len(truth)} test users")
    fitted = train_and_ask(config, dataset, split, plugins, K, progress)
    report = TopnReport(
        dataset=dataset.source,
        users=len(truth),
        skipped=fitted.skipped,
        picks={"weights": settings.weights, "rrf_k": settings.rrf_k},
    )
    for name in fitted.names:
        result = score_lists(fitted.plugin_lists(name), truth, name)
        result.fit_seconds = fitted.fit_seconds[name]
        report.results.append(result)
    if fitted.names:
        result = score_lists(picks_lists(fitted, K), truth, PICKS)
        result.fit_seconds = sum(fitted.fit_seconds.values())
        report.results.append(result)
    if tune:
        report.tuned = tune_picks(config, dataset, split, plugins, test_per_user, progress)
    return report


def tune_picks(
    config: Config,
    dataset: Dataset,
    split: Split,
    plugins: list[str] | None,
    test_per_user: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Best picks weights and rrf_k on a validation split of ``split.train`` (never the test)."""
    inner = temporal_split(split.train, test_per_user)
    inner.label = f"validation inside training: {inner.label}"
    truth = truth_of(inner.test)
    progress(f"{inner.label}: {len(truth)} validation users")
    fitted = train_and_ask(config, dataset, inner, plugins, K, progress)
    if not fitted.names:
        raise ReelpickError("no plugin recommends: nothing to tune")
    plugin_scores = {
        name: score_lists(fitted.plugin_lists(name), truth, name).ndcg for name in fitted.names
    }
    best: tuple[float, dict[str, float], int] | None = None
    # The first plugin keeps weight 1: fusion only sees the ratios of the weights.
    others = fitted.names[1:]
    for combo in itertools.product(WEIGHT_GRID, repeat=len(others)):
        weights = {fitted.names[0]: 1.0, **dict(zip(others, combo, strict=True))}
        for rrf_k in RRF_K_GRID:
            found = picks_lists(fitted, K, PickSettings(weights, float(rrf_k)))
            ndcg = score_lists(found, truth, PICKS).ndcg
            # Strictly better only: ties keep the earlier setting (equal weights, rrf_k 60).
            if best is None or ndcg > best[0] + 1e-12:
                best = (ndcg, weights, rrf_k)
    assert best is not None
    return {
        "validation_users": len(truth),
        "plugins_ndcg@10": plugin_scores,
        "picks_ndcg@10": best[0],
        "weights": best[1],
        "rrf_k": best[2],
    }


# -- output ------------------------------------------------------------------------------------


def format_topn_table(report: TopnReport) -> str:
    lines = [
        f"Data: {report.dataset}",
        f"temporal protocol: the 10 latest ratings of each of {report.users} users are the test "
        f"set (users with >= {MIN_RATINGS} ratings)",
        "",
        f"{'plugin':<24} {'recall@10':>9} {'nDCG@10':>8} {'answered':>8} {'fit s':>6}",
    ]
    for r in report.results:
        lines.append(
            f"{r.plugin:<24.24} {r.recall:>9.4f} {r.ndcg:>8.4f} {r.answered:>8} "
            f"{r.fit_seconds:>6.1f}"
        )
    for s in report.skipped:
        lines.append(f"{s['name']}: skipped, {s['reason']}")
    weights = ", ".join(f"{n} = {w:g}" for n, w in report.picks["weights"].items()) or "all 1"
    lines += [
        "",
        f"picks: rank fusion of the plugins above; weights {weights}, rrf_k "
        f"{report.picks['rrf_k']:g} ([picks] in config.toml). Plugins that cannot recommend "
        "are not listed.",
    ]
    if report.tuned:
        t = report.tuned
        lines += [
            "",
            f"tuned on {t['validation_users']} validation users (each user's last training "
            f"ratings), picks nDCG@10 {t['picks_ndcg@10']:.4f}; plugins: "
            + ", ".join(f"{n} {v:.4f}" for n, v in t["plugins_ndcg@10"].items()),
            "[picks]",
            f"rrf_k = {t['rrf_k']}",
            "[picks.weights]",
            *(f"{n} = {w:g}" for n, w in t["weights"].items()),
        ]
    return "\n".join(lines)


def draw_topn_chart(report: TopnReport, path: str) -> None:
    """A PNG with Recall@10 and nDCG@10 bars, plugins and the picks side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.plugin for r in report.results]
    colors = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.8))
    for ax, (title, key) in zip(axes, [("Recall@10", "recall"), ("nDCG@10", "ndcg")], strict=True):
        heights = [getattr(r, key) for r in report.results]
        if heights:
            bars = ax.bar(
                range(len(heights)), heights, color=[colors(i % 10) for i in range(len(heights))]
            )
            ax.bar_label(bars, fmt="%.3f", fontsize=8)
            ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title, fontsize=10)
    fig.suptitle(f"{report.dataset} - temporal top-10, {report.users} users", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
