"""reelpick tune: what the tuning holds out, the grid's parsing, the table and the choice."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from reelpick.cli import main
from reelpick.cli.tune import parse_grid
from reelpick.errors import ReelpickError
from reelpick.evaluation.tuning import TuningReport, TuningRow, format_tuning, tuning_holdout
from tests.support.canary import session_data

HOUR, DAY = 3600, 86_400


def ratings_of(times: dict[int, list[int]]) -> pd.DataFrame:
    rows = [(user, 100 * user + i, 4.0, t) for user, ts in times.items() for i, t in enumerate(ts)]
    return pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])


def test_holdout_takes_the_last_10_and_the_last_session() -> None:
    ratings = ratings_of(
        {
            # 25 ratings a minute apart, then a session of 3 two days later: the last 10
            # (7 of the first session and the 3) go; the last session is inside them.
            1: [i * 60 for i in range(25)] + [2 * DAY + i * 60 for i in range(3)],
            # 5 ratings, then 12 more an hour later: fewer than 20 ratings, so only the last
            # session (a gap of exactly an hour starts one) goes.
            2: [i * 60 for i in range(5)] + [4 * 60 + HOUR + i for i in range(12)],
            # One session of 8: nothing a protocol could test on.
            3: [i * 60 for i in range(8)],
        }
    )
    held = tuning_holdout(ratings)
    by_user = {u: list(held[(ratings["userId"] == u).to_numpy()]) for u in (1, 2, 3)}
    assert by_user[1] == [False] * 18 + [True] * 10
    assert by_user[2] == [False] * 5 + [True] * 12
    assert by_user[3] == [False] * 8


def test_holdout_follows_the_frame_s_own_order() -> None:
    ratings = ratings_of({1: [0, 60, 2 * DAY]})
    shuffled = ratings.iloc[[2, 0, 1]]
    assert list(tuning_holdout(shuffled)) == [True, False, False]


def test_grid_values_are_toml() -> None:
    assert parse_grid(["l2=100, 2.5", 'weighting="liked","centred"', "flag=true"]) == {
        "l2": [100, 2.5],
        "weighting": ["liked", "centred"],
        "flag": [True],
    }
    for bad in ("l2", "=1", "weighting=liked"):
        with pytest.raises(ReelpickError, match="--grid"):
            parse_grid([bad])


def test_the_table_marks_the_best_and_a_tie_keeps_the_first() -> None:
    report = TuningReport("ease", None, "ml", 40, {"l2": 500.0, "recency_half_life": 4.0})
    for l2, half, ndcg in ((500.0, 4.0, 0.10), (200.0, 0.0, 0.12), (1000.0, 0.0, 0.12)):
        report.rows.append(TuningRow({"l2": l2, "recency_half_life": half}, ndcg, 0.2, 40))
    assert report.best.params == {"l2": 200.0, "recency_half_life": 0.0}
    text = format_tuning(report)
    chosen = [line for line in text.splitlines() if "<- chosen" in line]
    assert len(chosen) == 1 and chosen[0].split()[:2] == ["200.0", "0.0"]
    assert "l2 = 200.0\nrecency_half_life = 0.0" in text
    assert "configured: nDCG@10 0.1000; chosen: 0.1200" in text
    assert report.to_json()["chosen"] == {"l2": 200.0, "recency_half_life": 0.0}


def test_tune_cosine_cf_scores_its_built_in_grid(make_config, tmp_path, capsys) -> None:
    data = session_data(tmp_path / "ml")
    config = make_config(data=data, enabled=["cosine-cf"])
    assert main(["--config", str(config.path), "tune", "cosine-cf", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    days = [300.0, 0.0, 30.0, 100.0, 1000.0]
    assert [row["params"] for row in out["grid"]] == [
        {"weighting": w, "returning_half_life_days": d} for w in ("liked", "centred") for d in days
    ]
    shipped = {"weighting": "liked", "returning_half_life_days": 300.0}
    assert out["defaults"] == shipped and out["validation_users"] > 0
    top = max(row["ndcg@10"] for row in out["grid"])
    first_best = next(row for row in out["grid"] if row["ndcg@10"] >= top - 1e-12)
    assert out["chosen"] == first_best["params"]  # the best, the earlier on a tie
    assert main(["--config", str(config.path), "tune", "sgd-mf"]) == 1  # no built-in grid
    assert "no grid for sgd-mf" in capsys.readouterr().err
