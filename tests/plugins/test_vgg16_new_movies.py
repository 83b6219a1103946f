"""Posters of catalogue movies: vgg16-poster fetches one on first sight (TMDB stand-in, real
posters), computes its VGG16 features once into the feature cache and answers the nearest
indexed posters; the hybrid places the movie with those features too."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from reelpick.app import Reelpick
from reelpick.plugins.vgg16_poster import FEATURES_DIR, FeatureStore
from reelpick.registry import Registry
from reelpick.testing import small_dataset
from reelpick.types import NewMovie
from tests.support.fixtures import ML_SMALL, POSTERS, VGG16_WEIGHTS, write_config
from tests.support.tmdb_server import API_KEY, DUNE_PART_TWO, MADE_UP_ID, TMDBServer

pytestmark = pytest.mark.slow  # TensorFlow: VGG16 over 10 posters and two new ones

MATRIX = 2571  # Saltwater Atlas, the stand-in's made-up 2025 movie, wears The Matrix's poster
DUNE_1984 = 2021  # Dune: Part Two wears Dune (1984)'s poster, which is not indexed here
HYBRID = {
    "sgd_factors": 8,
    "sgd_epochs": 8,
    "sgd_ensemble": 1,
    "tag_terms": 50,
    "neighbours": 10,
    "similar_min_ratings": 0,
    "posters": True,
    "catalogue": True,
}


@pytest.fixture(scope="module")
def setup(require_shared, ml_small, tmp_path_factory):
    """vgg16-poster and the hybrid fitted on 300 movies, 10 of them with posters (The Matrix
    among them, Dune (1984) not), and both stand-in movies added to the catalogue."""
    require_shared(VGG16_WEIGHTS, POSTERS)
    root = tmp_path_factory.mktemp("vgg16-new")
    ids = sorted(int(p.stem) for p in POSTERS.glob("*.jpg"))
    indexed = [MATRIX, *[m for m in ids if m not in (MATRIX, DUNE_1984)][:9]]
    folder = root / "posters"
    folder.mkdir()
    for movie_id in indexed:
        (folder / f"{movie_id}.jpg").symlink_to(POSTERS / f"{movie_id}.jpg")
    dataset = small_dataset(ml_small, 300, keep=[*indexed, DUNE_1984])
    table = "".join(f"{k} = {json.dumps(v)}\n" for k, v in HYBRID.items())
    with TMDBServer() as server, pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("REELPICK_")]:
            patch.delenv(name)
        patch.setenv("TMDB_API_KEY", API_KEY)
        config = write_config(
            root,
            # The source, for the image worker's own Reelpick (ml-latest-small, the same
            # 10 posters indexed): the tests here fit on 300 of its movies.
            f'[data]\nsource = "{ML_SMALL}"\ndir = "{root / "data"}"\n'
            f'[cache]\ndir = "{root / "cache"}"\n'
            f'[posters]\ndir = "{folder}"\napi_url = "{server.api_url}"\n'
            f"requests_per_second = 0\n"
            f'[plugins]\nenabled = ["vgg16-poster", "hybrid", "cosine-cf"]\n'
            f'[plugins.vgg16-poster]\nweights = "{VGG16_WEIGHTS}"\n[plugins.hybrid]\n{table}',
        )
        registry = Registry(config, load_entry_points=False)
        errors = registry.fit(dataset)
        assert set(errors.values()) == {None}, errors
        app = Reelpick(config, dataset, registry)
        atlas, dune = app.add_from_tmdb(MADE_UP_ID), app.add_from_tmdb(DUNE_PART_TWO)
        yield app, server, config, atlas, dune
        app.catalogue.close()


@pytest.fixture(autouse=True)
def _tmdb_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key stays set in the tests (each test's environment starts without it)."""
    monkeypatch.setenv("TMDB_API_KEY", API_KEY)


def test_a_catalogue_poster_finds_the_same_poster_without_computing_it_again(setup):
    app, _, _, atlas, _ = setup
    vgg = app.registry.plugin_object("vgg16-poster")
    before = vgg.new_computed
    answers = {a.plugin: a for a in app.similar(atlas, 5)}
    poster = answers["vgg16-poster"]
    assert poster.ok, poster
    # The stand-in serves The Matrix's very bytes: same content hash, same stored features.
    assert poster.neighbours[0].movie_id == MATRIX
    assert poster.neighbours[0].score > 0.999
    assert all(n.score < 0.999 for n in poster.neighbours[1:])
    assert vgg.new_computed == before
    assert answers["hybrid"].ok, answers["hybrid"]
    assert answers["cosine-cf"].no_answer.startswith("no ratings yet")


def test_a_new_poster_is_computed_once_and_a_damaged_record_is_a_miss(setup):
    app, server, config, _, dune = setup
    vgg = app.registry.plugin_object("vgg16-poster")
    movie = app.catalogue.new_movie(dune)
    before, images = vgg.new_computed, server.count("image")
    first = app.registry.ask_new("vgg16-poster", movie, 5)
    assert first.ok and len(first.neighbours) == 5, first
    assert vgg.new_computed == before + 1
    assert server.count("image") == images + 1
    # Cached: the poster (poster store) and its features (feature cache).
    again = app.registry.ask_new("vgg16-poster", movie, 5)
    assert again.neighbours == first.neighbours
    assert vgg.new_computed == before + 1 and server.count("image") == images + 1
    spec = vgg._fit_inputs[0]
    data = (POSTERS / f"{DUNE_1984}.jpg").read_bytes()
    found = FeatureStore(config.cache_dir / FEATURES_DIR, spec).record(
        hashlib.sha256(data).hexdigest()
    )
    assert found is not None
    pack, offset, length = found
    blob = bytearray(pack.read_bytes())
    blob[offset + 40 : offset + 56] = b"\x00" * 16
    pack.write_bytes(bytes(blob))
    damaged = app.registry.ask_new("vgg16-poster", movie, 5)
    assert vgg.new_computed == before + 2
    assert [n.movie_id for n in damaged.neighbours] == [n.movie_id for n in first.neighbours]
    np.testing.assert_allclose(
        [n.score for n in damaged.neighbours], [n.score for n in first.neighbours], atol=1e-3
    )


def test_the_hybrid_places_a_new_movie_with_its_poster(setup):
    app, _, _, atlas, _ = setup
    hybrid = app.registry.plugin_object("hybrid")
    movie = app.catalogue.new_movie(atlas)
    app.registry.ask_new("vgg16-poster", movie, 5)  # its poster is fetched by now
    assert app.registry.ask_new("hybrid", movie, 10).ok
    # Picks place it with its poster (read from the caches, nothing fetched) ...
    placed = hybrid.catalogue.current()
    at = int(np.searchsorted(placed.movie_ids, atlas))
    assert placed.movie_ids[at] == atlas and placed.posters[at]
    # ... elsewhere than the same content under an id with no poster anywhere.
    blind = NewMovie(atlas + 1, movie.title, movie.year, movie.genres, movie.keywords)
    assert app.registry.ask_new("hybrid", blind, 10).ok
    _, without, _ = hybrid.catalogue.place([blind], [None])
    assert not np.allclose(placed.item_vec[at], without[0])


def test_no_poster_to_go_on_is_a_clear_no_answer(setup):
    app, _, _, atlas, _ = setup
    movie = replace(app.catalogue.new_movie(atlas), movie_id=atlas + 2)
    movie = replace(movie, poster_path=None, tmdb_id=None)
    answer = app.registry.ask_new("vgg16-poster", movie, 5)
    assert answer.no_answer == "no poster to compare for this movie"


def test_a_photo_of_a_catalogue_film_s_poster_finds_the_film(setup):
    """Once someone asked about Dune: Part Two (its poster's features stored), a phone
    photo of that poster names it, although no dataset movie wears that poster here."""
    import io

    from PIL import Image

    app, _, _, _, dune = setup
    assert app.registry.ask_new("vgg16-poster", app.catalogue.new_movie(dune), 5).ok
    with Image.open(POSTERS / f"{DUNE_1984}.jpg") as poster:
        photo = poster.convert("RGB").resize((poster.width * 4 // 5, poster.height * 4 // 5))
    data = io.BytesIO()
    photo.save(data, "JPEG", quality=70)
    answer = app.registry.ask_image("vgg16-poster", data.getvalue(), 3)
    assert answer.ok, answer
    assert answer.neighbours[0].movie_id == dune and answer.neighbours[0].score > 0.9, answer
    # The rest are other known movies (another catalogue film once its poster is stored).
    assert all(app.knows(n.movie_id) and n.movie_id != dune for n in answer.neighbours[1:])


def test_where_people_wait_no_model_loads_and_the_worker_compares_the_poster(setup):
    """In a thread that answers people (the bot's plugin threads) a new poster is not
    computed: vgg16-poster says so and the hybrid places the film without it. The image
    worker process compares it instead, and stores its features for everyone."""
    from concurrent.futures import ThreadPoolExecutor

    from reelpick.imagesearch import ImageSearchWorker
    from reelpick.models_here import forbid_models

    app, server, config, _, _ = setup
    indexed = {int(p.stem) for p in Path(config.section("posters")["dir"]).glob("*.jpg")}
    source = next(
        int(app.dataset.movies.at[m, "tmdb_id"])
        for m in sorted(int(p.stem) for p in POSTERS.glob("*.jpg"))
        if m not in indexed and m != DUNE_1984 and m in app.dataset
    )
    server.add_movie(
        1_299_777, "Harbour Lights", "Harbour Lights", "2025-09-01", [18], ["A Director"],
        ["An Actor"], "A story by the sea.", poster_of=source,
    )  # fmt: skip
    movie_id = app.add_from_tmdb(1_299_777)
    vgg = app.registry.plugin_object("vgg16-poster")
    before = vgg.new_computed
    with ThreadPoolExecutor(1, initializer=forbid_models) as people:
        poster, hybrid = people.submit(
            app.similar, movie_id, 5, ["vgg16-poster", "hybrid"]
        ).result()
    assert poster.no_answer == "its poster is not compared yet" and vgg.new_computed == before
    assert hybrid.ok, hybrid
    worker = ImageSearchWorker(config, ["vgg16-poster"], idle_seconds=0, timeout=120)
    try:
        (answer,) = worker.similar(movie_id, 5)
    finally:
        worker.close()
    assert answer.ok and len(answer.neighbours) == 5, answer
    assert vgg.new_features(app.catalogue.new_movie(movie_id), compute=False) is not None
    with ThreadPoolExecutor(1, initializer=forbid_models) as people:
        (again,) = people.submit(app.similar, movie_id, 5, ["vgg16-poster"]).result()
    assert [n.movie_id for n in again.neighbours] == [n.movie_id for n in answer.neighbours]
    assert vgg.new_computed == before
