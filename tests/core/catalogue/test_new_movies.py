"""Plugins answering for a catalogue movie (no ratings): the hybrid places it from its genres,
year and keywords without a refit; rating-only plugins say "no ratings yet"."""

from __future__ import annotations

import pytest

from reelpick.app import Reelpick
from reelpick.registry import Registry
from reelpick.testing import small_dataset
from tests.support.fixtures import hybrid_table, write_config
from tests.support.tmdb_server import API_KEY, DUNE_PART_TWO, MADE_UP_ID


@pytest.fixture(scope="module")
def fitted(ml_small, tmp_path_factory, server):
    """An app over 300 movies of ml-latest-small with hybrid and cosine-cf fitted, and the
    made-up 2025 movie added from the stand-in."""
    folder = tmp_path_factory.mktemp("new-movies")
    table = hybrid_table()
    config = write_config(
        folder,
        f'[data]\ndir = "{folder / "data"}"\n[cache]\ndir = "{folder / "cache"}"\n'
        f'[posters]\napi_url = "{server.api_url}"\nrequests_per_second = 0\n'
        f'[plugins]\nenabled = ["cosine-cf", "hybrid"]\n[plugins.hybrid]\n{table}',
    )
    dataset = small_dataset(ml_small, 300)
    registry = Registry(config, load_entry_points=False)
    assert registry.fit(dataset) == {"cosine-cf": None, "hybrid": None}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMDB_API_KEY", API_KEY)
        app = Reelpick(config, dataset, registry)
        movie_id = app.add_from_tmdb(MADE_UP_ID)
    yield app, movie_id
    app.catalogue.close()


def test_the_hybrid_places_a_catalogue_movie_and_cosine_says_no_ratings_yet(fitted):
    app, movie_id = fitted
    cosine, hybrid = app.similar(movie_id, 10)
    assert cosine.plugin == "cosine-cf" and cosine.no_answer is not None
    assert cosine.no_answer.startswith("no ratings yet")
    assert hybrid.ok and len(hybrid.neighbours) == 10, hybrid
    assert all(n.movie_id in app.dataset or n.movie_id in others(app) for n in hybrid.neighbours)
    assert movie_id not in {n.movie_id for n in hybrid.neighbours}
    scores = [n.score for n in hybrid.neighbours]
    assert scores == sorted(scores, reverse=True)
    # Placed by its genres (Drama, Sci-Fi): its neighbours have them more than movies at large.
    mine = {"Drama", "Sci-Fi"}

    def share(ids: list[int]) -> float:
        return sum(bool(mine & set(app.dataset.genres(m))) for m in ids) / len(ids)

    assert share([n.movie_id for n in hybrid.neighbours]) > share(list(app.dataset.movies.index))


def others(app: Reelpick) -> set[int]:
    """The catalogue's movies."""
    return {n.movie_id for n in app.registry.plugin_object("hybrid").others.reader.movies()}


def test_a_catalogue_movie_s_similar_movies_include_other_catalogue_movies(fitted):
    """A new film's neighbours are often other new films: once Dune: Part Two (2024, Sci-Fi)
    is in the catalogue, it is the 2025 Drama/Sci-Fi film's most similar movie, with no refit
    and no restart; the dataset's movies follow."""
    app, movie_id = fitted
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMDB_API_KEY", API_KEY)
        dune = app.add_from_tmdb(DUNE_PART_TWO)
    (hybrid,) = app.similar(movie_id, 10, ["hybrid"])
    assert hybrid.ok, hybrid
    ids = [n.movie_id for n in hybrid.neighbours]
    assert ids[0] == dune and all(m in app.dataset for m in ids[1:]), ids
    (back,) = app.similar(dune, 10, ["hybrid"])
    assert back.neighbours[0].movie_id == movie_id


def test_a_catalogue_movie_with_nothing_to_go_on_is_a_clear_no_answer(fitted):
    app, _ = fitted
    from reelpick.types import NewMovie

    answer = app.registry.ask_new("hybrid", NewMovie(1_000_000_001, "Blank", 2025, ()), 5)
    assert answer.no_answer == "no genres or keywords to place this movie by"


def test_a_stored_catalogue_movie_is_found_by_local_search_and_drawn_in_a_sheet(fitted):
    """``Reelpick.search`` (inline queries, movie-night titles, the bot without a TMDB key)
    finds stored catalogue movies without asking TMDB; ``reelpick show`` draws one."""
    from reelpick.render.contact_sheet import contact_sheet

    app, movie_id = fitted
    found = app.search("saltwater atlas")
    assert found.confident and found.candidates[0].movie_id == movie_id
    sheet = contact_sheet(app, movie_id, 3, ["hybrid"])
    assert sheet.width > 3 * 100 and sheet.height > 100


def test_picks_for_a_profile_that_rated_a_catalogue_movie(fitted):
    """A night's winner from the catalogue, rated afterwards, sits in the profile beside
    dataset movies: picks still come, and never the rated movies themselves."""
    from reelpick.types import Profile

    app, movie_id = fitted
    liked = [int(m) for m in app.dataset.movies.index[:5]]
    profile = Profile(ratings={movie_id: 5.0, **{m: 4.5 for m in liked}})
    picks = app.picks(profile, 10)
    assert len(picks) == 10
    assert not {movie_id, *liked} & {p.movie_id for p in picks}


def test_exports_name_a_catalogue_movie_and_import_back_whole(fitted, server, monkeypatch):
    """/myratings and /export write a catalogue movie's title, year and TMDB id (Letterboxd
    matches by those); the file imports back with the movie, made-up ids refused."""
    from reelpick.catalogue import CATALOGUE_ID_BASE
    from reelpick.profiles import Entry, app_movies, export_csv, export_letterboxd, read_import

    app, movie_id = fitted
    heat = int(app.dataset.movies.index[5])
    entries = [Entry(movie_id, "rating", 4.5, 1_765_000_000.0), Entry(heat, "seen", None, 1.0)]
    plain = export_csv(entries, app_movies(app)).decode().splitlines()
    assert plain[1].startswith(f"{heat},{app.dataset.movies.at[heat, 'name']},")
    assert plain[2].startswith(f"{movie_id},Saltwater Atlas,2025,rating,4.5,")
    letterboxd = export_letterboxd(entries, app_movies(app)).decode().splitlines()
    tmdb_id = movie_id - CATALOGUE_ID_BASE
    # The stand-in's IMDb id for it: tt3 followed by the TMDB id's last six digits.
    assert letterboxd[2].startswith(f"Saltwater Atlas,2025,tt30299001,{tmdb_id},4.5,")
    for data in (plain, letterboxd):
        parsed = read_import("\n".join(data).encode(), app.movie_matcher(), filename="mine.csv")
        assert {(r.movie_id, r.kind, r.stars) for r in parsed.matched} == {
            (movie_id, "rating", 4.5),
            (heat, "seen", None),
        }
    # Ids the catalogue does not hold are refused without a single request to TMDB (a
    # file of made-up ids must not spend the key's rate limit), even with a key set.
    monkeypatch.setenv("TMDB_API_KEY", API_KEY)
    asked = len(server.log)
    forged = f"movieId,rating\n{CATALOGUE_ID_BASE + 424242},4\n{CATALOGUE_ID_BASE * 9},4\n"
    parsed = read_import(forged.encode(), app.movie_matcher(), filename="forged.csv")
    assert parsed.matched == [] and len(parsed.unmatched) == 2
    assert len(server.log) == asked


def test_a_watchlist_export_imports_back_with_its_catalogue_movie(fitted):
    """The exported watchlist names a catalogue movie by title and by movieId; the movieId
    brings it back (its title alone is not in the dataset)."""
    from reelpick.watchlist import WatchlistEntry, app_names, export_watchlist, read_watchlist

    app, movie_id = fitted
    heat = int(app.dataset.movies.index[5])
    data = export_watchlist(
        [WatchlistEntry(movie_id, 1_765_000_000.0), WatchlistEntry(heat, 1_765_000_100.0)],
        app_names(app),
    )
    assert b"Saltwater Atlas,2025," in data
    parsed = read_watchlist(data, app.movie_matcher(), filename="watchlist-reelpick.csv")
    assert [m for m, _ in parsed.matched] == [movie_id, heat], parsed.unmatched


def test_calibrated_picks_count_a_catalogue_movie_by_its_own_genres(fitted):
    """For a Drama/Sci-Fi profile, calibration lifts the one Drama/Sci-Fi film in a list of
    comedies: the catalogue film (a stored row) counts with its genres, not as genreless."""
    from reelpick.types import Neighbour, PluginAnswer, Profile

    app, movie_id = fitted
    genres = app.dataset.movies["genres"]
    comedies = [int(m) for m, g in genres.items() if g == ("Comedy",)][:9]
    scifi = [int(m) for m, g in genres.items() if {"Drama", "Sci-Fi"} <= set(g)][:4]
    assert len(comedies) == 9 and len(scifi) == 4
    ranked = [*comedies[:5], movie_id, *comedies[5:]]
    answer = PluginAnswer(
        "hybrid", "Hybrid", [Neighbour(m, 1.0 - i / 20) for i, m in enumerate(ranked)]
    )
    profile = Profile(ratings=dict.fromkeys(scifi, 5.0))
    settings = app.settings.picks.calibrated(0.9)
    plain = app.picks(profile, 3, answers=[answer], settings=settings.calibrated(0.0))
    assert movie_id not in [p.movie_id for p in plain]
    calibrated = app.picks(profile, 3, answers=[answer], settings=settings)
    assert movie_id in [p.movie_id for p in calibrated]


def test_search_finds_a_film_another_process_stored(fitted):
    """A `catalogue sync` (its own process, its own connection) stores a film while the bot
    runs: the bot's next local search finds it, without a restart or /reload."""
    from reelpick.catalogue.store import CatalogueStore, StoredMovie

    app, _ = fitted
    assert not app.search("Lantern Meridian").confident  # the index is built by now
    other = CatalogueStore(app.catalogue.path)
    try:
        other.put([StoredMovie.described(1_288_001, "Lantern Meridian", 2026, ("Drama",))])
    finally:
        other.close()
    found = app.search("Lantern Meridian")
    assert found.confident and found.candidates[0].movie_id == 1_000_000_000 + 1_288_001


def test_many_films_from_another_process_rebuild_the_title_index(fitted, monkeypatch):
    """Past the small index's size the whole title index is built again, and finds them."""
    from reelpick.catalogue import service
    from reelpick.catalogue.store import CatalogueStore, StoredMovie

    app, _ = fitted
    app.search("warm")
    monkeypatch.setattr(service, "RECENT_TITLES", 1)
    other = CatalogueStore(app.catalogue.path)
    try:
        other.put(
            [StoredMovie.described(1_288_101 + i, f"Cobalt Tide {i}", 2026, ()) for i in (0, 1)]
        )
    finally:
        other.close()
    before = app.catalogue.titles
    found = app.search("Cobalt Tide 1")
    assert app.catalogue.titles is not before  # built again, not appended to
    assert found.candidates[0].movie_id == 1_000_000_000 + 1_288_102


def test_rows_are_stamped_in_write_order_even_on_one_clock_tick(tmp_path, monkeypatch):
    """Two writers' rows never share a stamp nor go back in time: a reader that asks for
    what was written after the last stamp it saw gets the later rows."""
    from reelpick.catalogue import store as store_module
    from reelpick.catalogue.store import CatalogueStore, StoredMovie

    monkeypatch.setattr(store_module.time, "time", lambda: 1_800_000_000.0)
    first, second = (CatalogueStore(tmp_path / "catalogue.sqlite3") for _ in range(2))
    try:
        first.put([StoredMovie.described(1, "One", 2025, ())])
        seen = first.signature()
        second.put([StoredMovie.described(2, "Two", 2025, ())])
        assert [m.tmdb_id for m in first.written_after(seen[1])] == [2]
        assert first.signature()[1] > seen[1]
    finally:
        first.close()
        second.close()
