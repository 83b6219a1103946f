"""The catalogue API over the TMDB stand-in on 127.0.0.1: lookups that weigh local titles
against TMDB's, adding a TMDB-only movie without a refit, cards, providers, and the app without
a TMDB key."""

from __future__ import annotations

import pytest

from reelpick.catalogue import (
    CATALOGUE_ID_BASE,
    JUSTWATCH_ATTRIBUTION,
    MovieCard,
    WhereToWatch,
    catalogue_id,
)
from reelpick.catalogue.genres import dataset_genres
from reelpick.errors import DataError
from tests.support.tmdb_server import DUNE_PART_TWO, MADE_UP_ID, PROVIDERS

CHE_PART_TWO = 64501  # ml-latest-small's "Che: Part Two (2008)"
TOY_STORY = 1  # tmdb 862


def test_a_better_tmdb_title_is_not_hidden_by_a_partial_local_match(make_app):
    app = make_app()
    found = app.lookup("Dune Part Two")
    # The dataset's closest title is Che: Part Two, but it is a partial match only.
    assert found.local.candidates[0].movie_id == CHE_PART_TWO
    assert found.prefer_online and found.movie_id is None
    assert found.online_best is not None and found.online_best.tmdb_id == DUNE_PART_TWO
    assert found.online[0].title == "Dune: Part Two" and found.online[0].year == 2024


def test_an_exact_local_title_answers_without_asking_tmdb(make_app, server):
    app = make_app()
    server.reset_counts()
    found = app.lookup("The Matrix")
    assert app.movie_title(found.movie_id) == "The Matrix (1999)"
    assert found.online == () and server.count("search") == 0


def test_two_exact_local_titles_and_a_tmdb_one_are_all_offered(make_app):
    found = make_app().lookup("Dune")
    assert found.movie_id is None and not found.prefer_online
    assert {c.movie_id for c in found.local.candidates[:2]} == {2021, 7842}
    # TMDB's "Dune (1984)" is the dataset's movie: offered under its dataset id.
    by_tmdb = {c.tmdb_id: c for c in found.online}
    assert by_tmdb[841].movie_id == 2021 and by_tmdb[DUNE_PART_TWO].movie_id is None


def test_added_movie_is_answered_at_once_and_survives_a_restart(make_app, tmp_path):
    app = make_app(folder=tmp_path / "one")
    assert app.lookup("Saltwater Atlas").online_best.tmdb_id == MADE_UP_ID
    movie_id = app.add_from_tmdb(MADE_UP_ID)
    assert movie_id == CATALOGUE_ID_BASE + MADE_UP_ID == catalogue_id(MADE_UP_ID)
    assert app.add_from_tmdb(MADE_UP_ID) == movie_id  # stored once
    assert app.lookup("Saltwater Atlas").movie_id == movie_id
    assert app.lookup("salzwasser atlas").movie_id == movie_id  # an alternative title
    assert app.movie_title(movie_id) == "Saltwater Atlas (2025)"
    assert app.catalogue.path.parent == tmp_path / "one" / "data"  # data, not cache or state
    # A restart without a key: the stored movie is still found and carded from the file.
    again = make_app(key=False, folder=tmp_path / "one")
    assert again.lookup("Saltwater Atlas").movie_id == movie_id
    card = again.card(movie_id)
    assert card.source == "catalogue" and card.directors == ("Mira Okafor",)
    assert card.genres == ("Drama", "Sci-Fi") and card.where_to_watch is None


def test_a_dataset_movie_added_from_tmdb_keeps_its_dataset_id(make_app):
    app = make_app()
    assert app.add_from_tmdb(862) == TOY_STORY
    assert len(app.catalogue.store) == 0


def test_card_of_a_catalogue_movie_in_a_language_and_region(make_app, server):
    app = make_app()
    movie_id = app.add_from_tmdb(MADE_UP_ID)
    card = app.card(movie_id, region="de", language="de-DE")
    body = card.to_json()
    assert set(body) == {"movie", "where_to_watch"}
    assert set(body["movie"]) == {
        "id", "title", "year", "tmdb_id", "overview", "runtime", "genres", "directors",
        "cast", "trailer_url", "source",
    }  # fmt: skip
    assert body["movie"]["title"] == "Salzwasser-Atlas"
    assert body["movie"]["overview"].startswith("(de) A cartographer")
    assert body["movie"]["trailer_url"] == f"https://www.youtube.com/watch?v=trailer{MADE_UP_ID}"
    assert body["movie"]["cast"][:2] == ["Lena Vasquez", "Tomas Reyes"]  # billing order
    watch = card.where_to_watch
    assert watch is not None and watch.region == "DE"
    assert watch.flatrate == (PROVIDERS["DE"][MADE_UP_ID % 3],)
    assert watch.buy == ("Apple TV", "Google Play Movies")
    assert watch.attribution == JUSTWATCH_ATTRIBUTION
    assert card.poster_url and card.poster_url.endswith(".jpg")


def test_card_answers_are_cached(make_app, server):
    app = make_app()
    app.card(TOY_STORY)
    server.reset_counts()
    again = app.card(TOY_STORY)
    assert server.count("movie") == 0 and server.count("configuration") == 0
    assert again.source == "dataset" and again.title == "Toy Story" and again.year == 1995
    assert again.rating == 7.0 and again.runtime == 100


def test_without_a_key_everything_answers_from_the_dataset(make_app, server):
    app = make_app(key=False)
    server.reset_counts()
    assert not app.tmdb_available
    assert app.online_candidates("Dune Part Two") == []
    assert app.providers("US") == []
    found = app.lookup("Dune Part Two")
    assert found.online == () and not found.prefer_online
    assert found.local.candidates[0].movie_id == CHE_PART_TWO
    card = app.card(TOY_STORY)
    assert card == MovieCard(
        id=1,
        title="Toy Story",
        year=1995,
        tmdb_id=862,
        imdb_id=114709,
        overview=None,
        runtime=None,
        genres=("Adventure", "Animation", "Children", "Comedy", "Fantasy"),
        directors=(),
        cast=(),
        rating=None,
        trailer_url=None,
        poster_url=None,
        source="dataset",
        where_to_watch=None,
    )
    assert sum(server.hits.values()) == 0


def test_providers_of_a_region_in_tmdbs_order(make_app):
    assert make_app().providers("de") == PROVIDERS["DE"]


def test_tmdb_genres_map_to_the_datasets_names():
    genres = [{"id": 878, "name": "Science Fiction"}, {"id": 10751, "name": "Familie"}]
    assert dataset_genres([*genres, {"id": 36, "name": "History"}]) == ("Sci-Fi", "Children")
    assert dataset_genres([18, 10402, 10770]) == ("Drama", "Musical")


def test_where_to_watch_json_shape():
    watch = WhereToWatch("US", None, ("Netflix",), (), ("Apple TV",))
    assert watch.to_json() == {
        "region": "US",
        "link": None,
        "flatrate": ["Netflix"],
        "rent": [],
        "buy": ["Apple TV"],
    }


def test_a_catalogue_id_missing_from_the_file_is_fetched_again(make_app, tmp_path):
    app = make_app(folder=tmp_path / "a")
    movie_id = catalogue_id(MADE_UP_ID)
    # Another installation's id (a watchlist restored elsewhere): its catalogue is empty.
    assert app.movie_title(movie_id) == "Saltwater Atlas (2025)"
    assert MADE_UP_ID in app.catalogue.store
    offline = make_app(key=False, folder=tmp_path / "b")
    with pytest.raises(DataError, match="neither in the dataset nor in the catalogue"):
        offline.movie_title(movie_id)


def test_a_tmdb_outage_leaves_local_answers_and_dataset_cards(make_app, server):
    app = make_app(text="[tmdb]\nsearch_ttl_hours = 0.0\n")
    server.fault("server_error")  # every API call answers 500, retries included
    try:
        found = app.lookup("Dune Part Two")
        assert found.online == () and found.local.candidates[0].movie_id == CHE_PART_TWO
        card = app.card(TOY_STORY)
        assert card.title == "Toy Story" and card.genres[0] == "Adventure"
        assert card.where_to_watch is None and card.overview is None
    finally:
        server.clear()


def test_a_catalogue_movie_in_an_album_has_its_own_poster(make_app, monkeypatch):
    """Similar movies and picks may be catalogue movies: their album posters are TMDB's (by
    the row's poster path), or, with none to be had, a stand-in with the film's title."""
    from reelpick import PosterStore
    from reelpick.posters.placeholder import render_placeholder
    from reelpick.posters.store import PosterSource

    app = make_app()
    atlas, dune = app.add_from_tmdb(MADE_UP_ID), app.add_from_tmdb(DUNE_PART_TWO)
    with PosterStore(app.config, app.dataset) as posters:
        poster = posters.get(atlas)
        assert poster.source == PosterSource.TMDB and not poster.placeholder
        assert posters.get(atlas).data == poster.data  # the second time from the cache
    monkeypatch.delenv("TMDB_API_KEY")  # nothing fetched for Dune yet, and now no key
    with PosterStore(app.config, app.dataset) as posters:
        stand_in = posters.get(dune)
        assert stand_in.placeholder
        assert stand_in.data != render_placeholder(f"Movie {dune}", None, ())
        assert stand_in.data == render_placeholder(
            "Dune: Part Two (2024)", None, ("Sci-Fi", "Adventure")
        )
        assert posters.get(CATALOGUE_ID_BASE + 5).placeholder  # no such row: still a poster
