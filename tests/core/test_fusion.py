"""Reciprocal rank fusion (core/fusion.py): the formula, exclusions, weights, ties, real data."""

from __future__ import annotations

import itertools

import pytest

from reelpick.app import Reelpick
from reelpick.fusion import RankedList, check_weights, explain, fuse, ranked_lists
from reelpick.types import Neighbour, PluginAnswer
from tests.support.fixtures import ML_SMALL

TOY_STORY, TOY_STORY_2, JUMANJI, HEAT, MATRIX = 1, 3114, 2, 6, 2571


def test_scores_follow_the_formula() -> None:
    lists = [
        RankedList("a", 100, (1, 2, 3)),
        RankedList("b", 100, (2, 4)),
        RankedList("a", 200, (3, 2)),
    ]
    fused = {f.movie_id: f for f in fuse(lists, weights={"a": 2.0, "b": 0.5}, rrf_k=10)}
    assert fused[1].score == pytest.approx(2 / 11)
    assert fused[2].score == pytest.approx(2 / 12 + 0.5 / 11 + 2 / 12)
    assert fused[3].score == pytest.approx(2 / 13 + 2 / 11)
    assert fused[4].score == pytest.approx(0.5 / 12)
    assert (fused[2].hits, fused[2].best_rank) == (3, 1)
    order = [f.movie_id for f in fuse(lists, weights={"a": 2.0, "b": 0.5}, rrf_k=10)]
    assert order == [2, 3, 1, 4]
    assert explain(2, lists, {"a": 2.0, "b": 0.5}, rrf_k=10) == [
        ("a", 100, 2, 2 / 12),
        ("b", 100, 1, 0.5 / 11),
        ("a", 200, 2, 2 / 12),
    ]


def test_seeds_and_excluded_movies_never_appear() -> None:
    lists = [RankedList("a", 1, (2, 3, 4, 5)), RankedList("a", 2, (1, 3, 6))]
    fused = fuse(lists, exclude={4, 6})
    assert [f.movie_id for f in fused] == [3, 5]  # 1 and 2 are seeds, 4 and 6 excluded
    # Excluding a movie does not promote the ones below it: ranks are positions in the plugin's list.
    assert fused[1].score == pytest.approx(1 / (60 + 4))


def test_zero_weight_switches_a_plugin_off_and_unlisted_plugins_weigh_one() -> None:
    lists = [RankedList("a", 1, (2,)), RankedList("b", 1, (3,))]
    assert [f.movie_id for f in fuse(lists, weights={"a": 0})] == [3]
    assert fuse(lists, weights={"a": 0})[0].score == pytest.approx(1 / 61)


def test_ties_break_by_hits_then_best_rank_then_movie_id_in_any_input_order() -> None:
    # rrf_k = 0 makes scores 1/rank: all four movies score exactly 1.5 from two lists.
    lists = [
        RankedList("a", 1, (10, 20)),
        RankedList("b", 1, (20, 10)),  # 10 and 20 tie exactly, hits 2, best rank 1
        RankedList("c", 1, (40, 30)),
        RankedList("d", 2, (30, 40)),  # 30 and 40 tie the same way
    ]
    results = {
        tuple(f.movie_id for f in fuse(perm, rrf_k=0)) for perm in itertools.permutations(lists)
    }
    assert results == {(10, 20, 30, 40)}
    # Same score, fewer hits but a better single rank loses to more hits: 1/1 == 1/2 + 1/2.
    tie = [RankedList("a", 1, (7,)), RankedList("b", 1, (99, 8)), RankedList("c", 1, (98, 8))]
    fused = fuse(tie, rrf_k=0)
    assert fused[0].score == fused[1].score == 1.0
    assert [f.movie_id for f in fused[:2]] == [8, 7]


def test_limit_and_repeated_ids_and_bad_settings() -> None:
    lists = [RankedList("a", 1, (2, 2, 3, 4))]
    fused = fuse(lists, limit=2)
    assert [f.movie_id for f in fused] == [2, 3]
    assert fused[0].score == pytest.approx(1 / 61)  # counted once, at its first rank
    assert fuse(lists, limit=0) == []
    assert fuse([]) == []
    with pytest.raises(ValueError, match="rrf_k"):
        fuse(lists, rrf_k=-1)
    with pytest.raises(ValueError, match="cosine-cf"):
        check_weights({"cosine-cf": -1})
    with pytest.raises(ValueError, match="expected a number"):
        check_weights({"cosine-cf": "high"})
    assert check_weights({"x": 2}) == {"x": 2.0}


def test_ranked_lists_skip_failed_and_silent_plugins() -> None:
    answers = [
        PluginAnswer("a", "A", neighbours=[Neighbour(5, 0.9), Neighbour(6, 0.8)]),
        PluginAnswer("b", "B", error="boom"),
        PluginAnswer("c", "C", no_answer="unknown movie"),
        PluginAnswer("d", "D", neighbours=[]),
    ]
    assert ranked_lists(1, answers) == [RankedList("a", 1, (5, 6))]


def test_fusion_on_real_movielens_with_cosine_cf(make_config) -> None:
    app = Reelpick.open(make_config(data=ML_SMALL, enabled=["cosine-cf"]))
    seeds = [TOY_STORY, JUMANJI]
    lists = [lst for s in seeds for lst in ranked_lists(s, app.similar(s, 10))]
    assert len(lists) == 2
    fused = fuse(lists, exclude={TOY_STORY_2}, limit=10)
    ids = [f.movie_id for f in fused]
    assert len(ids) == 10 and len(set(ids)) == 10
    assert not {TOY_STORY, JUMANJI, TOY_STORY_2} & set(ids)
    # Movies close to both seeds rank above those close to one: the top one is in both lists.
    assert fused[0].hits == 2
    assert all(a.sort_key() < b.sort_key() for a, b in itertools.pairwise(fused))
    # Without the exclusion Toy Story 2 (cosine-CF's first neighbour of Toy Story) is a candidate.
    assert TOY_STORY_2 in [f.movie_id for f in fuse(lists, limit=20)]
