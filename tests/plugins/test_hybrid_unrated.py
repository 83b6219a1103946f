"""Similar movies of movies without ratings: the score's terms, the candidates, the audience
model, and the settings as the hybrid reads them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reelpick.data import Dataset, load_dataset
from reelpick.plugins._hybrid_params import DEFAULT_PARAMS
from reelpick.plugins._hybrid_unrated import (
    Described,
    UnratedNeighbours,
    UnratedSettings,
    settings_from,
)

# movieId: (title, genres, ratings it gets)
MOVIES = {
    1: ("New Space War (2017)", "Action|Sci-Fi", 0),  # the query: no ratings yet
    2: ("Other Space War (2016)", "Action|Sci-Fi", 0),  # another new film
    3: ("Old Space War (1980)", "Action|Sci-Fi", 30),
    4: ("Love in Paris (2017)", "Romance", 30),
    5: ("Obscure Space War (2016)", "Action|Sci-Fi", 2),  # too few ratings to be a candidate
    6: ("Loud Space War (2015)", "Action|Sci-Fi", 60),
    7: ("Quiet Space War (2015)", "Action|Sci-Fi", 10),
    8: ("Small Documentary (2015)", "Documentary", 1),
    9: ("Tiny Documentary (2014)", "Documentary", 1),
    10: ("New Documentary (2017)", "Documentary", 0),
    11: ("Mystery Film (2017)", "(no genres listed)", 0),
}
PLAIN = UnratedSettings(
    year_weight=1.0, year_scale=5.0, audience_weight=0.0, taste_weight=0.0, pool=5
)


def write_world(folder: Path) -> Dataset:
    folder.mkdir(parents=True)
    pd.DataFrame(
        [{"movieId": m, "title": t, "genres": g} for m, (t, g, _) in MOVIES.items()]
    ).to_csv(folder / "movies.csv", index=False)
    ratings = [
        {"userId": u, "movieId": m, "rating": 4.0, "timestamp": 1_500_000_000}
        for m, (_, _, n) in MOVIES.items()
        for u in range(1, n + 1)
    ]
    pd.DataFrame(ratings).to_csv(folder / "ratings.csv", index=False)
    return load_dataset(folder)


@pytest.fixture
def world(tmp_path: Path) -> tuple[Dataset, UnratedNeighbours]:
    dataset = write_world(tmp_path / "data")
    return dataset, UnratedNeighbours(dataset)


def ids(unrated: UnratedNeighbours, top: list[tuple[int, float]]) -> list[int]:
    return [int(unrated.movie_ids[p]) for p, _ in top]


def test_genres_first_then_the_release_period(world) -> None:
    _, unrated = world
    query = int(np.searchsorted(unrated.movie_ids, 1))
    top = ids(unrated, unrated.top(unrated.describe(query), 10, PLAIN, exclude=query))
    # Same genres, nearest years first; the unrated new film is a candidate, the movie
    # with 2 ratings (under the pool of 5) is not, nor is the query itself.
    assert top[:4] == [2, 6, 7, 3]
    assert 5 not in top and 1 not in top
    # The other candidates share no genre: ranked by the year alone, below every movie that
    # shares one; rated movies under the pool (8, 9) never appear.
    assert set(top[4:]) == {4, 10, 11}


def test_the_audience_breaks_ties_towards_the_movies_people_watch(world) -> None:
    _, unrated = world
    loud, quiet = (int(np.searchsorted(unrated.movie_ids, m)) for m in (6, 7))
    movie = Described(("Action", "Sci-Fi"), 2015.0, "A 2015 Space War")
    for weight, first in ((0.0, None), (0.5, 6)):
        settings = UnratedSettings(1.0, 5.0, weight, 0.0, 5)
        scores = unrated.scores(movie, settings)
        if first is None:
            assert scores[loud] == pytest.approx(scores[quiet])
        else:
            assert scores[loud] > scores[quiet]


def test_an_unrated_movie_s_audience_is_predicted_from_what_it_is(world) -> None:
    _, unrated = world
    at = {m: int(np.searchsorted(unrated.movie_ids, m)) for m in MOVIES}
    # Measured where rated: more ratings, a larger audience.
    assert unrated.audience[at[6]] > unrated.audience[at[7]] > unrated.audience[at[8]]
    # Predicted elsewhere: a new space war draws more people than a new documentary.
    assert unrated.audience[at[2]] > unrated.audience[at[10]]


def test_a_movie_without_a_year_is_compared_by_genres_alone(world) -> None:
    _, unrated = world
    movie = Described(("Documentary",), float("nan"), "Some Documentary")
    top = unrated.top(movie, 10, PLAIN)
    assert ids(unrated, top)[0] == 10 and top[0][1] == pytest.approx(1.0)
    assert all(score == pytest.approx(0.0) for _, score in top[1:])


def test_taste_weighs_in_when_asked(world) -> None:
    _, unrated = world
    movie = Described(("Romance",), 2017.0, "A Love Story")
    taste = np.zeros(len(unrated.movie_ids))
    taste[int(np.searchsorted(unrated.movie_ids, 3))] = 1.0
    without = ids(unrated, unrated.top(movie, 1, PLAIN, taste))
    settings = UnratedSettings(1.0, 5.0, 0.0, 5.0, 5)
    assert without == [4] and ids(unrated, unrated.top(movie, 1, settings, taste)) == [3]


def test_asking_for_more_than_there_are(world) -> None:
    _, unrated = world
    top = unrated.top(Described(("Action",), 2017.0, "x"), 100, PLAIN)
    assert len(top) == int(unrated.candidates(PLAIN).sum())


def test_the_settings_come_from_the_hybrid_s_parameters() -> None:
    settings = settings_from(DEFAULT_PARAMS)
    assert settings == UnratedSettings(
        DEFAULT_PARAMS["unrated_year_weight"],
        DEFAULT_PARAMS["unrated_year_scale"],
        DEFAULT_PARAMS["unrated_audience_weight"],
        DEFAULT_PARAMS["unrated_taste_weight"],
        DEFAULT_PARAMS["unrated_pool"],
    )
