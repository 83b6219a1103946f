"""The shared ranking metrics against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from reelpick.evaluation.metrics import bootstrap_ci, coverage, paired_bootstrap_ci, score_list


def test_a_list_with_two_hits_among_three_relevant_movies() -> None:
    # Ranks 1 and 3 are relevant (5 and 6); 7 is never recommended.
    scores = score_list([5, 9, 6], {5, 6, 7}, k=10)
    assert scores.recall == pytest.approx(2 / 3)
    # DCG = 1/log2(2) + 1/log2(4) = 1.5; ideal DCG of 3 hits = 1 + 0.6309298 + 0.5.
    assert scores.ndcg == pytest.approx(1.5 / 2.1309298, abs=1e-6)
    assert scores.mrr == 1.0 and scores.hit == 1.0


def test_the_first_hit_decides_mrr_and_the_cut_at_k_counts() -> None:
    scores = score_list([1, 2, 3, 4], {3, 4}, k=3)
    assert scores.mrr == pytest.approx(1 / 3)
    assert scores.recall == pytest.approx(1 / 2)  # 4 is past k
    assert scores.ndcg == pytest.approx(0.5 / (1 + 1 / math.log2(3)))
    missed = score_list([1, 2], {9}, k=10)
    assert (missed.recall, missed.ndcg, missed.mrr, missed.hit) == (0.0, 0.0, 0.0, 0.0)
    # More relevant movies than k: recall divides by k, so a full list of hits scores 1.
    full = score_list([1, 2], set(range(1, 20)), k=2)
    assert (full.recall, full.ndcg) == (1.0, pytest.approx(1.0))
    with pytest.raises(ValueError):
        score_list([1], set(), k=10)


def test_coverage_counts_distinct_movies_in_the_first_k() -> None:
    # Movies 1, 2, 3 and 5 in the first two places; 4 only at rank 3.
    assert coverage([[1, 2, 4], [2, 3], [5, 1]], catalogue_size=10, k=2) == pytest.approx(0.4)


def test_bootstrap_interval_of_constant_and_of_paired_values() -> None:
    assert bootstrap_ci([0.25] * 30) == (pytest.approx(0.25), pytest.approx(0.25))
    # Values 0 and 1 in equal numbers: the mean 0.5 lies inside, the interval is narrower than
    # 0.5 +- 2 standard errors of 0.5/sqrt(200) (0.071) plus a margin.
    low, high = bootstrap_ci([0.0, 1.0] * 100)
    assert 0.5 - 0.09 < low < 0.5 < high < 0.5 + 0.09
    # Paired: ours is theirs + 0.1 for every user, so the difference is exactly 0.1.
    theirs = {u: (u % 7) / 10 for u in range(50)}
    ours = {u: v + 0.1 for u, v in theirs.items()}
    mean, low, high = paired_bootstrap_ci(ours, theirs)
    assert (mean, low, high) == (pytest.approx(0.1), pytest.approx(0.1), pytest.approx(0.1))
