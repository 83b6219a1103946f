"""Similar movies of movies without ratings: the score's terms, the candidates (the dataset's
and the catalogue's), the audience model, title words, and the settings as the hybrid reads
them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reelpick import CatalogueReader, NewMovie
from reelpick.catalogue import catalogue_id
from reelpick.catalogue.store import CatalogueStore, StoredMovie
from reelpick.data import Dataset, load_dataset
from reelpick.plugins._hybrid_params import DEFAULT_PARAMS
from reelpick.plugins._hybrid_unrated import (
    CatalogueCandidates,
    Described,
    UnratedNeighbours,
    UnratedSettings,
    WordWeights,
    settings_from,
    title_words,
)
from tests.support.fixtures import write_config

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
OLD_SPACE_WAR_TMDB = 9003
PLAIN = UnratedSettings(
    year_weight=1.0, year_scale=5.0, audience_weight=0.0, title_weight=0.0, taste_weight=0.0, pool=5
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
    # Only "Old Space War" has a TMDB id (a catalogue row with it is that film).
    pd.DataFrame([{"movieId": 3, "imdbId": 3, "tmdbId": OLD_SPACE_WAR_TMDB}]).to_csv(
        folder / "links.csv", index=False
    )
    return load_dataset(folder)


@pytest.fixture
def world(tmp_path: Path) -> tuple[Dataset, UnratedNeighbours]:
    dataset = write_world(tmp_path / "data")
    return dataset, UnratedNeighbours(dataset)


def ids(top: list[tuple[int, float]]) -> list[int]:
    return [movie_id for movie_id, _ in top]


def at(unrated: UnratedNeighbours, movie_id: int) -> int:
    return int(np.searchsorted(unrated.dataset.movie_ids, movie_id))


def test_genres_first_then_the_release_period(world) -> None:
    _, unrated = world
    top = ids(unrated.top(unrated.describe(1), 10, PLAIN, exclude={1}))
    # Same genres, nearest years first; the unrated new film is a candidate, the movie
    # with 2 ratings (under the pool of 5) is not, nor is the query itself.
    assert top[:4] == [2, 6, 7, 3]
    assert 5 not in top and 1 not in top
    # The other candidates share no genre: ranked by the year alone, below every movie that
    # shares one; rated movies under the pool (8, 9) never appear.
    assert set(top[4:]) == {4, 10, 11}


def test_the_audience_breaks_ties_towards_the_movies_people_watch(world) -> None:
    _, unrated = world
    loud, quiet = at(unrated, 6), at(unrated, 7)
    movie = Described(("Action", "Sci-Fi"), 2015.0, "A 2015 Space War")
    for weight, first in ((0.0, None), (0.5, 6)):
        settings = UnratedSettings(1.0, 5.0, weight, 0.0, 0.0, 5)
        scores = unrated.scores(movie, settings)
        if first is None:
            assert scores[loud] == pytest.approx(scores[quiet])
        else:
            assert scores[loud] > scores[quiet]


def test_an_unrated_movie_s_audience_is_predicted_from_what_it_is(world) -> None:
    _, unrated = world
    audience = {m: unrated.dataset.audience[at(unrated, m)] for m in MOVIES}
    # Measured where rated: more ratings, a larger audience.
    assert audience[6] > audience[7] > audience[8]
    # Predicted elsewhere: a new space war draws more people than a new documentary.
    assert audience[2] > audience[10]


def test_a_movie_without_a_year_is_compared_by_genres_alone(world) -> None:
    _, unrated = world
    movie = Described(("Documentary",), float("nan"), "Some Documentary")
    top = unrated.top(movie, 10, PLAIN)
    assert ids(top)[0] == 10 and top[0][1] == pytest.approx(1.0)
    assert all(score == pytest.approx(0.0) for _, score in top[1:])


def test_taste_weighs_in_when_asked(world) -> None:
    _, unrated = world
    movie = Described(("Romance",), 2017.0, "A Love Story")
    taste = np.zeros(len(unrated.dataset.movie_ids))
    taste[at(unrated, 3)] = 1.0
    without = ids(unrated.top(movie, 1, PLAIN, taste))
    settings = UnratedSettings(1.0, 5.0, 0.0, 0.0, 5.0, 5)
    assert without == [4] and ids(unrated.top(movie, 1, settings, taste)) == [3]


def test_asking_for_more_than_there_are(world) -> None:
    _, unrated = world
    top = unrated.top(Described(("Action",), 2017.0, "x"), 100, PLAIN)
    # Rated 5 times or more (3, 4, 6, 7) or not rated at all (1, 2, 10, and 11, which has a
    # year if no genre); 5, 8 and 9 are rated, but too rarely to be candidates.
    assert sorted(ids(top)) == [1, 2, 3, 4, 6, 7, 10, 11]


def test_the_settings_come_from_the_hybrid_s_parameters() -> None:
    settings = settings_from(DEFAULT_PARAMS)
    assert settings == UnratedSettings(
        DEFAULT_PARAMS["unrated_year_weight"],
        DEFAULT_PARAMS["unrated_year_scale"],
        DEFAULT_PARAMS["unrated_audience_weight"],
        DEFAULT_PARAMS["unrated_title_weight"],
        DEFAULT_PARAMS["unrated_taste_weight"],
        DEFAULT_PARAMS["unrated_pool"],
    )


def test_title_words_leave_out_articles_numbers_and_sequel_markers() -> None:
    assert title_words("Star Wars: Episode IV - A New Hope") == {"star", "wars", "new", "hope"}
    assert title_words("Matrix, The") == {"matrix"}
    assert title_words("Amélie (Fabuleux destin d'Amélie Poulain, Le)") == {
        "amelie",
        "fabuleux",
        "destin",
        "poulain",
    }
    assert title_words("Léon: The Professional") == title_words("Leon: The Professional")
    assert title_words("Die Hard") == {"die", "hard"} and title_words("It") == {"it"}
    assert title_words("2046") == set() and title_words("Dune: Part Two (2024)") == {"dune"}


def test_the_words_of_the_title_weigh_in_when_asked(world) -> None:
    _, unrated = world
    movie = Described(("Action", "Sci-Fi"), 2017.0, "Last Night in Paris")
    assert ids(unrated.top(movie, 1, PLAIN)) == [1]  # genres and year alone: the space war
    settings = UnratedSettings(1.0, 5.0, 0.0, 3.0, 0.0, 5)
    assert ids(unrated.top(movie, 1, settings)) == [4]  # "Love in Paris" shares a rare word
    # The rarer word weighs more; words no title has weigh as much as the rarest.
    words = WordWeights(["Space War", "Space Love", "Space Dogs"])
    assert words.weight("war") > words.weight("space") and words.weight("unseen") > 0
    assert words.query("the 2") == {}


def test_catalogue_movies_are_candidates_beside_the_dataset_s(world) -> None:
    _, unrated = world
    catalogue = unrated.catalogue(
        [
            NewMovie(2_000_000_001, "Space War Returns (2025)", 2025, ("Action", "Sci-Fi")),
            NewMovie(2_000_000_002, "Harbour Lights (2025)", 2025, ("Romance",)),
            NewMovie(2_000_000_003, "Untitled (2026)", None, ()),  # nothing to compare by
        ]
    )
    # No ratings: a predicted audience, and the action film draws more than the romance.
    assert (catalogue.counts == 0).all() and catalogue.audience[0] > catalogue.audience[1]
    query = Described(("Action", "Sci-Fi"), 2025.0, "Space War Returns (2025)")
    top = ids(unrated.top(query, 20, PLAIN, exclude={2_000_000_001}, catalogue=[(catalogue, None)]))
    # The same genres and years close by come first: dataset films and the other catalogue
    # films alike; never the movie itself, nor a movie with nothing to compare it by.
    assert top[:2] == [1, 2] and set(top[2:4]) == {6, 7} and 2_000_000_002 in top
    assert 2_000_000_001 not in top and 2_000_000_003 not in top
    romance = Described(("Romance",), 2025.0, "Paris Nights")
    assert ids(unrated.top(romance, 1, PLAIN, catalogue=[(catalogue, None)])) == [2_000_000_002]


def test_the_catalogue_is_described_again_only_where_it_changed(world, tmp_path: Path) -> None:
    """Rows added or refreshed since the last look are described alone, in a part of their
    own; a refreshed row's old copy is no longer offered; the whole catalogue is read again
    only after many parts. A catalogue row of a film the dataset has is never a candidate."""
    _, unrated = world
    config = write_config(tmp_path, f'[catalogue]\ndb = "{tmp_path / "catalogue.sqlite3"}"\n')
    others = CatalogueCandidates(CatalogueReader(config), unrated)
    assert others.current() == []  # no catalogue yet
    store = CatalogueStore(tmp_path / "catalogue.sqlite3")
    try:
        store.put([StoredMovie.described(501, "Harbour Lights", 2025, ("Romance",))])
        store.put(
            [StoredMovie.described(OLD_SPACE_WAR_TMDB, "Old Space War", 1980, ("Action", "Sci-Fi"))]
        )
        (first,) = others.current()
        assert list(first.movie_ids) == [catalogue_id(501)]  # the dataset's film left out
        store.put([StoredMovie.described(502, "Space War Returns", 2025, ("Action", "Sci-Fi"))])
        store.put(
            [StoredMovie.described(501, "Harbour Lights", 2025, ("Documentary",))]
        )  # refreshed
        parts = others.current()
        assert len(parts) == 2 and parts[0] is first
        offered = {int(m) for p in parts for m in p.movie_ids[p.eligible(0)]}
        assert offered == {catalogue_id(501), catalogue_id(502)}
        drama = Described(("Documentary",), 2025.0, "Storm Lights")
        top = unrated.top(drama, 1, PLAIN, catalogue=[(p, None) for p in parts])
        assert ids(top) == [catalogue_id(501)] and top[0][1] == pytest.approx(2.0)
        assert others.current() == parts  # nothing changed: nothing read
        counts = []
        for n in range(CatalogueCandidates.MAX_PARTS):
            store.put([StoredMovie.described(600 + n, f"Film {n}", 2024, ("Drama",))])
            counts.append(len(others.current()))
        # One part more per change, up to the most; then the whole catalogue in one again.
        assert counts == [*range(3, CatalogueCandidates.MAX_PARTS + 1), 1, 2]
        offered = [int(m) for p in others.current() for m in p.movie_ids[p.eligible(0)]]
        assert sorted(offered) == sorted(
            catalogue_id(t) for t in store.ids() if t != OLD_SPACE_WAR_TMDB
        )
    finally:
        others.close()
        store.close()


def test_a_catalogue_movie_is_never_similar_to_itself_or_its_dataset_twin(world) -> None:
    _, unrated = world
    twin = NewMovie(catalogue_id(OLD_SPACE_WAR_TMDB), "Old Space War", 1980, ("Action",))
    twin = dataclasses.replace(twin, tmdb_id=OLD_SPACE_WAR_TMDB)
    assert unrated.itself(twin) == {twin.movie_id, 3}
    top = ids(unrated.top(Described.of(twin), 20, PLAIN, exclude=unrated.itself(twin)))
    assert 3 not in top and twin.movie_id not in top
    alone = NewMovie(2_000_000_009, "Alone", 2025, ("Action",), tmdb_id=1)
    assert unrated.itself(alone) == {2_000_000_009}
