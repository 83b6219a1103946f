"""vgg16-poster with the real ImageNet weights on the real posters in ../shared/data/posters.

The 500 posters' features are computed once per test run (``vgg16_features``: one folder
for every pytest-xdist worker); ``full`` and the other tests reuse them through a linked
feature folder and compute only what they add or change.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from reelpick import NoAnswer
from reelpick.config import Config
from reelpick.data import Dataset
from reelpick.plugins.vgg16_poster import (
    FEATURES_DIR,
    FeatureSpec,
    FeatureStore,
    comparable,
)
from reelpick.registry import Registry
from reelpick.types import Profile
from tests.support.fixtures import POSTERS, VGG16_WEIGHTS, write_config
from tests.support.vgg16 import SharedFeatures, fit, shared_poster_features, vgg_config


@pytest.fixture(scope="session")
def weights_and_posters(require_shared) -> None:
    """The tests that run VGG16 need the real weights and posters from ../shared (a skip
    where they are absent; a failure under CI)."""
    require_shared(VGG16_WEIGHTS, POSTERS)


POSTER_IDS = sorted(int(p.stem) for p in POSTERS.glob("*.jpg"))


def movie(dataset: Dataset, title: str) -> int:
    return int(dataset.movies.index[dataset.movies["title"] == title][0])


def top(registry: Registry, dataset: Dataset, movie_id: int, k: int = 5) -> list[str]:
    answer = registry.ask("vgg16-poster", movie_id, k)
    assert answer.ok, answer
    return [dataset.movies.loc[n.movie_id, "title"] for n in answer.neighbours]


@pytest.fixture(scope="session")
def vgg16_features(
    weights_and_posters, ml_small: Dataset, tmp_path_factory: pytest.TempPathFactory
) -> SharedFeatures:
    """The 500 posters' features, computed once per test run however many pytest-xdist
    workers run this file's tests (tests/support/vgg16.py)."""
    return shared_poster_features(tmp_path_factory, ml_small)


@pytest.fixture(scope="session")
def full(vgg16_features: SharedFeatures, ml_small: Dataset, tmp_path_factory):
    """The plugin fitted on all 500 posters over the run's shared features (computed once per
    run, by a fit from an empty cache: its report is checked here)."""
    first = {"posters": len(POSTER_IDS), "computed": 500, "table": "built"}
    assert vgg16_features.first_fit == first
    root = tmp_path_factory.mktemp("vgg16")
    vgg16_features.link(root / "cache")
    with pytest.MonkeyPatch.context() as mp:  # session fixtures run before the autouse one
        for name in [n for n in os.environ if n.startswith("REELPICK_")]:
            mp.delenv(name)
        config = vgg_config(root, root / "cache", POSTERS)
        registry, plugin = fit(config, ml_small)
    assert plugin.last_fit == {"posters": len(POSTER_IDS), "computed": 0, "table": "built"}
    return registry, plugin, config


def shared_features(cache: Path, full_config: Config) -> None:
    """Give a test cache the run's feature folder (a link: what a fit adds lands there)."""
    cache.mkdir(parents=True, exist_ok=True)
    (cache / FEATURES_DIR).symlink_to(
        full_config.cache_dir / FEATURES_DIR, target_is_directory=True
    )


def jpeg(image: Image.Image, quality: int = 80) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


# -- quality with the real weights --------------------------------------------------------


@pytest.mark.slow
def test_article_lookalikes_hold(full, ml_small: Dataset) -> None:
    registry, _, _ = full
    lion_king = top(registry, ml_small, movie(ml_small, "Lion King, The (1994)"))
    disney = {
        "Bambi (1942)",
        "Little Mermaid, The (1989)",
        "Cinderella (1950)",
        "Snow White and the Seven Dwarfs (1937)",
    }
    assert len(disney & set(lion_king)) >= 2, lion_king
    star_wars = top(
        registry, ml_small, movie(ml_small, "Star Wars: Episode IV - A New Hope (1977)")
    )
    assert any(t.startswith("Star Wars: Episode") for t in star_wars), star_wars


@pytest.mark.slow
def test_flipped_cropped_reencoded_copies_find_their_original(
    full, ml_small: Dataset, tmp_path: Path
) -> None:
    """50 altered copies filed under movies without a poster: each copy's nearest neighbour
    should be its original. Only the 50 copies are computed (the rest come from the cache)."""
    _, _, full_config = full
    folder = tmp_path / "posters"
    folder.mkdir()
    for movie_id in POSTER_IDS:
        (folder / f"{movie_id}.jpg").symlink_to(POSTERS / f"{movie_id}.jpg")
    rng = np.random.default_rng(5)
    originals = rng.choice(POSTER_IDS, 50, replace=False).tolist()
    free_ids = [int(m) for m in ml_small.movies.index if int(m) not in set(POSTER_IDS)]
    copies = dict(zip(free_ids[:50], originals, strict=True))
    for copy_id, original in copies.items():
        image = ImageOps.mirror(Image.open(POSTERS / f"{original}.jpg"))
        w, h = image.size
        image = image.crop((int(0.06 * w), int(0.04 * h), int(0.95 * w), int(0.95 * h)))
        (folder / f"{copy_id}.jpg").write_bytes(jpeg(image, quality=70))
    shared_features(tmp_path / "cache", full_config)
    registry, plugin = fit(vgg_config(tmp_path, tmp_path / "cache", folder), ml_small)
    assert plugin.last_fit["computed"] == 50  # incremental: only the new posters
    found = {
        copy_id: registry.ask("vgg16-poster", copy_id, 1).neighbours[0].movie_id
        for copy_id in copies
    }
    hits = sum(found[c] == original for c, original in copies.items())
    assert hits >= 48, f"{hits}/50 copies found their original"


@pytest.mark.slow
def test_movie_without_poster_gets_no_answer(full, ml_small: Dataset) -> None:
    registry, plugin, _ = full
    no_poster = next(int(m) for m in ml_small.movies.index if int(m) not in set(POSTER_IDS))
    answer = registry.ask("vgg16-poster", no_poster, 5)
    assert answer.no_answer == "no poster for this movie"
    with pytest.raises(NoAnswer, match="no poster"):
        plugin.reelpick_similar(movie_id=no_poster, k=5)
    with pytest.raises(NoAnswer):
        plugin.reelpick_similar(movie_id=10**9, k=5)


@pytest.mark.slow
def test_cached_table_answers_without_importing_tensorflow(full, ml_small: Dataset) -> None:
    """A fresh process: import the plugin, fit from the cache, answer; TensorFlow stays out."""
    registry, _, config = full
    lion_king = movie(ml_small, "Lion King, The (1994)")
    script = f"""
import json, sys
from reelpick.config import load_config
from reelpick.data import load_dataset
from reelpick.registry import Registry
import reelpick.plugins.vgg16_poster
imported = "tensorflow" in sys.modules or "keras" in sys.modules
config = load_config({str(config.path)!r})
registry = Registry(config, load_entry_points=False)
errors = registry.fit(load_dataset(config.data_source), ["vgg16-poster"])
answer = registry.ask("vgg16-poster", {lion_king}, 5)
print(json.dumps({{
    "errors": errors,
    "after_import": imported,
    "after_query": "tensorflow" in sys.modules or "keras" in sys.modules,
    "last_fit": registry.plugin_object("vgg16-poster").last_fit,
    "answer": [n.movie_id for n in answer.neighbours],
}}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELPICK_")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["errors"] == {"vgg16-poster": None}
    assert result["after_import"] is False and result["after_query"] is False
    assert result["last_fit"] == {"posters": 500, "computed": 0, "table": "loaded"}
    expected = [n.movie_id for n in registry.ask("vgg16-poster", lion_king, 5).neighbours]
    assert result["answer"] == expected


# -- the feature cache ---------------------------------------------------------------------


@pytest.mark.slow
def test_feature_cache_is_incremental_and_self_repairing(
    full, ml_small: Dataset, tmp_path: Path
) -> None:
    _, _, full_config = full
    folder = tmp_path / "posters"
    folder.mkdir()
    first, added = POSTER_IDS[:20], POSTER_IDS[20:30]
    for movie_id in first:
        shutil.copy(POSTERS / f"{movie_id}.jpg", folder)
    cache = tmp_path / "cache"
    source = FeatureStore(full_config.cache_dir / FEATURES_DIR, _spec(full))
    store = FeatureStore(cache / FEATURES_DIR, _spec(full))
    for movie_id in first:  # the ten added later are not in the cache yet
        store.save(_hash(movie_id), source.load(_hash(movie_id)))
    config = vgg_config(tmp_path, cache, folder)

    _, plugin = fit(config, ml_small)
    assert plugin.last_fit == {"posters": 20, "computed": 0, "table": "built"}
    _, plugin = fit(config, ml_small)  # a second fit computes (and builds) nothing
    assert plugin.last_fit == {"posters": 20, "computed": 0, "table": "loaded"}

    for movie_id in added:
        shutil.copy(POSTERS / f"{movie_id}.jpg", folder)
    _, plugin = fit(config, ml_small)
    assert plugin.last_fit == {"posters": 30, "computed": 10, "table": "built"}

    changed = folder / f"{first[0]}.jpg"  # the same picture, re-encoded: new bytes
    changed.write_bytes(jpeg(Image.open(changed), quality=60))
    registry, plugin = fit(config, ml_small)
    assert plugin.last_fit == {"posters": 30, "computed": 1, "table": "built"}
    assert len(list(registry.plugins["vgg16-poster"].store.path.glob("neighbours-*.npz"))) == 1

    # Damage two stored records (a flipped byte in one; the last one, the changed poster's,
    # torn as by a crash), then change the poster set so that the table is rebuilt.
    pack, offset, length = store.record(_hash(first[1]))
    blob = bytearray(pack.read_bytes())
    blob[offset + length // 2] ^= 0xFF
    _, last, last_length = store.record(hashlib.sha256(changed.read_bytes()).hexdigest())
    assert last + last_length == len(blob)
    pack.write_bytes(bytes(blob[: last + 100]))
    (folder / f"{first[3]}.jpg").unlink()
    registry, plugin = fit(config, ml_small)
    assert plugin.last_fit == {"posters": 29, "computed": 2, "table": "built"}
    again = FeatureStore(cache / FEATURES_DIR, _spec(full)).load(_hash(first[1]))
    original = FeatureStore(full_config.cache_dir / FEATURES_DIR, _spec(full)).load(_hash(first[1]))
    assert again is not None and np.allclose(again, original, rtol=0.02, atol=1e-3 * original.max())
    assert registry.ask("vgg16-poster", first[3], 3).no_answer == "no poster for this movie"


@pytest.mark.slow
def test_avg_pooling_on_a_few_posters(
    weights_and_posters, ml_small: Dataset, tmp_path: Path
) -> None:
    folder = tmp_path / "posters"
    folder.mkdir()
    chosen = POSTER_IDS[::40]
    for movie_id in chosen:
        shutil.copy(POSTERS / f"{movie_id}.jpg", folder)
    (folder / f"{POSTER_IDS[1]}.jpg").write_bytes(b"not an image at all")
    config = vgg_config(tmp_path, tmp_path / "cache", folder, 'pooling = "avg"\nneighbours = 5\n')
    registry, plugin = fit(config, ml_small)
    assert plugin.last_fit == {"posters": len(chosen), "computed": len(chosen), "table": "built"}
    assert plugin.table.index.shape == (len(chosen), 5)
    answer = registry.ask("vgg16-poster", chosen[0], 5)
    assert len(answer.neighbours) == 5 and all(n.movie_id in chosen for n in answer.neighbours)
    assert registry.ask("vgg16-poster", POSTER_IDS[1], 5).no_answer == "no poster for this movie"


# -- no TensorFlow needed ------------------------------------------------------------------


def test_missing_weights_give_a_clear_error(
    ml_small: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere" / "vgg16.weights.h5"
    config = write_config(
        tmp_path,
        f'[cache]\ndir = "{tmp_path / "cache"}"\n[posters]\ndir = "{POSTERS}"\n'
        f'[plugins.vgg16-poster]\nweights = "{missing}"\n',
    )
    registry = Registry(config, load_entry_points=False)
    error = registry.fit(ml_small, ["vgg16-poster"])["vgg16-poster"]
    assert "PluginError" in error and str(missing) in error and "Put the Keras" in error
    # The environment variable wins over config.toml.
    monkeypatch.setenv("REELPICK_VGG16_WEIGHTS", str(tmp_path / "from-env.h5"))
    registry = Registry(config, load_entry_points=False)
    error = registry.fit(ml_small, ["vgg16-poster"])["vgg16-poster"]
    assert "from-env.h5" in error and "REELPICK_VGG16_WEIGHTS" in error


def test_bad_parameters_are_refused(ml_small: Dataset, tmp_path: Path) -> None:
    config = vgg_config(tmp_path, tmp_path / "cache", POSTERS, 'pooling = "max"\n')
    registry = Registry(config, load_entry_points=False)
    error = registry.fit(ml_small, ["vgg16-poster"])["vgg16-poster"]
    assert "pooling must be one of flatten, avg" in error


def test_mirror_form_is_flip_blind_and_keeps_cosines() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.random((2, 25088)).astype(np.float32)

    def mirrored_sum(v: np.ndarray) -> np.ndarray:
        grid = v.reshape(7, 7, 512)
        return (grid + grid[:, ::-1]).ravel()

    def cos(x: np.ndarray, y: np.ndarray) -> float:
        return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))

    flipped = a.reshape(7, 7, 512)[:, ::-1].ravel()
    ca, cb = comparable(a, "flatten", True), comparable(b, "flatten", True)
    assert len(ca) == 14336
    assert cos(ca, comparable(flipped, "flatten", True)) == pytest.approx(1.0, abs=1e-6)
    assert cos(ca, cb) == pytest.approx(cos(mirrored_sum(a), mirrored_sum(b)), abs=1e-5)
    assert comparable(a, "flatten", False) is a


def test_importing_the_plugin_does_not_import_tensorflow() -> None:
    code = (
        "import sys, reelpick.plugins.vgg16_poster as m; m.VGG16Poster().reelpick_plugin_info();"
        "print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


# -- helpers over the session fit ----------------------------------------------------------


def _hash(movie_id: int) -> str:
    return hashlib.sha256((POSTERS / f"{movie_id}.jpg").read_bytes()).hexdigest()


def _spec(full) -> FeatureSpec:
    from reelpick.plugins.vgg16_poster import feature_spec

    registry, _, config = full
    return feature_spec(registry.plugins["vgg16-poster"].params, config)


def test_recommends_posters_like_the_liked_ones(full, ml_small: Dataset) -> None:
    """Max similarity to a liked poster: the best pick is the nearest poster of a liked movie."""
    registry, _, _ = full
    liked = [m for m in POSTER_IDS if m in ml_small][:3]
    profile = Profile(ratings=dict.fromkeys(liked, 5.0))
    answer = registry.ask_recommend("vgg16-poster", profile, 5)
    assert answer.ok and len(answer.neighbours) == 5, answer
    assert all(r.movie_id not in liked and r.because for r in answer.neighbours)
    assert all(set(r.because) <= set(liked) for r in answer.neighbours)
    nearest = [
        next(n for n in registry.ask("vgg16-poster", m, 10).neighbours if n.movie_id not in liked)
        for m in liked
    ]
    best = max(nearest, key=lambda n: n.score)
    assert answer.neighbours[0].score == pytest.approx(best.score)
