"""The EASE plugin: the closed form on tiny matrices, recommendations, and the plugin contract."""

from __future__ import annotations

import numpy as np
import pytest

from reelpick import NoAnswer, Profile
from reelpick.data import Dataset
from reelpick.plugins.ease import Ease, ease_weights
from reelpick.registry import Registry
from reelpick.testing import check_plugin, small_dataset


def test_two_items_have_the_textbook_answer() -> None:
    # Item 0 watched by 3 people, item 1 by 2, both by 1: B01 = co / (n0 + l2), B10 = co / (n1 + l2).
    x = np.array([[1, 1], [1, 0], [1, 0], [0, 1]], dtype=np.float32)
    b = ease_weights(x, l2=2.0)
    assert b.dtype == np.float32
    assert b[0, 0] == b[1, 1] == 0
    assert b[0, 1] == pytest.approx(1 / (3 + 2))
    assert b[1, 0] == pytest.approx(1 / (2 + 2))


def test_closed_form_solves_each_column_s_ridge_regression() -> None:
    # Without the diagonal, column j of B is the ridge regression of item j on the other items.
    rng = np.random.default_rng(0)
    x = (rng.random((30, 5)) < 0.4).astype(np.float32)
    b = ease_weights(x, l2=3.0)
    for j in range(5):
        others = [i for i in range(5) if i != j]
        a = x[:, others].astype(np.float64)
        ridge = np.linalg.solve(a.T @ a + 3.0 * np.eye(4), a.T @ x[:, j])
        assert b[others, j] == pytest.approx(ridge, abs=1e-5)
        assert b[j, j] == 0
    with pytest.raises(ValueError):
        ease_weights(x, l2=0)


@pytest.fixture(scope="module")
def small(ml_small: Dataset) -> Dataset:
    return small_dataset(ml_small, n_movies=400)


@pytest.fixture(scope="module")
def fitted(small: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Registry:
    from reelpick.config import DEFAULTS, Config

    cache = tmp_path_factory.mktemp("ease-cache")
    values = {**DEFAULTS, "cache": {"dir": str(cache)}, "plugins": {"enabled": ["ease"]}}
    registry = Registry(Config(values=values), load_entry_points=False, load_builtins=False)
    registry.register(Ease(), "ease")
    assert registry.fit(small, ["ease"]) == {"ease": None}
    return registry


def test_recommendations_leave_out_the_profile_and_name_their_reasons(
    fitted: Registry, small: Dataset
) -> None:
    user = small.ratings[small.ratings["userId"] == 1]
    profile = Profile(ratings=dict(zip(user["movieId"], user["rating"].astype(float), strict=True)))
    (answer,) = fitted.recommend(profile, 10, exclude={int(small.movies.index[0])})
    assert answer.ok and len(answer.neighbours) == 10
    ids = [r.movie_id for r in answer.neighbours]
    assert not set(ids) & (profile.movies | {int(small.movies.index[0])})
    assert all(r.because and set(r.because) <= profile.movies for r in answer.neighbours)
    scores = [r.score for r in answer.neighbours]
    assert scores == sorted(scores, reverse=True)


def test_recent_movies_weigh_more_and_newer_movies_are_hidden(
    fitted: Registry, small: Dataset
) -> None:
    plugin = fitted.plugin_object("ease")
    user = small.ratings[small.ratings["userId"] == 414].sort_values("timestamp")
    ratings = dict(zip(user["movieId"], user["rating"].astype(float), strict=True))
    times = dict(zip(user["movieId"], user["timestamp"].astype(float), strict=True))
    plain = plugin.reelpick_recommend(Profile(ratings=ratings), 10, frozenset(ratings))
    shipped = plugin.params
    latest = max(times.values())
    rating_still = Profile(ratings=ratings, rated_at=times, asked_at=latest + 60)
    back_next_day = Profile(ratings=ratings, rated_at=times, asked_at=latest + 86400)
    lists = {}
    for half_life, returning_days in ((4.0, 0.0), (0.0, 0.0), (0.0, 100.0)):
        plugin.params = {
            **shipped,
            "recency_half_life": half_life,
            "returning_half_life_days": returning_days,
            "hide_newer_movies": False,  # as for `plain`, asked now: nothing hidden
        }
        try:
            for name, profile in (("still", rating_still), ("back", back_next_day)):
                found = plugin.reelpick_recommend(profile, 10, frozenset(ratings))
                lists[name, half_life, returning_days] = [r.movie_id for r in found]
        finally:
            plugin.params = shipped
    plain_ids = [r.movie_id for r in plain]
    assert lists["still", 4.0, 0.0] != plain_ids
    # Each half-life acts in its own situation only.
    assert lists["back", 4.0, 0.0] == plain_ids
    assert lists["still", 0.0, 100.0] == plain_ids
    # A person back the next day has their years-old ratings faded (user 414 rated from
    # 2000 to 2018).
    assert lists["back", 0.0, 100.0] != plain_ids
    # A question asked long ago is never answered with a movie nobody had rated by then.
    early = {m: 0.0 for m in ratings}  # rated in 1970: nothing else had been rated yet
    long_ago = Profile(ratings=ratings, rated_at=early, asked_at=86400.0)
    assert plugin.reelpick_recommend(long_ago, 10, frozenset()) == []
    # Asked now, the same old profile is offered what came out since: that is what a
    # person coming back after years wants.
    now = plugin.reelpick_recommend(Profile(ratings=ratings, rated_at=early), 10, frozenset())
    assert len(now) == 10


def test_a_profile_outside_the_model_gets_no_answer(fitted: Registry) -> None:
    plugin = fitted.plugin_object("ease")
    with pytest.raises(NoAnswer):
        plugin.reelpick_recommend(Profile(ratings={10**9: 4.0}), 10, frozenset())


def test_contract(small: Dataset, tmp_path) -> None:
    report = check_plugin(Ease, small, params={"max_items": 300}, cache_root=tmp_path)
    assert report.answered > 0 and report.no_answer > 0  # movies beyond max_items: NoAnswer
