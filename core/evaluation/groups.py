"""``reelpick evaluate --task groups``: how well one list of 10 serves each member of a group.

Synthetic groups on the temporal split of ``--task topn`` (each user's 10 latest ratings are
the test set, :func:`~.topn.temporal_split`): ``groups`` groups of ``size`` test users are
drawn with ``seed``. For each group one list of 10 is made from movies no member rated in
training, and each member's nDCG@10 is computed against their *own* test movies. Reported
per strategy, averaged over groups: the mean over members, the min over members (the least
served member) and "served", the share of members with at least one test movie in the list.

Every recommending plugin is fitted on the training ratings (as in ``--task topn``); each
member's personal list is the picks (:meth:`reelpick.app.Reelpick.picks`) of their training
profile, ``MAX_DEPTH`` long, cut to the configured depth, and the group's list is
:meth:`reelpick.app.Reelpick.group_picks`. Compared in the same run:

- ``popularity``: the most rated training movies;
- ``seeds``: today's movie night without profiles: each member's best-rated training movie
  (latest first on ties) is a title seed, and the plugins' similar movies of the seeds are
  fused by rank (:mod:`reelpick.fusion`, the ``[movienight]`` weights and ``per_seed``);
- each strategy of :mod:`reelpick.groups` with the ``[groups]`` settings (prior: popularity;
  fairness rule on), ``default`` being the configured one;
- ``individual``: each member's own list (not a group list: the upper bound).

``tune=True`` chooses the ``[groups]`` settings without touching the test users: the same
split is applied again to the training ratings (each user's last 10 training ratings are the
validation set), the plugins are fitted on the rest, groups are drawn from the validation
users (``VALIDATION_GROUPS`` of them, at least ``groups``), and a small grid of depth, rank
utility, prior weight, misery threshold and member weight exponent is scored there.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..config import Config
from ..data import Dataset
from ..errors import ReelpickError
from ..fusion import RankedList, fuse, ranked_lists
from ..groups import STRATEGIES, GroupSettings, GroupStrategy
from ..types import PluginAnswer
from .ratings import Split, id_key
from .topn import K, picks_lists, recall_ndcg, temporal_split
from .training import Trained, train_and_ask, truth_of

GROUPS = 200
GROUP_SIZE = 4
MAX_DEPTH = 200  # longest personal list asked for (the deepest depth of the tuning grid)
VALIDATION_GROUPS = 1000  # more groups than the test's: 200 groups differ by noise alone
DEPTH_GRID = (50, 200)
# Never 0: in the bot the prior is the chat's title seeds (/suggest), which must still count
# when members have profiles (validation alone would drop them: 0.0496 at 0, 0.0487 at 0.1).
PRIOR_WEIGHT_GRID = (0.1, 0.2, 0.3)
THRESHOLD_GRID = (0.0, 0.05)
RANK_K_GRID = (0, 10)  # 0: linear rank utility; else reciprocal (reelpick.groups)
SIZE_EXPONENT_GRID = (0.0, -0.25, -0.5, -0.75, -1.0)  # member weight n ** e (0: all equal)


@dataclass
class GroupResult:
    strategy: str
    ndcg_mean: float
    ndcg_min: float | None  # None for "individual" (no group list to take a min over)
    served: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "ndcg@10_mean": self.ndcg_mean,
            "ndcg@10_min": self.ndcg_min,
            "served": self.served,
        }


@dataclass
class GroupsReport:
    dataset: str
    groups: int
    size: int
    settings: GroupSettings
    results: list[GroupResult] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    tuned: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "task": "groups",
            "dataset": self.dataset,
            "groups": self.groups,
            "size": self.size,
            "settings": settings_json(self.settings),
            "results": [r.to_json() for r in self.results],
            "skipped": self.skipped,
            **({"tuned": self.tuned} if self.tuned is not None else {}),
        }

    def result(self, strategy: str) -> GroupResult:
        return next(r for r in self.results if r.strategy == strategy)


def settings_json(settings: GroupSettings) -> dict[str, Any]:
    """The ``[groups]`` settings as config.toml writes them."""
    return {**dataclasses.asdict(settings), "strategy": str(settings.strategy)}


# -- groups and scores ---------------------------------------------------------------------


def draw_groups(users: list[int], groups: int, size: int, seed: int) -> list[tuple[int, ...]]:
    """``groups`` groups of ``size`` distinct users (a user may be in several groups)."""
    if len(users) < size:
        raise ReelpickError(f"only {len(users)} test users: too few for groups of {size}")
    rng = np.random.default_rng(seed)
    pool = np.array(sorted(users))
    return [tuple(int(u) for u in rng.choice(pool, size, replace=False)) for _ in range(groups)]


def score_group(
    listed: list[int], members: tuple[int, ...], truth: dict[int, set[int]]
) -> tuple[float, float, float]:
    """(mean nDCG@10 over members, min over members, share of members with a hit)."""
    ndcgs = [recall_ndcg(listed, truth[u], K)[1] for u in members]
    served = sum(1 for u in members if truth[u] & set(listed[:K])) / len(members)
    return float(np.mean(ndcgs)), float(min(ndcgs)), served


def score_strategy(
    name: str,
    make: Callable[[tuple[int, ...]], list[int]],
    groups: list[tuple[int, ...]],
    truth: dict[int, set[int]],
) -> GroupResult:
    scores = (
        np.array([score_group(make(g), g, truth) for g in groups]) if groups else np.zeros((1, 3))
    )
    mean, low, served = scores.mean(axis=0)
    return GroupResult(name, float(mean), float(low), float(served))


# -- what is compared ------------------------------------------------------------------------


@dataclass
class _Inputs:
    """Everything the lists are made from, for one split."""

    trained: Trained  # the app over the training data, the profiles and answers
    personal: dict[int, list[int]]  # user -> picks, MAX_DEPTH long
    rated: dict[int, set[int]]  # user -> training movies
    popular: list[int]  # training movies, most rated first
    truth: dict[int, set[int]]
    groups: list[tuple[int, ...]]


def _inputs(
    config: Config,
    dataset: Dataset,
    split: Split,
    plugins: list[str] | None,
    groups: int,
    size: int,
    seed: int,
    progress: Callable[[str], None],
) -> _Inputs:
    # Each member is asked at their first test rating, the moment the night is called: a
    # question needs a moment in the data, or films nobody had rated yet would be offered.
    fitted = train_and_ask(config, dataset, split, plugins, MAX_DEPTH, progress)
    if not fitted.names:
        raise ReelpickError("no plugin recommends: nothing to evaluate for groups")
    personal = picks_lists(fitted, MAX_DEPTH)
    train = split.train
    rated = {id_key(u): set(rows.tolist()) for u, rows in train.groupby("userId")["movieId"]}
    counts = train["movieId"].value_counts(sort=False)
    popular = [int(m) for m in counts.sort_values(ascending=False, kind="stable").index]
    truth = truth_of(split.test)
    drawn = draw_groups(list(truth), groups, size, seed)
    return _Inputs(fitted, personal, rated, popular, truth, drawn)


def _seen_by(inputs: _Inputs, group: tuple[int, ...]) -> set[int]:
    return set().union(*(inputs.rated.get(u, set()) for u in group))


def popularity_list(inputs: _Inputs, group: tuple[int, ...]) -> list[int]:
    seen = _seen_by(inputs, group)
    return [m for m in inputs.popular if m not in seen][:K]


def group_list(
    inputs: _Inputs, group: tuple[int, ...], settings: GroupSettings, fair: bool = True
) -> list[int]:
    seen = _seen_by(inputs, group)
    prior = [m for m in inputs.popular[: settings.depth * 4] if m not in seen]
    profiles = inputs.trained.profiles
    picks = inputs.trained.app.group_picks(
        {u: profiles[u] for u in group},
        K,
        prior=prior,
        exclude=seen,
        fair=fair,
        settings=settings,
        personal=inputs.personal,
    )
    return [p.movie_id for p in picks]


def _maker(inputs: _Inputs, settings: GroupSettings) -> Callable[[tuple[int, ...]], list[int]]:
    """The group list under ``settings``, as a function of the group."""
    return lambda group: group_list(inputs, group, settings)


def _seeds_maker(inputs: _Inputs, train: pd.DataFrame) -> Callable[[tuple[int, ...]], list[int]]:
    """Today's movie night from each member's favourite training movie as a title seed."""
    fitted = inputs.trained
    night = fitted.app.settings.movienight
    ordered = train.sort_values(["rating", "timestamp", "movieId"], ascending=[False, False, True])
    favourite = {id_key(u): int(m) for u, m in ordered.groupby("userId")["movieId"].first().items()}
    registry = fitted.app.registry
    asked: dict[int, list[PluginAnswer]] = {}

    def lists_of(seed: int) -> list[RankedList]:
        if seed not in asked:
            asked[seed] = [registry.ask(n, seed, night.per_seed) for n in fitted.names]
        return ranked_lists(seed, asked[seed])

    def make(group: tuple[int, ...]) -> list[int]:
        seeds = sorted({favourite[u] for u in group if u in favourite})
        exclude = _seen_by(inputs, group) | set(seeds)
        lists = [ranked for s in seeds for ranked in lists_of(s)]
        fused = fuse(lists, weights=night.weights, rrf_k=night.rrf_k, exclude=exclude, limit=K)
        return [f.movie_id for f in fused]

    return make


# -- the evaluation ----------------------------------------------------------------------------


def evaluate_groups(
    config: Config,
    dataset: Dataset,
    plugins: list[str] | None = None,
    groups: int = GROUPS,
    size: int = GROUP_SIZE,
    seed: int = 0,
    test_per_user: int = 10,
    tune: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> GroupsReport:
    """Score the baselines and every group strategy on synthetic groups (module doc)."""
    settings = config.settings.groups
    split = temporal_split(dataset.ratings, test_per_user)
    progress(f"{split.label}: {groups} groups of {size} test users, seed {seed}")
    inputs = _inputs(config, dataset, split, plugins, groups, size, seed, progress)
    report = GroupsReport(dataset.source, groups, size, settings, skipped=inputs.trained.skipped)
    truth, drawn = inputs.truth, inputs.groups
    report.results.append(
        score_strategy("popularity", lambda g: popularity_list(inputs, g), drawn, truth)
    )
    seeds = _seeds_maker(inputs, split.train)
    report.results.append(score_strategy("seeds", seeds, drawn, truth))
    for strategy in STRATEGIES:
        chosen = replace(settings, strategy=strategy)
        result = score_strategy(strategy, _maker(inputs, chosen), drawn, truth)
        report.results.append(result)
        if strategy == settings.strategy:
            report.results.append(replace(result, strategy="default"))
    own = [score_group(inputs.personal.get(u, [])[:K], (u,), truth)[0] for g in drawn for u in g]
    report.results.append(GroupResult("individual", float(np.mean(own)), None, None))
    if tune:
        report.tuned = tune_groups(config, dataset, split, plugins, groups, size, seed, progress)
    return report


def tune_groups(
    config: Config,
    dataset: Dataset,
    split: Split,
    plugins: list[str] | None,
    groups: int,
    size: int,
    seed: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Best ``[groups]`` settings on validation groups inside ``split.train`` (never the test).

    Chosen by the mean nDCG@10 of the configured strategy; ties keep the earlier setting.
    """
    inner = temporal_split(split.train, 10)
    progress(f"validation inside training: {inner.label}")
    drawn = max(groups, VALIDATION_GROUPS)
    inputs = _inputs(config, dataset, inner, plugins, drawn, size, seed, progress)
    strategy = config.settings.groups.strategy
    thresholds = THRESHOLD_GRID if strategy == GroupStrategy.AVERAGE_WITHOUT_MISERY else (0.0,)
    best: tuple[float, GroupSettings, GroupResult] | None = None
    grid = itertools.product(
        DEPTH_GRID, RANK_K_GRID, PRIOR_WEIGHT_GRID, thresholds, SIZE_EXPONENT_GRID
    )
    for depth, rank_k, weight, threshold, exponent in grid:
        settings = GroupSettings(strategy, threshold, weight, depth, rank_k, exponent)
        result = score_strategy(strategy, _maker(inputs, settings), inputs.groups, inputs.truth)
        if best is None or result.ndcg_mean > best[0] + 1e-12:
            best = (result.ndcg_mean, settings, result)
    assert best is not None
    return {
        "validation_groups": len(inputs.groups),
        "settings": settings_json(best[1]),
        **best[2].to_json(),
    }


# -- output ------------------------------------------------------------------------------------


def format_groups_table(report: GroupsReport) -> str:
    s = report.settings
    lines = [
        f"Data: {report.dataset}",
        f"{report.groups} synthetic groups of {report.size} test users (temporal split: each "
        "user's 10 latest ratings are their test movies); one list of 10 per group",
        "",
        f"{'strategy':<24} {'nDCG@10 mean':>12} {'nDCG@10 min':>11} {'served':>7}",
    ]
    for r in report.results:
        low = "" if r.ndcg_min is None else f"{r.ndcg_min:.4f}"
        served = "" if r.served is None else f"{r.served:.3f}"
        lines.append(f"{r.strategy:<24.24} {r.ndcg_mean:>12.4f} {low:>11} {served:>7}")
    for skipped in report.skipped:
        lines.append(f"{skipped['name']}: skipped, {skipped['reason']}")
    lines += [
        "",
        f"[groups] strategy = {s.strategy}, misery_threshold = {s.misery_threshold:g}, "
        f"prior_weight = {s.prior_weight:g}, depth = {s.depth}, rank_k = {s.rank_k}, "
        f"size_exponent = {s.size_exponent:g}; "
        "fairness rule on. "
        "individual: each member's own list (upper bound, not a group list).",
    ]
    if report.tuned:
        t = report.tuned
        lines += [
            "",
            f"tuned on {t['validation_groups']} validation groups (each user's last 10 training "
            f"ratings): nDCG@10 mean {t['ndcg@10_mean']:.4f}, served {t['served']:.3f}",
            "[groups]",
            *(f"{k} = {v!r}".replace("'", '"') for k, v in t["settings"].items()),
        ]
    return "\n".join(lines)
