"""``reelpick evaluate --task topn``: how well each plugin, and the picks, guess what comes next.

Protocols (:mod:`.protocols`): ``session`` (default; a person comes back later: each test
user's last session, started >= 24 h after their previous rating) or ``last10`` (each user's 10
latest ratings). Every plugin that recommends is fitted on the training ratings only; each test
user's :class:`Profile` is built from their training ratings through the product's own import
and profile store (:func:`.training.profiles_of`), and each plugin is asked for movies among
those the user has not rated in training. Per plugin and for the picks (:mod:`reelpick.picks`,
the ``[picks]`` settings of config.toml): nDCG@10 with its 95 % bootstrap interval over users,
Recall@10, MRR@10, hit rate@10 (:mod:`.metrics`), catalogue coverage (share of the movies in the
training ratings recommended to anybody), genre miscalibration and popularity lift
(:mod:`reelpick.calibration`). A user a plugin cannot answer for scores 0.

``tune=True`` re-derives the ``[picks]`` weights, ``rrf_k`` and calibration λ without touching
the test users: the same protocol splits the training ratings again (validation users), the
plugins are fitted on what is left, and a small grid is scored on the validation users
(:mod:`.topn_tuning`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import Config
from ..data import Dataset
from ..errors import ReelpickError
from ..picks import PICKS
from .protocols import (
    DEFAULT_PROTOCOL,
    LAST10,
    MIN_RATINGS,
    describe,
    split_for,
    temporal_split,
)
from .topn_scoring import (
    K,
    ScoringContext,
    TopnResult,
    picks_lists,
    recall_ndcg,
    score_lists,
)
from .topn_tuning import tune_picks
from .training import train_and_ask, truth_of

__all__ = [
    "K",
    "MIN_RATINGS",
    "ScoringContext",
    "TopnReport",
    "TopnResult",
    "evaluate_topn",
    "picks_lists",
    "recall_ndcg",
    "score_lists",
    "temporal_split",
]

log = logging.getLogger(__name__)

CALIBRATED = "picks-calibrated"
UNCALIBRATED = "picks-uncalibrated"
COMPARE_LAMBDA = 0.5  # λ of the calibrated picks shown beside uncalibrated ones, untuned


@dataclass
class TopnReport:
    dataset: str
    users: int
    protocol: str = DEFAULT_PROTOCOL
    test_per_user: int = 10
    results: list[TopnResult] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    picks: dict[str, Any] = field(default_factory=dict)  # the settings the picks used
    tuned: dict[str, Any] | None = None  # with tune: best settings on validation and scores

    def to_json(self) -> dict[str, Any]:
        return {
            "task": "topn",
            "protocol": self.protocol,
            "dataset": self.dataset,
            "users": self.users,
            "results": [r.to_json() for r in self.results],
            "skipped": self.skipped,
            "picks": self.picks,
            **({"tuned": self.tuned} if self.tuned is not None else {}),
        }

    @property
    def description(self) -> str:
        return describe(self.protocol, self.users, self.test_per_user)


def evaluate_topn(
    config: Config,
    dataset: Dataset,
    plugins: list[str] | None = None,
    test_per_user: int = 10,
    tune: bool = False,
    progress: Callable[[str], None] = lambda line: None,
    *,
    protocol: str = DEFAULT_PROTOCOL,
) -> TopnReport:
    """Fit on the training split of ``protocol`` and score each plugin and the picks."""
    settings = config.settings.picks
    split = split_for(protocol, dataset.ratings, test_per_user)
    truth = truth_of(split.test)
    if not truth:
        raise ReelpickError(f"the {protocol} protocol finds no test users in {dataset.source}")
    tuned = None
    if tune:
        tuned = tune_picks(config, dataset, split, plugins, protocol, test_per_user, progress)
    progress(f"{split.label}: {len(split.train):,} training ratings, {len(truth)} test users")
    depth = max(K, settings.calibration_pool)  # deep enough for the calibrated picks too
    fitted = train_and_ask(config, dataset, split, plugins, depth, progress)
    report = TopnReport(
        dataset=dataset.source,
        users=len(truth),
        protocol=protocol,
        test_per_user=test_per_user,
        skipped=fitted.skipped,
        picks={
            "weights": settings.weights,
            "rrf_k": settings.rrf_k,
            "calibration": settings.calibration,
            "weights_while_rating": settings.weights_while_rating,
            "rrf_k_while_rating": settings.rrf_k_while_rating,
            "calibration_while_rating": settings.calibration_while_rating,
        },
        tuned=tuned,
    )
    context = ScoringContext.of(fitted)
    for name in fitted.names:
        result = score_lists(fitted.plugin_lists(name), truth, name, context=context)
        result.fit_seconds = fitted.fit_seconds[name]
        report.results.append(result)
    if fitted.names:
        fit_seconds = sum(fitted.fit_seconds.values())
        shipped = score_lists(picks_lists(fitted, K), truth, PICKS, context=context)
        shipped.fit_seconds = fit_seconds
        report.results.append(shipped)
        # The other side of calibration, for comparison: off (in both situations) when it is
        # on in either, else on.
        lam = (tuned or {}).get("calibration") or COMPARE_LAMBDA
        other, name = (
            (settings.calibrated(0.0), UNCALIBRATED)
            if max(settings.calibration, settings.calibration_while_rating) > 0
            else (settings.calibrated(lam), CALIBRATED)
        )
        compared = score_lists(picks_lists(fitted, K, other), truth, name, context=context)
        compared.fit_seconds = fit_seconds
        report.results.append(compared)
        report.picks["compared_calibration"] = other.calibration
    return report


def format_topn_table(report: TopnReport) -> str:
    lines = [
        f"Data: {report.dataset}",
        report.description,
        "",
        f"{'plugin':<20} {'nDCG@10':>8} {'95% CI':>15} {'recall':>7} {'MRR':>6} {'hit':>6} "
        f"{'cover':>6} {'miscal':>6} {'poplift':>7} {'answered':>8} {'fit s':>6}",
    ]

    def num(value: float | None, width: int, digits: int = 3) -> str:
        return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"

    for r in report.results:
        ci = f"[{r.ci95[0]:.3f}, {r.ci95[1]:.3f}]"
        lines.append(
            f"{r.plugin:<20.20} {r.ndcg:>8.4f} {ci:>15} {r.recall:>7.4f} {r.mrr:>6.3f} "
            f"{r.hit:>6.3f} {num(r.coverage, 6)} {num(r.miscalibration, 6)} "
            f"{num(r.popularity_lift, 7, 2)} {r.answered:>8} {r.fit_seconds:>6.1f}"
        )
    for s in report.skipped:
        lines.append(f"{s['name']}: skipped, {s['reason']}")
    picks = report.picks

    def weights(key: str) -> str:
        return ", ".join(f"{n} = {w:g}" for n, w in picks[key].items()) or "all 1"

    lines += [
        "",
        f"picks: rank fusion of the plugins above ([picks] in config.toml); weights "
        f"{weights('weights')}, rrf_k {picks['rrf_k']:g}, calibration λ {picks['calibration']:g}; "
        f"for a person still rating (latest rating < 1 h before asking) weights "
        f"{weights('weights_while_rating')}, rrf_k {picks['rrf_k_while_rating']:g}, calibration "
        f"λ {picks['calibration_while_rating']:g}. The other picks row uses λ "
        f"{picks.get('compared_calibration', 0):g}. Each user asks at their first test rating. "
        "miscal: genre KL(profile || top 10), poplift: popularity of the top 10 over the "
        "profile's, minus 1; cover: share of the training movies recommended to anybody.",
    ]
    if report.tuned:
        t = report.tuned
        lines += [
            "",
            f"tuned on {t['validation_users']} validation users ("
            + " + ".join(str(n) for n in t["folds"])
            + f" in {len(t['folds'])} fold{'s' if len(t['folds']) > 1 else ''}, the same "
            "protocol inside the training data), "
            f"picks nDCG@10 {t['picks_ndcg@10']:.4f}; plugins: "
            + ", ".join(f"{n} {v:.4f}" for n, v in t["plugins_ndcg@10"].items()),
            "calibration on validation (λ: nDCG@10, miscalibration): "
            + ", ".join(
                f"{row['lambda']:g}: {row['ndcg@10']:.4f}, {row['miscalibration']:.3f}"
                for row in t["calibration_grid"]
            ),
            *suggested_settings(t),
        ]
    return "\n".join(lines)


def suggested_settings(tuned: dict[str, Any]) -> list[str]:
    """The tuned values as config.toml lines: the ``last10`` protocol tests people still
    rating, so its values are the ``*_while_rating`` ones."""
    suffix = "_while_rating" if tuned["protocol"] == LAST10 else ""
    return [
        "[picks]",
        f"rrf_k{suffix} = {tuned['rrf_k']}",
        f"calibration{suffix} = {tuned['calibration']:g}",
        f"[picks.weights{suffix}]",
        *(f"{n} = {w:g}" for n, w in tuned["weights"].items()),
    ]


def draw_topn_chart(report: TopnReport, path: str) -> None:
    """A PNG with nDCG@10 (with its 95 % interval) and Recall@10 bars per plugin and picks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.plugin for r in report.results]
    colors = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.8))
    for ax, (title, key) in zip(axes, [("nDCG@10", "ndcg"), ("Recall@10", "recall")], strict=True):
        heights = [getattr(r, key) for r in report.results]
        if heights:
            errors = None
            if key == "ndcg":
                errors = np.array(
                    [[r.ndcg - r.ci95[0], r.ci95[1] - r.ndcg] for r in report.results]
                ).T
            bars = ax.bar(
                range(len(heights)),
                heights,
                yerr=errors,
                capsize=3,
                color=[colors(i % 10) for i in range(len(heights))],
            )
            ax.bar_label(bars, fmt="%.3f", fontsize=8)
            ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title, fontsize=10)
    fig.suptitle(f"{report.dataset} - {report.protocol} top-10, {report.users} users", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
