"""next_to_rate: which movie the /rate flow asks about next."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelpick.data import load_dataset
from reelpick.profiles import RatingQuestions, next_to_rate
from reelpick.profiles.questions import POOL_SIZE
from reelpick.types import Profile


@pytest.fixture(scope="module")
def questions(ml_small) -> RatingQuestions:
    return RatingQuestions(ml_small)


def genres(dataset, movie_id: int) -> set[str]:
    return set(dataset.movies.at[movie_id, "genres"])


def no_genre_three_in_a_row(dataset, picks: list[int]) -> bool:
    return all(
        not (genres(dataset, a) & genres(dataset, b) & genres(dataset, c))
        for a, b, c in zip(picks, picks[1:], picks[2:], strict=False)
    )


def test_the_pool_is_well_known_movies(questions: RatingQuestions, ml_small) -> None:
    assert len(questions.pool) == POOL_SIZE
    counts = ml_small.rating_counts
    assert counts[questions.pool].min() >= 10
    # The first questions are among the most rated movies of the dataset.
    first = next_to_rate(ml_small, Profile(), n=5)
    assert all(counts[m] >= counts.quantile(0.99) for m in first)


def test_same_profile_same_questions(questions: RatingQuestions, ml_small) -> None:
    profile = Profile(ratings={6: 4.0, 1: 3.0}, seen=frozenset({296}))
    assert questions.next(profile, n=10, seed=3) == questions.next(profile, n=10, seed=3)
    assert next_to_rate(ml_small, profile, n=10, rng_seed=3) == questions.next(
        profile, n=10, seed=3
    )


def test_no_repeats_and_nothing_from_the_profile_or_already_asked(
    questions: RatingQuestions,
) -> None:
    first = questions.next(Profile(), n=30)
    profile = Profile(
        ratings={m: 4.0 for m in first[:10]},
        seen=frozenset(first[10:15]),
        not_interested=frozenset(first[15:20]),
    )
    asked = first[20:25]
    picks = questions.next(profile, n=40, asked=asked)
    assert len(picks) == len(set(picks)) == 40
    assert not set(picks) & (set(first[:25]))


def test_questions_spread_over_genres(questions: RatingQuestions, ml_small) -> None:
    for seed in range(5):
        picks = questions.next(Profile(), n=12, seed=seed)
        assert no_genre_three_in_a_row(ml_small, picks), [ml_small.label(m) for m in picks]
        assert len(set().union(*(genres(ml_small, m) for m in picks))) >= 10


def test_a_rating_session_one_question_at_a_time(questions: RatingQuestions, ml_small) -> None:
    """The bot's loop: ask one, store the answer, ask the next (some are skipped)."""
    ratings: dict[int, float] = {}
    asked: list[int] = []
    for turn in range(15):
        (movie,) = questions.next(Profile(ratings=dict(ratings)), n=1, seed=7, asked=asked)
        asked.append(movie)
        if turn % 3 != 2:  # every third movie the person has not seen: skipped
            ratings[movie] = 4.0
    assert len(set(asked)) == 15
    assert no_genre_three_in_a_row(ml_small, asked), [ml_small.label(m) for m in asked]


def test_two_comedies_asked_make_the_third_something_else(
    questions: RatingQuestions, ml_small
) -> None:
    comedies = [m for m in questions.pool if genres(ml_small, int(m)) == {"Comedy"}][:2]
    (movie,) = questions.next(Profile(ratings={int(comedies[0]): 4.0}), asked=[int(comedies[1])])
    assert "Comedy" not in genres(ml_small, movie)


def test_a_tiny_dataset_still_gets_questions(small_movielens: Path) -> None:
    dataset = load_dataset(small_movielens)
    picks = next_to_rate(dataset, Profile(), n=50)
    assert 0 < len(picks) <= 30 and len(set(picks)) == len(picks)
    assert next_to_rate(dataset, Profile(seen=frozenset(picks)), n=5) == []
