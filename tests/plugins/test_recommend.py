"""reelpick_recommend in the built-in plugins, on the real ml-latest-small: a real user's ratings
as the profile, answers through the registry as the bot and the CLI get them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reelpick import NeighbourTable, NoAnswer, Profile, Recommendation, topk_cosine_dense
from reelpick.config import load_config
from reelpick.data import Dataset
from reelpick.plugins.cosine_cf import profile_weights
from reelpick.plugins.vgg16_poster import VGG16Poster
from reelpick.registry import Registry
from reelpick.sgd.fold_in import _ridge

HEAT, RONIN, TOY_STORY, MATRIX = 6, 2278, 1, 2571
SGD_PARAMS = "[plugins.sgd-mf]\nfactors = 16\nepochs = 12\nensemble = 1\n"


@pytest.fixture(scope="module")
def registry(ml_small: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """cosine-cf and a small sgd-mf fitted once on all of ml-latest-small."""
    return fitted(ml_small, tmp_path_factory.mktemp("recommend") / "cache")


def fitted(dataset: Dataset, cache: Path) -> Registry:
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "config.toml").write_text(f'[cache]\ndir = "{cache}"\n{SGD_PARAMS}')
    registry = Registry(load_config(cache / "config.toml"), load_entry_points=False)
    assert registry.fit(dataset, ["cosine-cf", "sgd-mf"]) == {"cosine-cf": None, "sgd-mf": None}
    return registry


def user_profile(dataset: Dataset, user_id: int) -> Profile:
    """A real user's ratings, plus a couple of movies seen and one not wanted."""
    mine = dataset.ratings[dataset.ratings["userId"] == user_id]
    ratings = dict(zip(mine["movieId"].astype(int), mine["rating"].astype(float), strict=True))
    return Profile(
        ratings=ratings,
        seen=frozenset({MATRIX} - set(ratings)),
        not_interested=frozenset({TOY_STORY} - set(ratings)),
    )


@pytest.mark.parametrize("name", ["cosine-cf", "sgd-mf"])
def test_a_real_users_recommendations(name: str, registry: Registry, ml_small: Dataset) -> None:
    profile = user_profile(ml_small, 1)
    answer = registry.ask_recommend(name, profile, 10, exclude={HEAT})
    assert answer.ok, answer
    found = answer.neighbours
    assert len(found) == 10 and all(isinstance(r, Recommendation) for r in found)
    ids = [r.movie_id for r in found]
    assert not set(ids) & (profile.movies | {HEAT})  # never the profile, never excluded
    assert [r.score for r in found] == sorted((r.score for r in found), reverse=True)
    assert all(set(r.because) <= profile.movies and len(r.because) <= 3 for r in found)
    assert all(r.because for r in found)  # every pick is explained
    again = registry.ask_recommend(name, profile, 10, exclude={HEAT}).neighbours
    assert again == found  # a lookup: the same question, the same answer


@pytest.mark.parametrize("name", ["cosine-cf", "sgd-mf"])
def test_another_fit_from_the_cache_recommends_alike(
    name: str, registry: Registry, ml_small: Dataset
) -> None:
    profile = user_profile(ml_small, 414)
    other = fitted(ml_small, Path(registry.config.cache_dir))
    first = registry.ask_recommend(name, profile, 10).neighbours
    assert other.ask_recommend(name, profile, 10).neighbours == first and first


def test_action_fans_get_action(registry: Registry, ml_small: Dataset) -> None:
    profile = Profile(ratings={HEAT: 5.0, RONIN: 5.0, TOY_STORY: 1.0})
    for name in ("cosine-cf", "sgd-mf"):
        found = registry.ask_recommend(name, profile, 10).neighbours
        genres = [g for r in found for g in ml_small.movies.at[r.movie_id, "genres"]]
        assert genres.count("Children") < genres.count("Action") + genres.count("Crime"), name
        assert all(TOY_STORY not in r.because for r in found), name  # a dislike is no reason


def test_cosine_cf_counts_seen_movies_as_mildly_liked(registry: Registry) -> None:
    answer = registry.ask_recommend("cosine-cf", Profile(seen=frozenset({HEAT})), 5)
    assert answer.ok and all(r.because == (HEAT,) for r in answer.neighbours)
    assert profile_weights(Profile(ratings={HEAT: 5.0, RONIN: 1.0}, seen=frozenset({1}))) == {
        HEAT: 1.0,
        RONIN: 0.0,
        1: 0.5,
    }


@pytest.mark.parametrize("name", ["cosine-cf", "sgd-mf"])
@pytest.mark.parametrize(
    "profile",
    [Profile(), Profile(ratings={10**9: 4.0, 10**9 + 1: 5.0})],
    ids=["empty", "unknown-movies"],
)
def test_a_profile_that_says_nothing_gets_no_answer(
    name: str, profile: Profile, registry: Registry
) -> None:
    answer = registry.ask_recommend(name, profile, 10)
    assert answer.no_answer and not answer.error, answer


def test_sgd_mf_fold_in_solves_the_same_ridge_either_way() -> None:
    """Few ratings take the Woodbury route (one equation per rating); it must equal the
    normal equations (one per factor)."""
    rng = np.random.default_rng(0)
    design = rng.standard_normal((30, 101))
    target = rng.standard_normal(30)
    penalty = rng.uniform(0.3, 3.0, 101)
    primal = np.linalg.solve(design.T @ design + np.diag(penalty), design.T @ target)
    assert np.allclose(_ridge(design, target, penalty), primal, atol=1e-9)
    tall = rng.standard_normal((300, 101))  # more ratings than factors: the normal equations
    assert np.allclose(
        _ridge(tall, tall @ np.ones(101), np.full(101, 1e-9)), np.ones(101), atol=1e-6
    )


# -- the table's own recommend, and the poster plugin over a known table -----------------


def table() -> NeighbourTable:
    """Movies 10..15: 10 and 11 point at 12 and 13 (exact binary scores); 14 points at 15."""
    ids = np.array([10, 11, 12, 13, 14, 15])
    index = np.array([[2, 3], [3, 2], [0, 1], [1, 0], [5, -1], [4, -1]])
    score = np.array([[0.75, 0.5], [0.75, 0.5], [0.75, 0.5], [0.75, 0.5], [0.625, 0], [0.625, 0]])
    return NeighbourTable(ids, index, score)


def test_table_recommend_sums_explains_and_breaks_ties_by_movie_id() -> None:
    found = table().recommend({10: 1.0, 11: 1.0}, 5)
    # 12 and 13 both score 0.75 + 0.5: the lower id first; reasons by their own share.
    assert [(r.movie_id, r.score, r.because) for r in found] == [
        (12, 1.25, (10, 11)),
        (13, 1.25, (11, 10)),
    ]
    assert [r.movie_id for r in table().recommend({10: 1.0, 11: 1.0}, 1)] == [12]
    assert [(r.movie_id, r.score) for r in table().recommend({10: 2.0}, 5, combine="max")] == [
        (12, 1.5),
        (13, 1.0),
    ]


def test_table_recommend_excludes_and_lets_dislikes_push_down() -> None:
    assert table().recommend({10: 1.0, 11: 1.0}, 5, exclude={12, 13}) == []
    # 11 disliked: 13 (0.5 - 0.75) drops out, 12 keeps 0.75 - 0.5; unknown 999 is ignored.
    found = table().recommend({10: 1.0, 11: -1.0, 999: 5.0}, 5)
    assert [(r.movie_id, r.score, r.because) for r in found] == [(12, 0.25, (10,))]
    assert table().recommend({14: -1.0}, 5) == []  # nothing positive, nothing recommended
    assert table().recommend({10: 1.0}, 0) == []


def test_vgg16_recommends_posters_like_the_liked_ones(ml_small: Dataset) -> None:
    """The hook over a known table (the real-weights test lives in test_vgg16.py)."""
    rng = np.random.default_rng(1)
    ids = ml_small.movies.index.to_numpy()[:200]
    vectors = rng.standard_normal((200, 8)).astype(np.float32)
    vectors[1] = vectors[0] + 0.01  # movie ids[1] has a poster just like ids[0]'s
    plugin = VGG16Poster()
    plugin.table = NeighbourTable(ids, *topk_cosine_dense(vectors, 20))
    liked, twin = int(ids[0]), int(ids[1])
    found = plugin.reelpick_recommend(
        profile=Profile(ratings={liked: 5.0, int(ids[5]): 1.0}), k=5, exclude=frozenset({liked})
    )
    assert found[0].movie_id == twin and found[0].because == (liked,)
    assert found[0].score == pytest.approx(1.0, abs=1e-3)
    assert all(r.movie_id not in (liked, int(ids[5])) for r in found)
    with pytest.raises(NoAnswer, match="poster"):
        plugin.reelpick_recommend(profile=Profile(ratings={10**9: 5.0}), k=5, exclude=frozenset())
