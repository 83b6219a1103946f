"""No evaluation or tuning run lets a plugin see what it is scored on.

The canary plugin (tests/support/canary.py) is registered like a built-in plugin and records
every rating and tag it is fitted on and every profile it is asked about. Each top-N protocol,
the groups task, the cold task and every tuning path (``evaluate --tune``, ``reelpick tune``)
run with it; what the outer evaluation tested on must never reach it. The negative cases show
the check catches a split that leaks.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from reelpick.cli import main
from reelpick.data import load_dataset
from reelpick.evaluation import evaluate
from reelpick.evaluation import groups as groups_module
from reelpick.evaluation import training as training_module
from reelpick.evaluation.cold import cold_split, cold_training, evaluate_cold
from reelpick.evaluation.groups import evaluate_groups
from reelpick.evaluation.ratings import Split
from reelpick.evaluation.topn import evaluate_topn, temporal_split
from reelpick.evaluation.training import train_and_ask
from reelpick.evaluation.tuning import tune_plugin, tuning_holdout
from tests.support import canary

# Every protocol the public top-N evaluation accepts (None: its only one, no argument).
PROTOCOLS: list[str | None] = (
    ["session", "last10"] if "protocol" in inspect.signature(evaluate_topn).parameters else [None]
)


def protocol_args(protocol: str | None) -> list[str]:
    return [] if protocol is None else ["--protocol", protocol]


def protocol_kwargs(protocol: str | None) -> dict[str, str]:
    return {} if protocol is None else {"protocol": protocol}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return canary.session_data(tmp_path_factory.mktemp("leaks") / "ml")


@pytest.fixture
def config(make_config, data: Path, monkeypatch: pytest.MonkeyPatch):
    canary.install(monkeypatch)
    return make_config(data=data, enabled=[canary.NAME])


def scored_pairs(config, protocol: str | None) -> set[canary.Pair]:
    """What ``evaluate --task topn`` scores on under ``protocol``, found by the canary."""
    dataset = load_dataset(config.data_source)
    canary.LOG.clear()
    report = evaluate_topn(config, dataset, [canary.NAME], **protocol_kwargs(protocol))
    assert report.users > 3 and canary.fits() and canary.asks()
    held = canary.held_out(dataset.ratings, canary.asks())
    assert len(held) >= 4 * report.users  # every test user has test ratings
    # The outer fit itself saw none of them, and no profile held one.
    assert not any(canary.leaks(dataset.ratings, held).values())
    canary.LOG.clear()
    return held


def assert_no_leak(config, held: set[canary.Pair]) -> None:
    ratings = load_dataset(config.data_source).ratings
    assert canary.fits(), "the canary was never fitted"
    found = canary.leaks(ratings, held)
    assert not any(found.values()), {k: sorted(v)[:5] for k, v in found.items() if v}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_topn_and_its_tuning_never_see_a_test_rating(config, protocol, capsys) -> None:
    held = scored_pairs(config, protocol)
    args = ["--config", str(config.path), "evaluate", "--task", "topn", "--tune", "--json"]
    assert main([*args, *protocol_args(protocol)]) == 0
    assert '"tuned"' in capsys.readouterr().out
    # Fitted twice at least: on the training split and on what validation leaves of it.
    assert len({f.ratings for f in canary.fits()}) >= 2
    assert_no_leak(config, held)


def test_groups_and_their_tuning_never_see_a_test_rating(config, capsys, monkeypatch) -> None:
    # Fewer validation groups than the shipped 1000: the same path, in seconds.
    monkeypatch.setattr(groups_module, "VALIDATION_GROUPS", 10)
    dataset = load_dataset(config.data_source)
    canary.LOG.clear()
    evaluate_groups(config, dataset, [canary.NAME], groups=5, size=3)
    held = canary.held_out(dataset.ratings, canary.asks())
    assert held and not any(canary.leaks(dataset.ratings, held).values())
    canary.LOG.clear()
    args = ["--config", str(config.path), "evaluate", "--task", "groups", "--tune", "--json"]
    assert main([*args, "--groups", "5"]) == 0
    assert '"tuned"' in capsys.readouterr().out
    assert len({f.ratings for f in canary.fits()}) >= 2
    assert_no_leak(config, held)


def test_tune_command_never_sees_a_test_rating_of_any_protocol(config, capsys) -> None:
    held = set().union(*(scored_pairs(config, p) for p in PROTOCOLS))
    for protocol in PROTOCOLS:
        args = ["--config", str(config.path), "tune", canary.NAME, "--grid", "depth=1,2"]
        assert main([*args, *protocol_args(protocol)]) == 0
        out = capsys.readouterr().out
        assert "<- chosen" in out and "depth = 1" in out  # a tie keeps the first value
    assert {f.params["depth"] for f in canary.fits()} == {1, 2}
    assert_no_leak(config, held)


def test_rating_tuning_never_sees_a_test_rating_of_the_rating_task(config, capsys) -> None:
    dataset = load_dataset(config.data_source)
    canary.LOG.clear()
    evaluate(config, dataset, [canary.NAME])
    held = canary.predicted()  # what the rating task scores on
    assert len(held) >= 10 * 20
    canary.LOG.clear()
    args = ["--config", str(config.path), "tune", canary.NAME, "--metric", "rmse"]
    assert main([*args, "--grid", "depth=2,1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metric"] == "rmse" and out["chosen"] == {"depth": 2}  # a tie keeps the first
    assert len(canary.fits()) == 2 and canary.predicted()
    assert not canary.predicted() & held
    assert_no_leak(config, held)


def test_tuning_holds_out_every_protocol_s_test_ratings(config) -> None:
    """The tuning's own hold-out covers what each protocol tests on (not just what one does)."""
    dataset = load_dataset(config.data_source)
    ratings = dataset.ratings
    held = tuning_holdout(ratings)
    tuned_on = set(
        zip(ratings["userId"][~held].tolist(), ratings["movieId"][~held].tolist(), strict=True)
    )
    for protocol in PROTOCOLS:
        assert not tuned_on & scored_pairs(config, protocol)
    # ... and keeps the users' earlier sessions to learn from.
    assert (~held).sum() > len(ratings) / 2


def test_cold_never_sees_a_cold_movie_s_ratings_or_tags(config) -> None:
    dataset = load_dataset(config.data_source)
    cold = set(cold_split(dataset.ratings).movies.tolist())
    assert cold and cold & set(dataset.tags["movieId"])  # the data tags some cold movies
    canary.LOG.clear()
    report = evaluate_cold(config, dataset, [canary.NAME])
    assert any(r["plugin"] == canary.NAME for r in report["results"])
    assert canary.fits()
    for fitted in canary.fits():
        assert not {m for _, m in fitted.ratings} & cold
        assert not fitted.tagged_movies & cold


# -- the check catches leaks ----------------------------------------------------------------


def test_the_canary_catches_a_leaking_split(config) -> None:
    dataset = load_dataset(config.data_source)
    held = scored_pairs(config, PROTOCOLS[0])
    split = temporal_split(dataset.ratings, 10)
    # A split whose training part still holds the test ratings, as a careless one would.
    leaking = Split(train=dataset.ratings, test=split.test, label="leaking")
    train_and_ask(config, dataset, leaking, [canary.NAME], 10, lambda line: None)
    found = canary.leaks(dataset.ratings, held)
    assert found["fitted ratings"] and found["profiles"]
    with pytest.raises(AssertionError):
        assert_no_leak(config, held)


def test_the_canary_catches_a_question_asked_after_a_test_rating(config, monkeypatch) -> None:
    dataset = load_dataset(config.data_source)
    split = temporal_split(dataset.ratings, 10)
    held = set(zip(split.test["userId"].tolist(), split.test["movieId"].tolist(), strict=True))
    late = {
        int(u): float(t) + 1 for u, t in split.test.groupby("userId")["timestamp"].max().items()
    }
    monkeypatch.setattr(training_module, "asking_moments", lambda test: late)
    train_and_ask(config, dataset, split, [canary.NAME], 10, lambda line: None)
    found = canary.leaks(dataset.ratings, held)
    assert found["asked after a held-out rating"] and not found["profiles"]


def test_the_canary_catches_tags_of_held_out_ratings(config) -> None:
    """A training set that kept the tags of its held-out ratings is caught; with_ratings drops
    them."""
    dataset = load_dataset(config.data_source)
    held = scored_pairs(config, PROTOCOLS[0])
    tagged = set(zip(dataset.tags["userId"], dataset.tags["movieId"], strict=True))
    assert held & tagged  # the data tags some test ratings
    train = dataset.with_ratings(dataset.ratings, "all")
    leaky = train.__class__(
        train.movies, dataset.ratings.iloc[:0], dataset.tags, "leaky-tags", "leaky"
    )
    canary.Canary().reelpick_fit(leaky, {"depth": 1}, None)
    assert canary.leaks(dataset.ratings, held)["fitted tags"]
    canary.LOG.clear()
    honest = dataset.with_ratings(dataset.ratings[~tuning_holdout(dataset.ratings)], "honest")
    canary.Canary().reelpick_fit(honest, {"depth": 1}, None)
    assert not canary.leaks(dataset.ratings, held)["fitted tags"]


def test_the_canary_catches_a_cold_split_that_keeps_tags(config) -> None:
    dataset = load_dataset(config.data_source)
    split = cold_split(dataset.ratings)
    cold = set(split.movies.tolist())
    kept = dataset.with_ratings(split.train, "cold, tags kept")  # no rating, tags by others
    assert cold & set(kept.tags["movieId"])
    assert not cold & set(cold_training(dataset, split, "cold").tags["movieId"])


def test_tuning_a_plugin_without_a_grid_is_one_line(config) -> None:
    dataset = load_dataset(config.data_source)
    with pytest.raises(Exception, match="no grid for canary"):
        tune_plugin(config, dataset, canary.NAME)
