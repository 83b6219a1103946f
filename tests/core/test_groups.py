"""Group strategies on hand-made groups with known answers, the fairness rule, and
``reelpick evaluate --task groups`` on a small generated dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reelpick.cli import main
from reelpick.errors import ConfigError
from reelpick.evaluation import groups as groups_evaluation
from reelpick.evaluation.groups import (
    DEPTH_GRID,
    PRIOR_WEIGHT_GRID,
    RANK_K_GRID,
    SIZE_EXPONENT_GRID,
    THRESHOLD_GRID,
)
from reelpick.groups import (
    GroupSettings,
    GroupStrategy,
    aggregate,
    group_score,
    make_fair,
    recommend_for_group,
    utilities,
)
from tests.support.fixtures import write_movielens

# Ann and Bob love 1 then 2; Cem's list has 2 only at its end and lacks 1.
GROUP = {"Ann": [1, 2, 3, 4], "Bob": [1, 2, 3, 4], "Cem": [5, 6, 7, 2]}


def ids(picks) -> list[int]:
    return [p.movie_id for p in picks]


def test_utilities_fall_linearly_with_rank() -> None:
    assert utilities([9, 8, 7, 6], 4) == {9: 1.0, 8: 0.75, 7: 0.5, 6: 0.25}
    assert utilities([9, 8, 7], 2) == {9: 1.0, 8: 0.5}  # past depth: nothing


def test_reciprocal_utilities_follow_rank_k() -> None:
    # (k + 1) / (k + rank) with k = 1: 2/2, 2/3, 2/4; the depth still cuts the list.
    assert utilities([9, 8, 7, 6], 3, rank_k=1) == pytest.approx({9: 1.0, 8: 2 / 3, 7: 0.5})
    assert utilities([9, 8], 50, rank_k=10) == pytest.approx({9: 1.0, 8: 11 / 12})
    with pytest.raises(ValueError):
        utilities([9], 3, rank_k=-1)
    # aggregate passes rank_k on: one member, scores are the reciprocal utilities.
    picks = aggregate({"Ann": [1, 2, 3]}, 3, "average", depth=3, rank_k=1)
    assert [p.score for p in picks] == pytest.approx([1.0, 2 / 3, 0.5])
    # Linear on the same list: 3/3, 2/3, 1/3.
    picks = aggregate({"Ann": [1, 2, 3]}, 3, "average", depth=3)
    assert [p.score for p in picks] == pytest.approx([1.0, 2 / 3, 1 / 3])


def test_average_prefers_what_most_like() -> None:
    # 1: (1 + 1 + 0) / 3 = .667 beats 2: (.75 + .75 + .25) / 3 = .583.
    picks = aggregate(GROUP, 3, "average", depth=4)
    assert ids(picks) == [1, 2, 3]  # 3 and 5 tie at 1/3: more members first
    assert picks[0].score == pytest.approx(2 / 3)
    assert picks[1].members == ("Ann", "Bob", "Cem")  # whom it is for, best served first


def test_least_misery_puts_the_movie_nobody_minds_first() -> None:
    assert ids(aggregate(GROUP, 2, "least_misery", depth=4)) == [2, 1]


def test_average_without_misery_depends_on_the_threshold() -> None:
    # Cem's utility of 2 is .25: above .2 nobody is miserable with 2, but Cem is with 1.
    assert ids(aggregate(GROUP, 2, "average_without_misery", misery_threshold=0.2, depth=4)) == [
        2,
        1,
    ]
    # Above .25 both are miserable: back to the average's order.
    assert ids(aggregate(GROUP, 2, "average_without_misery", misery_threshold=0.3, depth=4)) == [
        1,
        2,
    ]
    assert group_score([0.5, 0.1], "average_without_misery", 0.2) == pytest.approx(0.3 - 1)
    with pytest.raises(ValueError, match="unknown group strategy"):
        group_score([1.0], "median")


def test_exclusions_prior_and_members_without_a_profile() -> None:
    picks = aggregate({**GROUP, "Dan": []}, 2, "average", depth=4, exclude={1})
    assert ids(picks) == [2, 3]  # Dan (no profile) does not pull the average down
    assert picks[0].score == pytest.approx((0.75 + 0.75 + 0.25) / 3)
    # Popularity as a prior, 50/50 with the group: 7 (.5 * 1/6 + .5 * 1) and 8 (.5 * .75)
    # overtake 2 (.5 * .583).
    mixed = aggregate(GROUP, 3, "average", depth=4, prior=[7, 8], prior_weight=0.5, exclude={1})
    assert ids(mixed) == [7, 8, 2]
    # Nobody with a profile: the prior alone (seeds-only movie nights).
    assert ids(aggregate({"Dan": []}, 2, "average", prior=[7, 8], prior_weight=0.5)) == [7, 8]


def test_member_weights_follow_profile_sizes() -> None:
    # Ann (4 rated movies) and Cem (100) disagree; equal weights tie 1 and 5 at 0.5 each.
    lists = {"Ann": [1, 2], "Cem": [5, 6]}
    equal = aggregate(lists, 2, "average", depth=2)
    assert [p.score for p in equal] == pytest.approx([0.5, 0.5])
    settings = GroupSettings(
        strategy="average", prior_weight=0.0, depth=2, rank_k=0, size_exponent=-0.5
    )
    weights = settings.member_weights({"Ann": 4, "Cem": 100})
    assert weights == pytest.approx({"Ann": 0.5, "Cem": 0.1})
    # Ann's weight is 5x Cem's: her 1 scores 5/6, Cem's 5 scores 1/6; her 2 beats his 5.
    picks = recommend_for_group(
        lists, 3, settings, fair=False, profile_sizes={"Ann": 4, "Cem": 100}
    )
    assert ids(picks) == [1, 2, 5]
    assert [p.score for p in picks] == pytest.approx([5 / 6, 2.5 / 6, 1 / 6])
    # The fairness rule still gives Cem one of his own when the list is short.
    fair = recommend_for_group(lists, 2, settings, profile_sizes={"Ann": 4, "Cem": 100})
    assert ids(fair) == [1, 5]
    # Exponent 0, or no sizes: everyone counts the same.
    same = GroupSettings(strategy="average", prior_weight=0.0, depth=2, rank_k=0, size_exponent=0)
    assert ids(
        recommend_for_group(lists, 2, same, fair=False, profile_sizes={"Ann": 4, "Cem": 100})
    ) == [1, 5]
    with pytest.raises(ValueError, match="profile size"):
        recommend_for_group(lists, 2, settings, profile_sizes={"Ann": 4})


def test_the_fairness_rule_uses_its_own_depth() -> None:
    # Scores from the top 4 of each list; fairness asks for each member's own top 1.
    linear = {"strategy": "average", "prior_weight": 0.0, "rank_k": 0, "depth": 4}
    settings = GroupSettings(**linear, fair_depth=1)
    picks = recommend_for_group(GROUP, 2, settings)
    assert ids(picks) == [1, 5]  # Cem's 5 replaces 2, which is only in his top 4
    wide = GroupSettings(**linear, fair_depth=4)
    assert ids(recommend_for_group(GROUP, 2, wide)) == [1, 2]  # 2 is in Cem's top 4


def test_weighted_group_scores_check_their_weights() -> None:
    assert group_score([1.0, 0.0], "average", weights=[3, 1]) == pytest.approx(0.75)
    assert group_score([1.0, 0.0], "least_misery", weights=[3, 1]) == pytest.approx(0.75e-6)
    for bad in ([1], [0, 0], [-1, 2]):
        with pytest.raises(ValueError, match="weights"):
            group_score([1.0, 0.0], "average", weights=bad)


def test_fairness_swaps_the_lowest_option_for_a_forgotten_member() -> None:
    lists = {"Ann": [1, 2, 3], "Bob": [1, 2, 3], "Dan": [9, 8]}
    picks = aggregate(lists, 2, "average", depth=3)
    assert ids(picks) == [1, 2]  # Dan has nothing of his own
    fair, swapped = make_fair(picks, lists, depth=3)
    assert ids(fair) == [1, 9] and swapped == ["Dan"]
    assert fair[1].score == picks[1].score and fair[1].members == ("Dan",)
    # Dan's best movie excluded (seen): his next one.
    fair, _ = make_fair(picks, lists, depth=3, exclude={9})
    assert ids(fair) == [1, 8]


def test_fairness_never_takes_another_members_only_movie() -> None:
    lists = {"Ann": [1], "Bob": [2], "Cem": [3]}
    picks = aggregate(lists, 2, "average", depth=1)
    fair, swapped = make_fair(picks, lists, depth=1)
    assert ids(fair) == ids(picks) == [1, 2] and swapped == []  # more members than options


def test_settings_are_checked(make_config) -> None:
    def groups(text: str = "") -> GroupSettings:
        return make_config(text).settings.groups

    assert groups() == GroupSettings()
    assert groups().strategy == GroupStrategy.AVERAGE_WITHOUT_MISERY == "average_without_misery"
    with pytest.raises(ConfigError, match=r"\[groups\] strategy: 'median' is not one of"):
        groups('[groups]\nstrategy = "median"\n')
    with pytest.raises(ConfigError, match="prior_weight"):
        groups("[groups]\nprior_weight = 2\n")
    with pytest.raises(ConfigError, match="rank_k"):
        groups("[groups]\nrank_k = -1\n")
    assert groups("[groups]\nrank_k = 0\n").rank_k == 0
    with pytest.raises(ConfigError, match="size_exponent"):
        groups("[groups]\nsize_exponent = -3\n")
    assert groups("[groups]\nsize_exponent = -0.25\n").size_exponent == -0.25
    with pytest.raises(ConfigError, match="fair_depth"):
        groups("[groups]\nfair_depth = 0\n")


def test_evaluate_groups_json(make_config, tmp_path: Path, capsys) -> None:
    data = write_movielens(tmp_path / "ml", n_users=30, n_movies=80, density=0.5)
    config = make_config("[plugins.ease]\nmax_items = 100\n", data=data, enabled=["ease"])
    args = ["--config", str(config.path), "evaluate", "--task", "groups", "--json"]
    assert main([*args, "--groups", "12"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["task"] == "groups" and out["groups"] == 12 and out["size"] == 4
    results = {r["strategy"]: r for r in out["results"]}
    assert list(results) == [
        "popularity",
        "seeds",
        "average",
        "least_misery",
        "average_without_misery",
        "default",
        "individual",
    ]
    default = dict(results["default"], strategy="average_without_misery")
    assert default == results["average_without_misery"]
    for name in ("popularity", "average", "least_misery", "average_without_misery"):
        r = results[name]  # every strategy with profiles finds some of the test movies
        assert 0 < r["ndcg@10_min"] <= r["ndcg@10_mean"], name
        assert 0 < r["served"] <= 1, name
    assert results["individual"]["served"] is None
    assert main([*args, "--groups", "0"]) == 1  # refused with a message, no traceback


def test_evaluate_groups_tune_reports_settings_from_the_grid(
    make_config, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--tune`` picks [groups] settings on validation groups inside training and leaves
    the test figures exactly as an untuned run reports them (on 20 validation groups, not
    the 1,000 that make the real choice: this checks the path, not the choice)."""
    monkeypatch.setattr(groups_evaluation, "VALIDATION_GROUPS", 20)
    data = write_movielens(tmp_path / "ml", n_users=30, n_movies=80, density=0.5)
    config = make_config("[plugins.ease]\nmax_items = 100\n", data=data, enabled=["ease"])
    args = ["--config", str(config.path), "evaluate", "--task", "groups", "--json"]
    assert main([*args, "--groups", "12"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main([*args, "--groups", "12", "--tune"]) == 0
    tuned = json.loads(capsys.readouterr().out)
    assert "tuned" not in plain
    assert tuned["results"] == plain["results"]  # tuning never touches the test users
    report = tuned["tuned"]
    assert report["validation_groups"] == 20
    settings = report["settings"]
    assert settings["strategy"] == "average_without_misery"  # the configured one is tuned
    assert settings["depth"] in DEPTH_GRID and settings["rank_k"] in RANK_K_GRID
    assert settings["prior_weight"] in PRIOR_WEIGHT_GRID
    assert settings["misery_threshold"] in THRESHOLD_GRID
    assert settings["size_exponent"] in SIZE_EXPONENT_GRID
    assert report["ndcg@10_mean"] > 0 and report["served"] > 0
