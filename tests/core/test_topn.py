"""reelpick evaluate --task topn and the picks: split, exact metrics, fusion, CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from reelpick.cli import main
from reelpick.data import load_dataset
from reelpick.evaluation.protocols import session_split
from reelpick.evaluation.topn import evaluate_topn, recall_ndcg, temporal_split
from reelpick.picks import pick
from reelpick.registry import BUILTIN_PLUGINS
from reelpick.types import DAY, Neighbour, PluginAnswer, Recommendation
from tests.support.profile_plugins import FixedList

IDEAL = sum(1 / math.log2(i + 2) for i in range(10))  # ideal DCG of 10 test movies


class Fixed(FixedList):
    """Recommends the same movies to everybody (minus the excluded ones)."""

    movies: tuple[int, ...] = (21, 51, 23)
    because = (1,)


class Other(Fixed):
    movies = (23, 21)


class Val(Fixed):
    """Hits the validation users' held-out movies (15 for user 1, 45 for user 2)."""

    movies = (15, 45)


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


def test_session_split_keeps_the_last_session_of_users_who_came_back() -> None:
    hour, day = 3600, DAY
    rows = []
    # User 1: 20 ratings one minute apart, then a day later two ratings 1 h - 1 s apart: one
    # session, the test set.
    rows += [(1, m, 3.0, 60 * m) for m in range(1, 21)]
    rows += [(1, 21, 4.0, 60 * 20 + day), (1, 22, 4.0, 60 * 20 + day + hour - 1)]
    # User 2: 20 ratings, then one exactly 24 h after the last: a test session of one.
    rows += [(2, m, 3.0, m) for m in range(31, 51)] + [(2, 51, 5.0, 50 + day)]
    # User 3: only 19 ratings before coming back. User 4: came back after 23 h.
    rows += [(3, m, 3.0, m) for m in range(61, 80)] + [(3, 80, 5.0, 79 + day)]
    rows += [(4, m, 3.0, m) for m in range(81, 101)] + [(4, 101, 5.0, 100 + day - hour)]
    # User 5: came back a day later, then rated once more exactly 1 h after: that last
    # session starts 1 h after the previous rating, not 24 h.
    rows += [(5, m, 3.0, m) for m in range(111, 131)] + [(5, 131, 5.0, 130 + day)]
    rows += [(5, 132, 5.0, 130 + day + hour)]
    ratings = pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])
    split = session_split(ratings)
    assert sorted(split.test[split.test.userId == 1].movieId) == [21, 22]
    assert sorted(split.test[split.test.userId == 2].movieId) == [51]
    assert set(split.test.userId) == {1, 2} and split.users_left_out == 3
    assert len(split.train) == len(ratings) - 3


def weekly_sessions(users: tuple[int, ...]) -> list[tuple[int, int, float, float]]:
    """Ratings of ``users`` (user u rates movies from u * 100 up) in four sessions a week
    apart, of 25, 3, 3 and 3 ratings: the session protocol tests session 4, its first
    validation fold session 3 and its second session 2."""
    rows = []
    for user in users:
        movie = user * 100
        for session, size in enumerate((25, 3, 3, 3)):
            for i in range(size):
                rows.append((user, movie, 4.0, session * 7 * DAY + 60.0 * i))
                movie += 1
    return rows


def test_validation_folds_nest_each_inside_the_previous_training() -> None:
    from reelpick.evaluation.topn_tuning import FOLDS, validation_folds

    rows = weekly_sessions((1, 2, 3))
    ratings = pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])
    split = session_split(ratings)
    folds = validation_folds("session", split.train, 10)
    assert len(folds) == FOLDS == 2
    first, second = folds
    # Fold 1 validates on each user's third session, fold 2 on their second, inside fold 1's
    # training ratings; neither ever holds a test rating.
    assert set(first.test.movieId) == {
        m for u in (1, 2, 3) for m in range(u * 100 + 28, u * 100 + 31)
    }
    assert set(second.test.movieId) == {
        m for u in (1, 2, 3) for m in range(u * 100 + 25, u * 100 + 28)
    }
    assert set(second.train.index) | set(second.test.index) == set(first.train.index)
    assert not (set(first.test.index) | set(second.test.index)) & set(split.test.index)
    # Too few ratings left for a third come-back: the folds stop where validation users end.
    assert len(validation_folds("session", second.train, 10)) == 0


def test_metrics_on_a_known_list() -> None:
    recall, ndcg = recall_ndcg([5, 9, 6], {5, 6, 7})
    assert recall == pytest.approx(2 / 3)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg == pytest.approx((1 + 1 / math.log2(4)) / ideal)


def test_exact_scores_for_known_plugins(make_config, tmp_path, monkeypatch, capsys) -> None:
    for name, cls in (("fixed", "Fixed"), ("other", "Other"), ("silent", "Silent")):
        monkeypatch.setitem(BUILTIN_PLUGINS, name, f"{__name__}:{cls}")
    # Plain fusion as shipped before calibration: the report adds the calibrated picks beside.
    config = make_config(
        "[picks]\ncalibration = 0.0\nrrf_k = 60\n",
        data=write_dataset(tmp_path / "ml"),
        enabled=["fixed", "other", "silent"],
    )
    report = evaluate_topn(config, load_dataset(config.data_source), protocol="last10")
    scores = {r.plugin: (r.recall, r.ndcg) for r in report.results}
    assert list(scores) == ["fixed", "other", "picks", "picks-calibrated"]
    # fixed: user 1 hits 21 and 23 at ranks 1 and 3; user 2 hits 51 at rank 2.
    assert scores["fixed"] == pytest.approx(
        ((2 + 1) / 20, (1 + 1 / math.log2(4) + 1 / math.log2(3)) / 2 / IDEAL)
    )
    fixed = report.results[0]
    assert fixed.mrr == pytest.approx((1 + 1 / 2) / 2) and fixed.hit == 1.0
    # 3 distinct movies recommended, over the 40 movies of the training ratings (1-20, 31-50).
    assert fixed.coverage == pytest.approx(3 / 40)
    # other: user 1 hits 23 and 21 at ranks 1 and 2; user 2 nothing.
    assert scores["other"] == pytest.approx((2 / 20, (1 + 1 / math.log2(3)) / 2 / IDEAL))
    assert report.results[1].hit == 0.5 and report.results[1].ci95[0] == pytest.approx(0.0)
    # picks (equal weights, rrf_k 60): 21 (1/61 + 1/62), 23 (1/61 + 1/63), 51 (1/62).
    assert scores["picks"] == pytest.approx(
        (3 / 20, (1 + 1 / math.log2(3) + 1 / math.log2(4)) / 2 / IDEAL)
    )
    # One genre everywhere: calibration cannot change the order, nor find any miscalibration.
    assert scores["picks-calibrated"] == scores["picks"]
    assert report.results[-1].miscalibration == 0.0
    args = ["--config", str(config.path), "evaluate", "--task", "topn", "--json"]
    chart = tmp_path / "topn.png"
    assert main([*args, "--protocol", "last10", "--chart", str(chart)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["task"] == "topn" and out["protocol"] == "last10" and out["users"] == 2
    assert [r["plugin"] for r in out["results"]] == ["fixed", "other", "picks", "picks-calibrated"]
    assert out["results"][2]["ndcg@10"] == pytest.approx(scores["picks"][1])
    low, high = out["results"][2]["ci95"]
    assert low <= scores["picks"][1] <= high and chart.stat().st_size > 0
    # The session protocol (the default) finds nobody who came back a day later here.
    assert main(args) == 1
    assert "finds no test users" in capsys.readouterr().err
    assert main(["--config", str(config.path), "evaluate", "--task", "rating", "--tune"]) == 1


def test_tune_finds_the_weight_that_ranks_the_validation_hits_first(
    make_config, tmp_path, monkeypatch, capsys
) -> None:
    for name, cls in (("fixed", "Fixed"), ("val", "Val")):
        monkeypatch.setitem(BUILTIN_PLUGINS, name, f"{__name__}:{cls}")
    config = make_config(data=write_dataset(tmp_path / "ml"), enabled=["fixed", "val"])
    args = ["--config", str(config.path), "evaluate", "--task", "topn", "--json", "--tune"]
    assert main([*args, "--protocol", "last10"]) == 0
    tuned = json.loads(capsys.readouterr().out)["tuned"]
    # Validation: user 1 trains on 1-10 and holds out 11-20, user 2 trains on 31-40 and holds
    # out 41-50. Only val hits (15 at its rank 1 for user 1, 45 at its rank 2 for user 2);
    # weight 2 is the only grid weight that puts both above fixed's movies (2/61 > 2/62 > 1/61).
    assert tuned["weights"] == {"fixed": 1.0, "val": 2.0} and tuned["rrf_k"] == 60
    assert tuned["validation_users"] == 2
    assert tuned["folds"] == [2]  # a second fold has no user with 20 ratings left
    assert tuned["picks_ndcg@10"] == pytest.approx((1 / IDEAL + (1 / math.log2(3)) / IDEAL) / 2)
    assert tuned["calibration"] == 0.0  # one genre: nothing to calibrate


class Unrelated(Fixed):
    movies = (500, 501, 502)


class BothFolds(Fixed):
    """Hits user 1's first validation fold (movie 128) and user 2's second (movie 225)."""

    movies = (128, 225)


def test_tune_pools_both_validation_folds(make_config, tmp_path, monkeypatch, capsys) -> None:
    for name, cls in (("unrelated", "Unrelated"), ("both", "BothFolds")):
        monkeypatch.setitem(BUILTIN_PLUGINS, name, f"{__name__}:{cls}")
    folder = tmp_path / "ml"
    folder.mkdir()
    rows = weekly_sessions((1, 2))
    pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"]).to_csv(
        folder / "ratings.csv", index=False
    )
    movies = [m for _, m, _, _ in rows] + [500, 501, 502]
    pd.DataFrame(
        {"movieId": movies, "title": [f"M{m} (2000)" for m in movies], "genres": "Drama"}
    ).to_csv(folder / "movies.csv", index=False)
    config = make_config(data=folder, enabled=["unrelated", "both"])
    args = ["--config", str(config.path), "evaluate", "--task", "topn", "--json", "--tune"]
    assert main(args) == 0
    tuned = json.loads(capsys.readouterr().out)["tuned"]
    assert tuned["folds"] == [2, 2] and tuned["validation_users"] == 2
    # Weighted above the unrelated list, "both" puts user 1's fold-1 movie first (128 is
    # outside their fold-1 profile; 225 is in user 2's, so user 2 gets no hit there) and
    # user 2's fold-2 movie second. Four user-folds, each with three held-out movies.
    ideal = sum(1 / math.log2(i + 2) for i in range(3))
    assert tuned["weights"]["both"] == 2.0  # at 1, 225 would tie with 501 and come third
    assert tuned["picks_ndcg@10"] == pytest.approx((1 + 1 / math.log2(3)) / ideal / 4)


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


def test_test_profiles_come_through_the_profile_store(tmp_path: Path, monkeypatch) -> None:
    from reelpick.evaluation.training import profiles_of
    from reelpick.profiles.store import ProfileStore

    dataset = load_dataset(write_dataset(tmp_path / "ml"))
    split = temporal_split(dataset.ratings, 10)
    read: list[str] = []
    real = ProfileStore.profile

    def profile(self, owner):  # the store's own read, recorded
        read.append(owner)
        return real(self, owner)

    monkeypatch.setattr(ProfileStore, "profile", profile)
    profiles = profiles_of(split.train, [1, 2], dataset)
    assert sorted(read) == ["local:user1", "local:user2"]
    # User 1 trains on movies 1-20, rated 4 stars at 1000 + movieId.
    assert dict(profiles[1].ratings) == {m: 4.0 for m in range(1, 21)}
    assert dict(profiles[1].rated_at) == {m: 1000.0 + m for m in range(1, 21)}
    assert set(profiles[2].ratings) == set(range(31, 51))
    assert profiles[1].asked_at is None  # not given: the question is asked now


def test_each_test_user_asks_at_their_first_test_rating(tmp_path: Path) -> None:
    from reelpick.evaluation.training import asking_moments, profiles_of

    dataset = load_dataset(write_dataset(tmp_path / "ml"))
    split = temporal_split(dataset.ratings, 10)
    moments = asking_moments(split.test)
    # User 1's test ratings are movies 21-30, rated at 1000 + movieId: asked at 1021.
    assert moments[1] == 1021.0
    profiles = profiles_of(split.train, [1], dataset, moments)
    assert profiles[1].asked_at == 1021.0 and profiles[1].still_rating()


def test_the_tuning_grid_scores_as_the_picks_do(make_config, tmp_path, monkeypatch) -> None:
    from reelpick.evaluation.topn import picks_lists, score_lists
    from reelpick.evaluation.topn_tuning import FusionGrid
    from reelpick.evaluation.training import train_and_ask, truth_of
    from reelpick.picks import PickSettings

    for name, cls in (("fixed", "Fixed"), ("other", "Other"), ("val", "Val")):
        monkeypatch.setitem(BUILTIN_PLUGINS, name, f"{__name__}:{cls}")
    config = make_config(data=write_dataset(tmp_path / "ml"), enabled=["fixed", "other", "val"])
    dataset = load_dataset(config.data_source)
    inner = temporal_split(temporal_split(dataset.ratings, 10).train, 10)
    truth = truth_of(inner.test)
    fitted = train_and_ask(config, dataset, inner, None, 10, lambda line: None)
    grid = FusionGrid(fitted, truth)
    for weights, rrf_k in (
        ({"fixed": 1.0, "other": 1.0, "val": 1.0}, 60.0),
        ({"fixed": 1.0, "other": 0.0, "val": 2.0}, 5.0),
        ({"fixed": 1.0, "other": 0.25, "val": 0.5}, 20.0),
    ):
        shipped = picks_lists(fitted, 10, PickSettings(weights, rrf_k).for_everyone())
        assert grid.ndcg(weights, rrf_k) == pytest.approx(score_lists(shipped, truth, "p").ndcg)


def test_tuned_last10_values_are_suggested_for_people_still_rating() -> None:
    from reelpick.evaluation.topn import suggested_settings

    tuned = {"rrf_k": 5, "calibration": 0.0, "weights": {"ease": 2.0, "cosine-cf": 1.0}}
    assert suggested_settings({**tuned, "protocol": "last10"}) == [
        "[picks]",
        "rrf_k_while_rating = 5",
        "calibration_while_rating = 0",
        "[picks.weights_while_rating]",
        "ease = 2",
        "cosine-cf = 1",
    ]
    assert suggested_settings({**tuned, "protocol": "session"})[1:4] == [
        "rrf_k = 5",
        "calibration = 0",
        "[picks.weights]",
    ]
