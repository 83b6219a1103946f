"""reelpick evaluate: the article's protocol, computed metrics, table, JSON and chart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from reelpick import hookimpl
from reelpick.cli import main
from reelpick.data import Dataset, load_dataset
from reelpick.evaluation import article_split, evaluate, format_table, kfold_splits
from reelpick.registry import BUILTIN_PLUGINS
from reelpick.types import PluginInfo
from tests.support.fixtures import write_movielens

QUICK_SGD = "[plugins.sgd-mf]\nepochs = 25\nfactors = 20\nvalidation_share = 0.0\n"


def test_article_split_on_real_data(ml_small: Dataset) -> None:
    split = article_split(ml_small.ratings, test_per_user=10, seed=0)
    assert len(split.test) == 610 * 10
    assert split.test.groupby("userId").size().eq(10).all()
    assert split.users_left_out == 0
    assert len(split.train) + len(split.test) == len(ml_small.ratings)
    assert split.train.index.intersection(split.test.index).empty
    assert split.train.groupby("userId").size().min() >= 10
    again = article_split(ml_small.ratings, test_per_user=10, seed=0)
    other = article_split(ml_small.ratings, test_per_user=10, seed=1)
    assert split.test.index.equals(again.test.index)
    assert not split.test.index.equals(other.test.index)


def test_users_with_too_few_ratings_are_left_out_and_counted() -> None:
    counts = {1: 25, 2: 19, 3: 20, 4: 5}
    ratings = pd.DataFrame(
        [(u, m, 3.0, 0) for u, n in counts.items() for m in range(n)],
        columns=["userId", "movieId", "rating", "timestamp"],
    )
    split = article_split(ratings, test_per_user=10, seed=0)
    assert split.users_left_out == 2
    assert sorted(split.test["userId"].unique()) == [1, 3]
    assert split.train.groupby("userId").size().to_dict() == {1: 15, 2: 19, 3: 10, 4: 5}


def test_kfold_tests_every_rating_once(ml_small: Dataset) -> None:
    splits = kfold_splits(ml_small.ratings, 5, seed=0)
    tested = np.concatenate([s.test.index.to_numpy() for s in splits])
    assert len(tested) == len(ml_small.ratings) == len(np.unique(tested))
    assert all(len(s.train) + len(s.test) == len(ml_small.ratings) for s in splits)


@pytest.mark.slow
def test_evaluation_on_real_data_orders_the_models(make_config, ml_small: Dataset) -> None:
    config = make_config(QUICK_SGD, enabled=["cosine-cf", "sgd-mf"])
    report = evaluate(config, ml_small, seed=0, test_per_user=10)
    assert report.counts["test_ratings"] == 6100 and report.counts["test_users"] == 610
    assert report.skipped == []
    rmse = {r.name: r.rating["rmse"] for r in report.plugins}
    assert set(rmse) == {"cosine-cf", "sgd-mf", "cosine-cf-zero-filled"}
    for r in report.plugins:
        assert r.rating["predicted"] == 6100 and r.rating["unanswered"] == 0
        assert r.rating["mse"] == pytest.approx(r.rating["rmse"] ** 2)
        assert 0 < r.rating["mae"] <= r.rating["rmse"]
    # The zero-filled formula predicts far below the 0.5-5 scale; centring fixes most of it.
    assert rmse["cosine-cf-zero-filled"] > 3 * rmse["sgd-mf"]
    assert rmse["sgd-mf"] < rmse["cosine-cf"] < rmse["cosine-cf-zero-filled"]
    for name in ("cosine-cf", "sgd-mf"):
        similar = report.result(name).similar
        assert 0.1 < similar["genre_jaccard"] < 1
        assert 0 < similar["coverage"] <= similar["answerable"] <= 1
        assert 50 < similar["popularity_percentile"] < 100  # CF leans to popular movies
    assert report.result("cosine-cf-zero-filled").similar is None
    table = format_table(report)
    assert "6,100 test ratings" in table and "cosine-cf (mean-centred)" in table


class Broken:
    """A plugin that loads but cannot fit (like a poster plugin without posters)."""

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(label="Broken", description="always fails to fit")

    @hookimpl
    def reelpick_fit(self, dataset, params, store) -> None:
        raise FileNotFoundError("no posters here")


class Crashing:
    """A plugin that fits but fails when asked to predict."""

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(label="Crashing", description="fails to predict")

    @hookimpl
    def reelpick_fit(self, dataset, params, store) -> None:
        pass

    @hookimpl
    def reelpick_predict(self, user_id, movie_ids):
        raise RuntimeError("boom")


def test_cli_table_json_and_chart(
    make_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setitem(BUILTIN_PLUGINS, "broken", f"{__name__}:Broken")
    monkeypatch.setitem(BUILTIN_PLUGINS, "crashing", f"{__name__}:Crashing")
    data = write_movielens(tmp_path / "ml", n_users=60, n_movies=40, density=0.6)
    enabled = ["cosine-cf", "sgd-mf", "broken", "crashing"]
    config = make_config(QUICK_SGD, data=data, enabled=enabled)
    chart = tmp_path / "chart.png"
    args = ["--config", str(config.path), "evaluate", "--test-per-user", "3", "--json"]
    assert main([*args, "--chart", str(chart)]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert "broken: skipped, could not be fitted (FileNotFoundError: no posters here)" in (
        captured.err
    )
    assert report["skipped"] == [
        {"name": "broken", "reason": "could not be fitted (FileNotFoundError: no posters here)"},
        {"name": "crashing", "reason": "failed while answering (RuntimeError: boom)"},
    ]
    ratings = load_dataset(data).ratings
    tested = (ratings.groupby("userId").size() >= 13).sum()
    assert report["counts"]["test_ratings"] == 3 * tested
    assert report["counts"]["users_left_out"] == ratings["userId"].nunique() - tested
    names = [p["name"] for p in report["plugins"]]
    assert names == ["cosine-cf", "sgd-mf", "cosine-cf-zero-filled"]
    with Image.open(chart) as image:
        assert image.format == "PNG" and image.width > 1000
    # The table form, and k-fold.
    assert main(["--config", str(config.path), "evaluate", "--folds", "3"]) == 0
    table = capsys.readouterr().out
    assert "3-fold cross-validation" in table and "sgd-mf" in table
    assert main(["--config", str(config.path), "evaluate", "--folds", "1"]) == 1
    assert "--folds" in capsys.readouterr().err
