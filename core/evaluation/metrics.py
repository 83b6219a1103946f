"""Ranking metrics, one copy for every evaluation: nDCG, recall, MRR, hit rate, coverage, and
bootstrap intervals over users.

Binary gain throughout: a recommended movie is relevant or not. For a ranked list ``L`` cut at
``k`` and a non-empty relevant set ``R``:

* recall@k = |L ∩ R| / min(k, |R|) (so a perfect list scores 1 even when |R| > k);
* nDCG@k = Σ_{i: L_i ∈ R} 1/log2(i + 1) over ranks i = 1..k, divided by the ideal DCG of
  min(k, |R|) hits;
* MRR@k = 1 / (rank of the first relevant movie), 0 when none is in the first k;
* hit@k = 1 when any of the first k is relevant, else 0;
* catalogue coverage = distinct movies recommended to anybody / movies in the catalogue.

Intervals are percentile bootstraps over users (users resampled with replacement, the mean
recomputed), with a fixed seed so a rerun prints the same interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 0


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


@dataclass(frozen=True)
class ListScores:
    """The metrics of one ranked list against one relevant set."""

    recall: float
    ndcg: float
    mrr: float
    hit: float


def score_list(
    recommended: Sequence[int], relevant: set[int] | frozenset[int], k: int
) -> ListScores:
    """Recall@k, nDCG@k, MRR@k and hit@k of ``recommended`` (module doc for the formulas)."""
    if not relevant:
        raise ValueError("no relevant movies to score against")
    hits = np.array([m in relevant for m in list(recommended)[:k]], dtype=float)
    discounts = _discounts(k)
    ideal = discounts[: min(k, len(relevant))].sum()
    found = np.flatnonzero(hits)
    return ListScores(
        recall=float(hits.sum() / min(k, len(relevant))),
        ndcg=float(hits @ discounts[: len(hits)] / ideal),
        mrr=float(1.0 / (found[0] + 1)) if len(found) else 0.0,
        hit=1.0 if len(found) else 0.0,
    )


def coverage(lists: Iterable[Sequence[int]], catalogue_size: int, k: int) -> float:
    """Share of the catalogue's movies that appear in the first ``k`` of at least one list."""
    if catalogue_size <= 0:
        raise ValueError("an empty catalogue has no coverage")
    shown: set[int] = set()
    for items in lists:
        shown.update(list(items)[:k])
    return len(shown) / catalogue_size


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """95 % percentile bootstrap interval of the mean of ``values`` (one value per user)."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = np.empty(samples)
    for start in range(0, samples, 200):  # bounded memory: 200 resamples at a time
        stop = min(samples, start + 200)
        picks = rng.integers(0, data.size, size=(stop - start, data.size))
        means[start:stop] = data[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def paired_bootstrap_ci(
    ours: Mapping[int, float], theirs: Mapping[int, float], **kwargs: int
) -> tuple[float, float, float]:
    """Mean of ours − theirs over the users both score, and its 95 % bootstrap interval
    (the same users resampled for both: a paired interval)."""
    users = sorted(set(ours) & set(theirs))
    diffs = np.array([ours[u] - theirs[u] for u in users], dtype=np.float64)
    low, high = bootstrap_ci(diffs, **kwargs)
    return (float(diffs.mean()) if diffs.size else float("nan")), low, high
