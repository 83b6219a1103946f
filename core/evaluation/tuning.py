"""``reelpick tune PLUGIN``: choose a plugin's parameters on validation inside the training data.

1. **The test ratings go first.** Every rating a top-N protocol of ``reelpick evaluate --task
   topn`` may test on is removed (:func:`tuning_training`): each user's ``LAST`` latest
   ratings when they have ``MIN_RATINGS`` or more ("last 10"), and each user's last session
   when they have more than one (a session ends at a gap of ``SESSION_GAP`` seconds: the
   "come back later" protocol tests at most that session). What is left is a dataset of its own.
2. **Validation inside it.** On that dataset the public top-N evaluation
   (:func:`~reelpick.evaluation.topn.evaluate_topn`, with the chosen protocol) splits again:
   its test users there are the validation users, its training ratings what the plugin is
   fitted on. The test users of ``reelpick evaluate --task topn`` are never seen.
3. **A grid.** Every combination of the grid's values (:data:`GRIDS` for the built-in plugins,
   or ``--grid KEY=V1,V2``) is laid over the configured parameters, the plugin alone is
   fitted and scored (nDCG@10 of its own list), and the best combination is chosen; on a tie
   the earlier one stays (each grid lists the shipped default first).

``metric="rmse"`` tunes rating prediction instead (sgd-mf, als): the rating task's test
ratings (the article split of ``reelpick evaluate``, seed ``seed``) go first, the same split
is applied again to what is left, and the plugin fitted on the inner training part is scored
by RMSE on the inner test ratings (lower is better).
"""

from __future__ import annotations

import copy
import inspect
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..config import Config
from ..data import Dataset
from ..errors import ReelpickError
from ..registry import Registry
from ..types import SESSION_GAP
from .ratings import ONLINE_SKIP, RatingErrors, article_split, score_ratings
from .topn import MIN_RATINGS, evaluate_topn

METRICS = ("ndcg", "rmse")
LAST = 10  # the "last 10" protocol's test ratings per user

# Built-in plugins' grids: the shipped default first in each list, so a tie keeps it. The
# while-rating half-lives are not here: they act only on people still rating, whom the
# default session protocol never has; config.toml gives the last10 command that chose them.
GRIDS: dict[str, dict[str, list[Any]]] = {
    "ease": {
        "l2": [1000.0, 500.0, 2000.0],
        "returning_half_life_days": [300.0, 0.0, 10.0, 30.0, 100.0, 1000.0],
    },
    # min_support and neighbours shape the similar-movie table too, which a top-N score does
    # not measure: only how a profile weighs its movies is chosen here.
    "cosine-cf": {
        "weighting": ["liked", "centred"],
        "returning_half_life_days": [300.0, 0.0, 30.0, 100.0, 1000.0],
    },
}


def tuning_holdout(ratings: pd.DataFrame) -> np.ndarray:
    """Which ratings a top-N protocol may test on (step 1 of the module doc), as a mask."""
    ordered = ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    by_user = ordered.groupby("userId")
    sizes = by_user["movieId"].transform("size").to_numpy()
    latest = by_user.cumcount(ascending=False).to_numpy() < LAST
    last10 = latest & (sizes >= MIN_RATINGS)
    times = ordered["timestamp"].to_numpy(dtype=np.int64)
    users = ordered["userId"].to_numpy()
    starts = np.ones(len(ordered), dtype=bool)
    starts[1:] = (users[1:] != users[:-1]) | (np.diff(times) >= SESSION_GAP)
    session = pd.Series(np.cumsum(starts), index=ordered.index)
    last_session = session.groupby(ordered["userId"]).transform("max").to_numpy()
    first_session = session.groupby(ordered["userId"]).transform("min").to_numpy()
    in_last = (session.to_numpy() == last_session) & (last_session > first_session)
    held = pd.Series(last10 | in_last, index=ordered.index)
    return held.reindex(ratings.index).to_numpy()


def tuning_training(dataset: Dataset) -> Dataset:
    """``dataset`` without any rating a top-N protocol may test on (nor their tags)."""
    held = tuning_holdout(dataset.ratings)
    return dataset.with_ratings(dataset.ratings[~held], "tuning: without every top-N test rating")


@dataclass
class TuningRow:
    params: dict[str, Any]
    ndcg: float  # with metric "rmse": the RMSE (lower is better)
    recall: float  # with metric "rmse": the MAE
    answered: int


@dataclass
class TuningReport:
    plugin: str
    protocol: str | None
    dataset: str
    validation_users: int
    defaults: dict[str, Any]  # the configured values of the tuned parameters
    rows: list[TuningRow] = field(default_factory=list)
    metric: str = "ndcg"

    @property
    def best(self) -> TuningRow:
        sign = -1.0 if self.metric == "rmse" else 1.0
        best = self.rows[0]
        for row in self.rows[1:]:
            # Strictly better: a tie keeps the earlier one.
            if sign * (row.ndcg - best.ndcg) > 1e-12:
                best = row
        return best

    def to_json(self) -> dict[str, Any]:
        names = ("rmse", "mae") if self.metric == "rmse" else ("ndcg@10", "recall@10")
        return {
            "task": "tune",
            "plugin": self.plugin,
            "metric": self.metric,
            "protocol": self.protocol,
            "dataset": self.dataset,
            "validation_users": self.validation_users,
            "defaults": self.defaults,
            "grid": [
                {"params": r.params, names[0]: r.ndcg, names[1]: r.recall, "answered": r.answered}
                for r in self.rows
            ],
            "chosen": self.best.params,
        }


def protocol_arguments(protocol: str | None) -> dict[str, Any]:
    """``protocol=...`` for :func:`evaluate_topn` when one is asked for (and it takes one)."""
    if protocol is None:
        return {}
    if "protocol" not in inspect.signature(evaluate_topn).parameters:
        raise ReelpickError("this version of the top-N evaluation has one protocol only")
    return {"protocol": protocol}


def configured_params(config: Config, plugin: str) -> dict[str, Any]:
    """Plugin ``plugin``'s parameters as ``config`` sets them (its defaults otherwise)."""
    return dict(Registry(config).plugins[plugin].params)


def with_params(config: Config, plugin: str, params: dict[str, Any]) -> Config:
    """A copy of ``config`` with ``params`` laid over plugin ``plugin``'s parameters."""
    values = copy.deepcopy(config.values)
    values["plugins"].setdefault(plugin, {}).update(params)
    return Config(values=values, path=config.path)


def tune_plugin(
    config: Config,
    dataset: Dataset,
    plugin: str,
    grid: dict[str, list[Any]] | None = None,
    protocol: str | None = None,
    progress: Callable[[str], None] = lambda line: None,
    metric: str = "ndcg",
    seed: int = 0,
) -> TuningReport:
    """Score every combination of ``grid`` (default :data:`GRIDS`) on validation users inside
    the training data (module doc) and return the table."""
    if metric not in METRICS:
        raise ReelpickError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if metric == "rmse" and protocol is not None:
        raise ReelpickError("--protocol goes with the top-N metric (ndcg)")
    known = Registry(config).plugins
    if plugin not in known:
        raise ReelpickError(f"unknown plugin {plugin!r} (reelpick plugins lists them)")
    if known[plugin].info.online:
        raise ReelpickError(f"{plugin} cannot be tuned: {ONLINE_SKIP}")
    grid = grid if grid else None if metric == "rmse" else GRIDS.get(plugin)
    if not grid:
        raise ReelpickError(
            f"no grid for {plugin}: give one with --grid KEY=V1,V2 (built in: {', '.join(GRIDS)})"
        )
    if any(not values for values in grid.values()):
        raise ReelpickError("every --grid parameter needs at least one value")
    if metric == "rmse":
        return _tune_ratings(config, dataset, plugin, grid, seed, progress)
    train = tuning_training(dataset)
    progress(
        f"tuning {plugin}: {len(dataset.ratings) - len(train.ratings):,} ratings a top-N "
        f"protocol may test on left out, validation inside the other {len(train.ratings):,}"
    )
    extra = protocol_arguments(protocol)
    configured = configured_params(config, plugin)
    report = TuningReport(
        plugin=plugin,
        protocol=protocol,
        dataset=dataset.source,
        validation_users=0,
        defaults={key: configured.get(key) for key in grid},
    )
    keys = list(grid)
    for combo in itertools.product(*(grid[key] for key in keys)):
        params = dict(zip(keys, combo, strict=True))
        found = evaluate_topn(with_params(config, plugin, params), train, [plugin], **extra)
        result = next((r for r in found.results if r.plugin == plugin), None)
        if result is None:
            reasons = "; ".join(s["reason"] for s in found.skipped) or "no answer"
            raise ReelpickError(f"{plugin} with {params}: {reasons}")
        report.validation_users = found.users
        report.protocol = report.protocol or getattr(found, "protocol", None)
        report.rows.append(TuningRow(params, result.ndcg, result.recall, result.answered))
        progress(f"  {params}: nDCG@10 {result.ndcg:.4f}")
    return report


def _tune_ratings(
    config: Config,
    dataset: Dataset,
    plugin: str,
    grid: dict[str, list[Any]],
    seed: int,
    progress: Callable[[str], None],
) -> TuningReport:
    """The ``rmse`` metric: the rating task's split, then the same split inside its training."""
    outer = article_split(dataset.ratings, seed=seed)
    inner = article_split(outer.train, seed=seed)
    train = dataset.with_ratings(inner.train, f"tuning: {inner.label} inside {outer.label}")
    progress(
        f"tuning {plugin}: the rating task's {len(outer.test):,} test ratings left out, "
        f"{len(inner.test):,} validation ratings inside the other {len(outer.train):,}"
    )
    configured = configured_params(config, plugin)
    report = TuningReport(
        plugin=plugin,
        protocol=None,
        dataset=dataset.source,
        validation_users=int(inner.test["userId"].nunique()),
        defaults={key: configured.get(key) for key in grid},
        metric="rmse",
    )
    keys = list(grid)
    for combo in itertools.product(*(grid[key] for key in keys)):
        params = dict(zip(keys, combo, strict=True))
        registry = Registry(with_params(config, plugin, params))
        if plugin not in registry.plugins or not registry.predicts(plugin):
            raise ReelpickError(f"{plugin} is not a plugin that predicts ratings")
        error = registry.fit(train, [plugin])[plugin]
        if error is not None:
            raise ReelpickError(f"{plugin} with {params}: {error}")
        errors = RatingErrors()
        score_ratings(registry, plugin, inner.test, errors)
        summary = errors.summary()
        if summary["rmse"] is None:
            raise ReelpickError(f"{plugin} with {params} predicted no validation rating")
        rmse, mae = float(summary["rmse"]), float(summary["mae"] or 0.0)
        report.rows.append(TuningRow(params, rmse, mae, errors.n))
        progress(f"  {params}: RMSE {rmse:.4f}")
    return report


def format_tuning(report: TuningReport) -> str:
    keys = list(report.rows[0].params) if report.rows else []
    protocol = report.protocol or "the default protocol"
    where = (
        "ratings inside the rating task's training data (its test ratings left out first)"
        if report.metric == "rmse"
        else f"training data ({protocol}; every rating a top-N protocol may test on left out first)"
    )
    names = ("RMSE", "MAE") if report.metric == "rmse" else ("nDCG@10", "recall@10")
    lines = [
        f"Data: {report.dataset}",
        f"{report.plugin} on {report.validation_users} validation users' {where}",
        "",
        "  ".join(f"{k:>18}" for k in keys) + f"  {names[0]:>8} {names[1]:>9}",
    ]
    best = report.best
    for row in report.rows:
        mark = "  <- chosen" if row is best else ""
        lines.append(
            "  ".join(f"{_value(row.params[k]):>18}" for k in keys)
            + f"  {row.ndcg:>8.4f} {row.recall:>9.4f}{mark}"
        )
    default = next((r for r in report.rows if r.params == report.defaults), None)
    lines += ["", f"[plugins.{report.plugin}]"]
    lines += [f"{k} = {_value(v)}" for k, v in best.params.items()]
    if default is None:
        lines.append("(the configured values are not in the grid)")
    elif default is best:
        lines.append(f"(the configured values stay: {names[0]} {best.ndcg:.4f})")
    else:
        lines.append(f"(configured: {names[0]} {default.ndcg:.4f}; chosen: {best.ndcg:.4f})")
    return "\n".join(lines)


def _value(value: Any) -> str:
    """A value as config.toml writes it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)
