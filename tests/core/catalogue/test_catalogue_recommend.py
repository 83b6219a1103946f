"""Catalogue movies in personal picks: the hybrid ranks them beside the dataset's movies, each
placed once from its content and cached by its row's content; new rows need no refit."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from reelpick.app import Reelpick
from reelpick.config import Config
from reelpick.registry import Registry
from reelpick.testing import small_dataset
from reelpick.types import Profile
from tests.support.fixtures import hybrid_table, write_config
from tests.support.tmdb_server import API_KEY, DUNE_PART_TWO, MADE_UP_ID

ROMANCE_ID = 1_299_777  # a romance only the stand-in knows, added mid-test


def fit_app(folder: Path, dataset, server) -> tuple[Config, Reelpick]:
    table = hybrid_table(catalogue=True)
    config = write_config(
        folder,
        f'[data]\ndir = "{folder / "data"}"\n[cache]\ndir = "{folder / "cache"}"\n'
        f'[posters]\napi_url = "{server.api_url}"\nrequests_per_second = 0\n'
        f'[plugins]\nenabled = ["cosine-cf", "hybrid"]\n[plugins.hybrid]\n{table}',
    )
    registry = Registry(config, load_entry_points=False)
    assert registry.fit(dataset) == {"cosine-cf": None, "hybrid": None}
    return config, Reelpick(config, dataset, registry)


@pytest.fixture(scope="module")
def fitted(ml_small, tmp_path_factory, server):
    folder = tmp_path_factory.mktemp("catalogue-picks")
    dataset = small_dataset(ml_small, 300)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMDB_API_KEY", API_KEY)
        config, app = fit_app(folder, dataset, server)
        ids = [app.add_from_tmdb(MADE_UP_ID), app.add_from_tmdb(DUNE_PART_TWO)]
        yield folder, dataset, app, ids
    app.catalogue.close()


def fan_of(app: Reelpick, genre: str, n: int = 8) -> Profile:
    """Five stars to the ``n`` most rated movies of ``genre``, one star to ``n`` without it."""
    dataset = app.dataset
    counts = dataset.rating_counts.sort_values(ascending=False, kind="stable")
    has = [int(m) for m in counts.index if genre in dataset.genres(int(m))]
    lacks = [int(m) for m in counts.index if genre not in dataset.genres(int(m))]
    return Profile({**dict.fromkeys(has[:n], 5.0), **dict.fromkeys(lacks[:n], 1.0)})


def rank_of(answer, movie_id: int) -> int:
    ids = [r.movie_id for r in answer]
    assert movie_id in ids, "the catalogue movie was not ranked"
    return ids.index(movie_id)


def test_catalogue_movies_are_ranked_by_the_hybrid_and_follow_taste(fitted):
    _, dataset, app, (atlas, dune) = fitted
    hybrid = app.registry.plugin_object("hybrid")
    everything = len(dataset.movies) + 10
    sci_fi = app.registry.ask_recommend("hybrid", fan_of(app, "Sci-Fi"), everything)
    romance = app.registry.ask_recommend("hybrid", fan_of(app, "Romance"), everything)
    assert sci_fi.ok and romance.ok, (sci_fi, romance)
    assert set(hybrid.catalogue.current().movie_ids) == {atlas, dune}
    # Dune: Part Two is Sci-Fi and Adventure: a Sci-Fi fan's list has it much higher.
    assert rank_of(sci_fi.neighbours, dune) < rank_of(romance.neighbours, dune)
    scores = [r.score for r in sci_fi.neighbours]
    assert scores == sorted(scores, reverse=True)
    # Its reasons are the fan's five-star Sci-Fi films, found by its own placed vector.
    liked = {m for m, stars in fan_of(app, "Sci-Fi").ratings.items() if stars == 5.0}
    because = next(r.because for r in sci_fi.neighbours if r.movie_id == dune)
    assert because and set(because) <= liked
    # Fused picks take them too (the registry accepts catalogue ids from recommenders).
    picks = app.picks(fan_of(app, "Sci-Fi"), everything)
    assert {atlas, dune} <= {p.movie_id for p in picks}
    # The CLI names them like dataset movies.
    assert app.movie_title(dune) == "Dune: Part Two (2024)"


def test_excluded_catalogue_movies_never_come_back(fitted):
    _, dataset, app, (atlas, dune) = fitted
    everything = len(dataset.movies) + 10
    answer = app.registry.ask_recommend("hybrid", fan_of(app, "Sci-Fi"), everything, {dune})
    ids = {r.movie_id for r in answer.neighbours}
    assert answer.ok and atlas in ids and dune not in ids


def test_a_new_row_is_placed_without_a_refit_and_placements_survive_a_restart(
    fitted, server, monkeypatch
):
    folder, dataset, app, (atlas, dune) = fitted
    hybrid = app.registry.plugin_object("hybrid")
    profile = fan_of(app, "Romance")
    app.registry.ask_recommend("hybrid", profile, 5)
    server.add_movie(
        ROMANCE_ID, "Harbour Letters", "Harbour Letters", "2025-06-01", [10749, 18],
        ["Ines Moreau"], ["Paul Kim"], "Two strangers exchange letters across a foggy harbour.",
    )  # fmt: skip
    monkeypatch.setenv("TMDB_API_KEY", API_KEY)
    romance = app.add_from_tmdb(ROMANCE_ID)
    everything = len(dataset.movies) + 10
    answer = app.registry.ask_recommend("hybrid", profile, everything)
    assert hybrid.catalogue.last_refresh == {"placed": 1, "kept": 2}
    assert romance in {r.movie_id for r in answer.neighbours}
    # Nothing changed: the catalogue file is not read again.
    hybrid.catalogue.last_refresh = {}
    app.registry.ask_recommend("hybrid", profile, 5)
    assert hybrid.catalogue.last_refresh == {}
    # A changed row (new keywords) is placed again; the others are kept.
    store = app.catalogue.store
    stored = store.get(ROMANCE_ID)
    store.put([replace(stored, keywords=(*stored.keywords, "lighthouse"))])
    app.registry.ask_recommend("hybrid", profile, 5)
    assert hybrid.catalogue.last_refresh == {"placed": 1, "kept": 2}
    now = app.registry.ask_recommend("hybrid", profile, everything)
    # A restart (fit again from the caches) reads every placement back.
    _, again = fit_app(folder, dataset, server)
    other = again.registry.plugin_object("hybrid")
    second = again.registry.ask_recommend("hybrid", profile, everything)
    assert other.catalogue.last_refresh == {"placed": 0, "kept": 3}
    assert [r.movie_id for r in second.neighbours] == [r.movie_id for r in now.neighbours]
    # ... and still places a catalogue movie for similar movies (the model read back too).
    assert [
        n.movie_id
        for n in again.registry.ask_new("hybrid", app.catalogue.new_movie(atlas), 5).neighbours
    ] == [
        n.movie_id
        for n in app.registry.ask_new("hybrid", app.catalogue.new_movie(atlas), 5).neighbours
    ]
    other.catalogue.close()
    again.catalogue.close()


def test_without_the_setting_the_catalogue_stays_out(fitted, tmp_path, server):
    _, dataset, app, (atlas, dune) = fitted
    hybrid = app.registry.plugin_object("hybrid")
    params = dict(hybrid.params)
    hybrid.params["catalogue"] = False
    saved, hybrid.catalogue = hybrid.catalogue, None
    try:
        answer = app.registry.ask_recommend("hybrid", fan_of(app, "Sci-Fi"), 10_000)
        assert answer.ok
        assert not {atlas, dune} & {r.movie_id for r in answer.neighbours}
        assert {r.movie_id for r in answer.neighbours} <= set(dataset.movies.index)
    finally:
        hybrid.params, hybrid.catalogue = params, saved
