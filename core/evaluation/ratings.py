"""``reelpick evaluate``: how well each plugin predicts ratings and how its similar movies look.

Rating accuracy follows the seed article's protocol: for every user, ``test_per_user`` random
ratings move to a test set (users with too few ratings to keep ``MIN_TRAIN`` in training stay
wholly in training and are counted as left out). Every plugin is fitted on the training part
only, through a fresh :class:`~reelpick.registry.Registry`, and every plugin that predicts is
scored by MSE, RMSE and MAE on the test ratings. ``folds`` >= 2 runs k-fold cross-validation
over all ratings instead.

A plugin that names variants in its :class:`~reelpick.types.PluginInfo` (other settings of
its parameters, such as cosine-CF's two prediction formulas: the article's user-based formula
as written, zero-filled, and the mean-centred one) is also scored in each variant that differs
from its configured parameters, as a plugin of its own named ``NAME-VARIANT``.

Similar movies have no ground truth, so the report gives honest proxies, all at k=10:
genre Jaccard between a movie and its neighbours, catalog coverage (share of all movies that
appear in some list), mean popularity percentile of the recommended movies (by number of
training ratings; CF tends to recommend popular movies), and the share of movies the plugin
can answer for at all. Every movie of the catalog is asked once, of the plugins fitted on the
training split (averaged over folds with ``folds``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass, field
from typing import Any, SupportsInt, cast

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from ..config import Config
from ..data.movielens import Dataset
from ..errors import NoAnswer, PluginError, ReelpickError
from ..registry import LoadedPlugin, Registry

log = logging.getLogger(__name__)

MIN_TRAIN = 10  # ratings a test user keeps in training
K = 10  # neighbours per query in the similar-movie proxies
FAR_OFF = 1.5  # an RMSE bar this many times the best is left off the chart (with a note)
# Why every evaluation and tuning leaves out a plugin marked PluginInfo.online: measured
# offline it would score the web service (and send it thousands of requests), not reelpick.
ONLINE_SKIP = "online (asks a web service while a person waits), not measured offline"


# -- splits --------------------------------------------------------------------------------


def id_key(key: Hashable) -> int:
    """A groupby key of an integer id column as an int (pandas types keys as any scalar)."""
    return int(cast(SupportsInt, key))


@dataclass
class Split:
    """One train/test split of the ratings."""

    train: pd.DataFrame
    test: pd.DataFrame
    label: str
    users_left_out: int = 0  # users with too few ratings to test


def article_split(
    ratings: pd.DataFrame, test_per_user: int = 10, seed: int = 0, min_train: int = MIN_TRAIN
) -> Split:
    """Move ``test_per_user`` random ratings of each user to the test set.

    Users with fewer than ``test_per_user + min_train`` ratings are not tested (all their
    ratings stay in training) and are counted in ``users_left_out``.
    """
    if test_per_user < 1:
        raise ReelpickError("--test-per-user must be at least 1")
    rng = np.random.default_rng(seed)
    chosen: list[np.ndarray] = []
    left_out = 0
    for _user, rows in sorted(ratings.groupby("userId").indices.items()):
        if len(rows) < test_per_user + min_train:
            left_out += 1
            continue
        chosen.append(rng.choice(rows, test_per_user, replace=False))
    in_test = np.zeros(len(ratings), dtype=bool)
    if chosen:
        in_test[np.concatenate(chosen)] = True
    return Split(
        train=ratings[~in_test],
        test=ratings[in_test],
        label=f"article split seed={seed} test_per_user={test_per_user}",
        users_left_out=left_out,
    )


def kfold_splits(ratings: pd.DataFrame, folds: int, seed: int = 0) -> list[Split]:
    """Random k-fold cross-validation over all ratings (each rating is tested exactly once)."""
    if folds < 2:
        raise ReelpickError("--folds must be at least 2")
    fold_of = np.random.default_rng(seed).permutation(len(ratings)) % folds
    return [
        Split(
            train=ratings[fold_of != f],
            test=ratings[fold_of == f],
            label=f"{folds}-fold seed={seed} fold={f + 1}",
        )
        for f in range(folds)
    ]


# -- metrics --------------------------------------------------------------------------------


@dataclass
class RatingErrors:
    """Sums of errors over answered test ratings, so folds can be pooled."""

    squared: float = 0.0
    absolute: float = 0.0
    n: int = 0
    unanswered: int = 0

    def add(self, predicted: np.ndarray, actual: np.ndarray) -> None:
        errors = np.asarray(predicted, dtype=np.float64) - np.asarray(actual, dtype=np.float64)
        self.squared += float(np.sum(errors**2))
        self.absolute += float(np.sum(np.abs(errors)))
        self.n += len(errors)

    def summary(self) -> dict[str, float | int | None]:
        mse = self.squared / self.n if self.n else None
        return {
            "mse": mse,
            "rmse": float(np.sqrt(mse)) if mse is not None else None,
            "mae": self.absolute / self.n if self.n else None,
            "predicted": self.n,
            "unanswered": self.unanswered,
        }


def score_ratings(registry: Registry, name: str, test: pd.DataFrame, errors: RatingErrors) -> None:
    """Ask plugin ``name`` for every test rating, user by user, and add up its errors.

    Users the plugin cannot answer for (NoAnswer) are counted, not guessed.
    """
    for user_id, rows in test.groupby("userId"):
        movie_ids = rows["movieId"].tolist()
        try:
            predicted = registry.predict(name, id_key(user_id), movie_ids)
        except NoAnswer:
            errors.unanswered += len(movie_ids)
            continue
        if predicted is None or len(predicted) != len(movie_ids):
            raise ReelpickError(f"{name} returned no or too few predictions for user {user_id}")
        errors.add(np.asarray(predicted), rows["rating"].to_numpy())


def score_similar(
    registry: Registry, name: str, dataset: Dataset, k: int = K
) -> dict[str, float | None]:
    """Similar-movie proxies for plugin ``name`` over every movie of the catalog."""
    genres = dict(zip(dataset.movies.index, map(frozenset, dataset.movies["genres"]), strict=True))
    counts = dataset.rating_counts
    percentile = dict(
        zip(counts.index, rankdata(counts.to_numpy(), "average") / len(counts) * 100, strict=True)
    )
    answered = 0
    jaccards: list[float] = []
    popularity: list[float] = []
    shown: set[int] = set()
    for movie_id in dataset.movies.index:
        answer = registry.ask(name, int(movie_id), k)
        if not answer.ok or not answer.neighbours:
            continue
        answered += 1
        found = [n.movie_id for n in answer.neighbours]
        shown.update(found)
        popularity.extend(percentile[m] for m in found)
        mine = genres[movie_id]
        if mine:  # a movie without genres has nothing to compare
            jaccards.append(
                float(np.mean([len(mine & genres[m]) / len(mine | genres[m]) for m in found]))
            )
    catalog = len(dataset.movies)
    return {
        "genre_jaccard": float(np.mean(jaccards)) if jaccards else None,
        "coverage": len(shown) / catalog,
        "popularity_percentile": float(np.mean(popularity)) if popularity else None,
        "answerable": answered / catalog,
    }


# -- the evaluation --------------------------------------------------------------------------


@dataclass
class PluginResult:
    name: str
    label: str
    variant: str = ""
    fit_seconds: float = 0.0
    rating: dict[str, float | None] | None = None
    similar: dict[str, float | None] | None = None


@dataclass
class Report:
    dataset: str
    protocol: dict[str, Any]
    counts: dict[str, Any]
    plugins: list[PluginResult] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def result(self, name: str) -> PluginResult:
        return next(p for p in self.plugins if p.name == name)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    config: Config,
    dataset: Dataset,
    plugins: list[str] | None = None,
    seed: int = 0,
    test_per_user: int = 10,
    folds: int = 0,
    progress: Callable[[str], None] = lambda line: None,
) -> Report:
    """Fit every plugin on each training split and measure it (see the module docstring)."""
    splits = (
        kfold_splits(dataset.ratings, folds, seed)
        if folds
        else [article_split(dataset.ratings, test_per_user, seed)]
    )
    report = Report(
        dataset=dataset.source,
        protocol={
            "kind": f"{folds}-fold" if folds else "article",
            "seed": seed,
            "test_per_user": None if folds else test_per_user,
            "min_train": None if folds else MIN_TRAIN,
            "folds": folds or None,
        },
        counts={
            "users": int(dataset.ratings["userId"].nunique()),
            "ratings": len(dataset.ratings),
            "test_ratings": sum(len(s.test) for s in splits),
            "test_users": int(splits[0].test["userId"].nunique()),
            "users_left_out": splits[0].users_left_out,
        },
    )
    errors: dict[str, RatingErrors] = {}
    similar: dict[str, list[dict[str, float | None]]] = {}
    results: dict[str, PluginResult] = {}
    broken: set[str] = set()
    for split in splits:
        progress(f"{split.label}: {len(split.train):,} training, {len(split.test):,} test ratings")
        train = dataset.with_ratings(split.train, split.label)
        registry = Registry(config)
        names = registry.enabled(plugins)
        for failure in registry.failures:
            if failure.name in (plugins or config.enabled_plugins):
                _skip(report, failure.name, f"could not be loaded ({failure.reason})", progress)
        for name in names:
            if registry.plugins[name].info.online:
                _skip(report, name, ONLINE_SKIP, progress)
        names = [name for name in names if not registry.plugins[name].info.online]
        variants = _add_variants(registry, names, report, progress)
        for name in names + variants:
            if name in broken:
                continue
            loaded = registry.plugins[name]
            started = time.perf_counter()
            error = registry.fit(train, [name])[name]
            if error is not None:
                _skip(report, name, f"could not be fitted ({error})", progress)
                continue
            result = results.setdefault(
                name, PluginResult(name, loaded.info.label, variant=_variant_of(loaded))
            )
            result.fit_seconds += time.perf_counter() - started
            progress(f"  {name}: fitted in {time.perf_counter() - started:.1f} s")
            try:
                if registry.predicts(name):
                    rating_errors = errors.setdefault(name, RatingErrors())
                    score_ratings(registry, name, split.test, rating_errors)
                if name not in variants:  # variants are scored on ratings only
                    similar.setdefault(name, []).append(score_similar(registry, name, train))
            except Exception as exc:  # one broken plugin must not sink the whole report
                log.exception("plugin %s failed during evaluation", name)
                _skip(
                    report, name, f"failed while answering ({type(exc).__name__}: {exc})", progress
                )
                broken.add(name)
                results.pop(name, None)
                errors.pop(name, None)
                similar.pop(name, None)
    for name, result in results.items():
        if name in errors:
            result.rating = errors[name].summary()
        if name in similar:
            result.similar = {
                key: _mean([s[key] for s in similar[name]]) for key in similar[name][0]
            }
        report.plugins.append(result)
    return report


def _add_variants(
    registry: Registry, names: list[str], report: Report, progress: Callable[[str], None]
) -> list[str]:
    """Register each variant a plugin declares (``PluginInfo.variants``) that differs from its
    configured parameters, as ``NAME-VARIANT``; returns the names registered."""
    added = []
    for name in names:
        loaded = registry.plugins[name]
        for variant, overrides in loaded.info.variants.items():
            if _matches(loaded.params, overrides):
                continue  # the configured plugin is this variant already
            try:
                added.append(registry.register_variant(name, f"{name}-{variant}", overrides).name)
            except PluginError as exc:
                _skip(report, f"{name}-{variant}", f"could not be loaded ({exc})", progress)
    return added


def _variant_of(loaded: LoadedPlugin) -> str:
    """The name of the declared variant whose settings the plugin has (``""``: none)."""
    for variant, overrides in loaded.info.variants.items():
        if _matches(loaded.params, overrides):
            return variant
    return ""


def _matches(params: dict[str, Any], overrides: dict[str, Any]) -> bool:
    return all(params.get(key) == value for key, value in overrides.items())


def _skip(report: Report, name: str, reason: str, progress: Callable[[str], None]) -> None:
    if not any(s["name"] == name for s in report.skipped):
        report.skipped.append({"name": name, "reason": reason})
        progress(f"  {name}: skipped, {reason}")


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


# -- output ----------------------------------------------------------------------------------


def format_table(report: Report) -> str:
    c, p = report.counts, report.protocol
    if p["kind"] == "article":
        protocol = (
            f"article protocol: {p['test_per_user']} test ratings per user, seed {p['seed']}; "
            f"{c['test_users']} users tested, {c['users_left_out']} left out "
            f"(fewer than {p['test_per_user'] + p['min_train']} ratings)"
        )
    else:
        protocol = f"{p['kind']} cross-validation, seed {p['seed']}"
    lines = [
        f"Data: {report.dataset} ({c['users']:,} users, {c['ratings']:,} ratings)",
        f"{protocol}; {c['test_ratings']:,} test ratings",
        "",
        f"{'plugin':<32} {'RMSE':>7} {'MSE':>7} {'MAE':>7} {'genre J@10':>10} "
        f"{'cover@10':>8} {'pop pct':>7} {'answers':>7} {'fit s':>6}",
    ]
    for r in report.plugins:
        name = _display(r)
        rating = r.rating or {}
        similar = r.similar or {}
        lines.append(
            f"{name:<32.32} {_num(rating.get('rmse'))} {_num(rating.get('mse'))} "
            f"{_num(rating.get('mae'))} {_num(similar.get('genre_jaccard'), 10)} "
            f"{_pct(similar.get('coverage'), 8)} {_num(similar.get('popularity_percentile'), 7, 1)} "
            f"{_pct(similar.get('answerable'), 7)} {r.fit_seconds:>6.1f}"
        )
    for s in report.skipped:
        lines.append(f"{s['name']}: skipped, {s['reason']}")
    lines += [
        "",
        "RMSE/MSE/MAE: rating error on the test ratings (lower is better; '-': no predictions).",
        "genre J@10: genre Jaccard of a movie and its 10 neighbours; cover@10: share of the catalog",
        "shown in some top-10 list; pop pct: mean popularity percentile of recommended movies;",
        "answers: share of movies the plugin can answer for. A plugin that uses genres as features",
        "(sgd-mf with genres = true) scores a high genre J@10 by construction.",
    ]
    return "\n".join(lines)


def _display(result: PluginResult, sep: str = " ") -> str:
    """``cosine-cf (mean-centred)``; a variant's name already says its mode."""
    if result.variant and result.variant not in result.name:
        return f"{result.name}{sep}({result.variant})"
    return result.name


def _num(value: float | None, width: int = 7, digits: int = 4) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def _pct(value: float | None, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width - 1}.1%}"


def _far_off(
    shown: list[tuple[str, float, Any]], factor: float = FAR_OFF
) -> tuple[list[tuple[str, float, Any]], list[tuple[str, float, Any]]]:
    """``shown`` bars split into those kept and those over ``factor`` x the best (lowest)."""
    best = min(v for _, v, _ in shown)
    kept = [bar for bar in shown if bar[1] <= factor * best]
    return kept, [bar for bar in shown if bar[1] > factor * best]


def draw_chart(report: Report, path: str) -> None:
    """A PNG with one bar panel per metric, plugins side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("RMSE (lower is better)", "rating", "rmse", 1),
        ("genre Jaccard@10", "similar", "genre_jaccard", 1),
        ("catalog coverage@10 (%)", "similar", "coverage", 100),
        ("popularity percentile", "similar", "popularity_percentile", 1),
        ("movies answerable (%)", "similar", "answerable", 100),
    ]
    names = [_display(r, "\n") for r in report.plugins]
    colors = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.8))
    for ax, (title, group, key, scale) in zip(axes, panels, strict=True):
        values = [(getattr(r, group) or {}).get(key) for r in report.plugins]
        shown = [
            (n, v * scale, colors(i % 10))
            for i, (n, v) in enumerate(zip(names, values, strict=True))
            if v is not None
        ]
        if key == "rmse" and shown:
            shown, far = _far_off(shown)
            if far:  # e.g. the article's zero-filled formula (RMSE ~3): it would flatten the rest
                note = "left off, far above the rest: " + "; ".join(
                    f"{n.replace(chr(10), ' ')} {v:.3g}" for n, v, _ in far
                )
                ax.annotate(
                    note, (0.5, -0.42), xycoords="axes fraction", ha="center", fontsize=7, wrap=True
                )
        if shown:
            labels, heights, bar_colors = zip(*shown, strict=True)
            bars = ax.bar(range(len(heights)), heights, color=bar_colors)
            ax.bar_label(bars, fmt="%.3g", fontsize=8)
            ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
        ax.set_title(title, fontsize=10)
    p = report.protocol
    fig.suptitle(
        f"{report.dataset} - "
        + (
            f"article protocol, {p['test_per_user']} per user"
            if p["kind"] == "article"
            else p["kind"]
        )
        + f", seed {p['seed']}",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
