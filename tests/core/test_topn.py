"""reelpick evaluate --task topn and the picks: split, exact metrics, fusion, CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from reelpick.cli import main
from reelpick.data import load_dataset
from reelpick.evaluation.topn import evaluate_topn, recall_ndcg, temporal_split
from reelpick.picks import pick
from reelpick.registry import BUILTIN_PLUGINS
from reelpick.types import Neighbour, PluginAnswer, Recommendation
from tests.support.profile_plugins import FixedList

IDEAL = sum(1 / math.log2(i + 2) for i in range(10))  # ideal DCG of 10 test movies


class Fixed(FixedList):
    """Recommends the same movies to everybody (minus the excluded ones)."""

    movies: tuple[int, ...] = (21, 51, 23)
    because = (1,)


class Other(Fixed):
    movies = (23, 21)


class Silent(Fixed):
    """Fits, but cannot recommend: never fitted nor listed by the top-N task."""

    reelpick_recommend = None


def write_dataset(folder: Path) -> Path:
    """User 1 rated movies 1-30, user 2 movies 31-60 (in time order); user 3 only 5 movies."""
    folder.mkdir(parents=True)
    pd.DataFrame(
        {
            "movieId": range(1, 61),
            "title": [f"M{i} (2000)" for i in range(1, 61)],
            "genres": "Drama",
        }
    ).to_csv(folder / "movies.csv", index=False)
    rows = [(1, m, 4.0, 1000 + m) for m in range(1, 31)]
    rows += [(2, m, 3.0, 1000 + m) for m in range(31, 61)]
    rows += [(3, m, 5.0, 5000) for m in range(1, 6)]
    pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"]).to_csv(
        folder / "ratings.csv", index=False
    )
    return folder


def test_temporal_split_keeps_the_latest_ratings_for_test(tmp_path: Path) -> None:
    ratings = load_dataset(write_dataset(tmp_path / "ml")).ratings
    split = temporal_split(ratings, 10)
    assert sorted(split.test[split.test.userId == 1].movieId) == list(range(21, 31))
    assert sorted(split.test[split.test.userId == 2].movieId) == list(range(51, 61))
    assert split.users_left_out == 1 and 3 in set(split.train.userId)
    # Ties in time go by movieId: the larger ids are the "latest".
    tied = pd.DataFrame({"userId": 1, "movieId": range(30, 0, -1), "rating": 3.0, "timestamp": 7})
    assert sorted(temporal_split(tied, 10).test.movieId) == list(range(21, 31))


def test_metrics_on_a_known_list() -> None:
    recall, ndcg = recall_ndcg([5, 9, 6], {5, 6, 7})
    assert recall == pytest.approx(2 / 3)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg == pytest.approx((1 + 1 / math.log2(4)) / ideal)


def test_exact_scores_for_known_plugins(make_config, tmp_path, monkeypatch, capsys) -> None:
    for name, cls in (("fixed", "Fixed"), ("other", "Other"), ("silent", "Silent")):
        monkeypatch.setitem(BUILTIN_PLUGINS, name, f"{__name__}:{cls}")
    config = make_config(data=write_dataset(tmp_path / "ml"), enabled=["fixed", "other", "silent"])
    report = evaluate_topn(config, load_dataset(config.data_source))
    scores = {r.plugin: (r.recall, r.ndcg) for r in report.results}
    assert list(scores) == ["fixed", "other", "picks"]
    # fixed: user 1 hits 21 and 23 at ranks 1 and 3; user 2 hits 51 at rank 2.
    assert scores["fixed"] == pytest.approx(
        ((2 + 1) / 20, (1 + 1 / math.log2(4) + 1 / math.log2(3)) / 2 / IDEAL)
    )
    # other: user 1 hits 23 and 21 at ranks 1 and 2; user 2 nothing.
    assert scores["other"] == pytest.approx((2 / 20, (1 + 1 / math.log2(3)) / 2 / IDEAL))
    # picks (equal weights, rrf_k 60): 21 (1/61 + 1/62), 23 (1/61 + 1/63), 51 (1/62).
    assert scores["picks"] == pytest.approx(
        (3 / 20, (1 + 1 / math.log2(3) + 1 / math.log2(4)) / 2 / IDEAL)
    )
    args = ["--config", str(config.path), "evaluate", "--task", "topn", "--json"]
    chart = tmp_path / "topn.png"
    assert main([*args, "--tune", "--chart", str(chart)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["task"] == "topn" and out["users"] == 2
    assert [r["plugin"] for r in out["results"]] == ["fixed", "other", "picks"]
    assert out["results"][2]["ndcg@10"] == pytest.approx(scores["picks"][1])
    assert out["tuned"]["weights"]["fixed"] == 1.0 and chart.stat().st_size > 0
    assert main(["--config", str(config.path), "evaluate", "--task", "rating", "--tune"]) == 1


def test_picks_fuse_ranks_and_merge_the_reasons() -> None:
    a = PluginAnswer(
        "a", "A", neighbours=[Recommendation(7, 0.9, (1, 2)), Recommendation(8, 0.5, (3,))]
    )
    b = PluginAnswer("b", "B", neighbours=[Recommendation(8, 3.0, (4, 3)), Neighbour(9, 1.0)])
    failed = PluginAnswer("c", "C", error="boom")
    picks = pick([a, b, failed], k=3, weights={"a": 1.0, "b": 2.0}, rrf_k=10)
    assert [p.movie_id for p in picks] == [8, 9, 7]  # 2/11 + 1/12, 2/12, 1/11
    assert picks[0].score == pytest.approx(1 / 12 + 2 / 11)
    assert picks[0].because == (4, 3)  # b contributed most: its reasons first, no repeats
    assert picks[1].because == () and picks[2].because == (1, 2)
    assert [p.movie_id for p in pick([a, b], k=3, weights={"b": 0})] == [7, 8]
    assert pick([failed], k=3) == []
