"""genre-tags passes reelpick's plugin contract and finds content neighbours for rare movies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from reelpick_genre_tags import GenreTags, movie_features

from reelpick import ConfigError, NoAnswer, Profile
from reelpick.data import Dataset
from reelpick.testing import check_plugin, small_dataset, subset_dataset

TOY_STORY, TOY_STORY_2, BUGS_LIFE = 1, 3114, 2355
DEFAULTS = GenreTags().reelpick_plugin_info().params


@pytest.fixture(scope="module")
def small(movielens: Dataset) -> Dataset:
    return small_dataset(movielens, 1500, keep=[TOY_STORY, TOY_STORY_2, BUGS_LIFE])


def fitted(dataset: Dataset, tmp_path: Path, **params) -> GenreTags:
    """A plugin fitted the way the registry does it (store keyed by data and params)."""
    from reelpick.cache import ArtifactStore

    plugin = GenreTags()
    params = {**DEFAULTS, **params}
    store = ArtifactStore(tmp_path, "genre-tags", data=dataset.fingerprint, params=params)
    plugin.reelpick_fit(dataset=dataset, params=params, store=store)
    return plugin


def test_contract(small: Dataset, tmp_path: Path) -> None:
    report = check_plugin(GenreTags, small, name="genre-tags", cache_root=tmp_path)
    assert report.answered == report.queries  # every movie of ml-latest-small has a genre


def test_contract_without_tags_or_decades(small: Dataset, tmp_path: Path) -> None:
    params = {"tag_weight": 0.0, "decade_weight": 0.0, "neighbours": 20}
    check_plugin(GenreTags, small, params, k=20, name="genre-tags", cache_root=tmp_path)


def test_toy_story_finds_pixar(small: Dataset, tmp_path: Path) -> None:
    found = [n.movie_id for n in fitted(small, tmp_path).reelpick_similar(TOY_STORY, 3)]
    assert TOY_STORY_2 in found or BUGS_LIFE in found


def test_tags_change_the_answer(small: Dataset, tmp_path: Path) -> None:
    with_tags = fitted(small, tmp_path / "a").reelpick_similar(TOY_STORY, 10)
    genres_only = fitted(small, tmp_path / "b", tag_weight=0.0).reelpick_similar(TOY_STORY, 10)
    assert [n.movie_id for n in with_tags] != [n.movie_id for n in genres_only]


def test_movies_without_ratings_still_get_neighbours(movielens: Dataset, tmp_path: Path) -> None:
    counts = movielens.rating_counts
    unrated = counts.index[counts == 0][:5].tolist()
    assert unrated, "ml-latest-small has movies without ratings"
    rare_and_popular = counts.sort_values().index[-300:].tolist() + unrated
    dataset = subset_dataset(movielens, rare_and_popular)
    plugin = fitted(dataset, tmp_path)
    for movie_id in unrated:
        assert len(plugin.reelpick_similar(movie_id, 5)) == 5


def test_a_movie_with_nothing_to_compare_gets_no_answer(movielens: Dataset, tmp_path: Path) -> None:
    movies = movielens.movies
    tagged = set(movielens.tags["movieId"])
    bare = [m for m in movies.index[movies["genres"].map(len) == 0] if m not in tagged][:1]
    dataset = subset_dataset(movielens, bare + [TOY_STORY, TOY_STORY_2, BUGS_LIFE])
    plugin = fitted(dataset, tmp_path)
    with pytest.raises(NoAnswer, match="no genres or tags"):
        plugin.reelpick_similar(bare[0], 5)


def test_features_are_sparse_and_rare_tokens_weigh_more(small: Dataset) -> None:
    features = movie_features(small.movies, small.tags, DEFAULTS)
    assert features.matrix.shape == (len(small.movies), len(features.tokens))
    assert features.matrix.nnz < 0.05 * np.prod(features.matrix.shape)  # mostly empty
    has_content = (small.movies["genres"].map(len) > 0) | small.movies.index.isin(
        small.tags.movieId
    )
    assert (features.described == has_content.to_numpy()).all()
    row = features.matrix[np.searchsorted(features.movie_ids, TOY_STORY)].toarray().ravel()
    weight = dict(zip(features.tokens, row, strict=True))
    # Both are Toy Story's genres; far fewer movies are "Children" than "Comedy".
    assert weight["g:children"] > weight["g:comedy"] > 0
    assert weight["t:pixar"] > weight["g:children"]  # a rare tag says even more
    assert weight["d:1990"] < weight["g:comedy"]  # the decade only nudges


@pytest.mark.parametrize(
    ("params", "message"),
    [({"tag_weight": -1.0}, "tag_weight must be 0 or more"), ({"neighbours": 0}, "1 or more")],
)
def test_bad_values_raise_config_error(small: Dataset, tmp_path: Path, params, message) -> None:
    with pytest.raises(ConfigError, match=message):
        fitted(small, tmp_path, **params)


def test_recommends_what_the_liked_movies_are_about(small: Dataset, tmp_path: Path) -> None:
    plugin = fitted(small, tmp_path)
    profile = Profile(ratings={TOY_STORY: 5.0, 2: 1.0})
    found = plugin.reelpick_recommend(profile=profile, k=5, exclude=profile.movies)
    assert len(found) == 5 and not {r.movie_id for r in found} & profile.movies
    assert {TOY_STORY_2, BUGS_LIFE} & {r.movie_id for r in found}
    assert all(r.because == (TOY_STORY,) for r in found)  # the one liked movie; 2 is disliked
    assert [r.score for r in found] == sorted((r.score for r in found), reverse=True)


def test_a_profile_without_liked_or_seen_movies_gets_no_answer(
    small: Dataset, tmp_path: Path
) -> None:
    plugin = fitted(small, tmp_path)
    for profile in (Profile(), Profile(ratings={TOY_STORY: 1.0}), Profile(ratings={10**9: 5.0})):
        with pytest.raises(NoAnswer, match="genres or tags"):
            plugin.reelpick_recommend(profile=profile, k=5, exclude=profile.movies)
