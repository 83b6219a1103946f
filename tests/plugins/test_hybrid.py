"""The hybrid plugin: the content map, incremental fits for new movies, bad input, the contract,
and ``reelpick evaluate --task cold``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reelpick import ArtifactStore, DataError, NoAnswer, PosterStore, Profile
from reelpick.cli.main import main
from reelpick.config import Config
from reelpick.data import Dataset, load_dataset
from reelpick.evaluation.cold import format_cold, mean_recall
from reelpick.npz import is_mapped
from reelpick.plugins._hybrid_content import movie_content
from reelpick.plugins._hybrid_model import (
    UserSide,
    choose_and_fit,
    fit_mlp,
    fit_ridge,
    topk_among,
)
from reelpick.plugins.hybrid import Hybrid
from reelpick.plugins.vgg16_poster import (
    FEATURES_DIR,
    CachedPosterFeatures,
    FeatureStore,
    VGG16Poster,
    feature_spec,
    indexed_posters,
)
from reelpick.registry import Registry
from reelpick.testing import check_plugin, save_dataset, small_dataset
from tests.support.fixtures import FAST_HYBRID, POSTERS, write_config

# Small and quick, posters as each test chooses (the plugin's default: with them).
FAST = {k: v for k, v in FAST_HYBRID.items() if k != "posters"}
NEW_MOVIE = 999_999


@pytest.fixture(scope="module")
def small(ml_small: Dataset) -> Dataset:
    return small_dataset(ml_small, 300)


def hybrid_config(folder: Path, data: Path | str, extra: str = "", **params) -> Config:
    folder.mkdir(parents=True, exist_ok=True)
    values = {**FAST, **params}
    table = "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
    return write_config(
        folder,
        f'[data]\nsource = "{data}"\n[cache]\ndir = "{folder / "cache"}"\n'
        f'[plugins]\nenabled = ["cosine-cf", "hybrid"]\n[plugins.hybrid]\n{table}{extra}',
    )


def fitted(config: Config, dataset: Dataset) -> tuple[Registry, Hybrid]:
    registry = Registry(config, load_entry_points=False)
    assert registry.fit(dataset, ["hybrid"]) == {"hybrid": None}
    return registry, registry.plugin_object("hybrid")


# -- the map -------------------------------------------------------------------------------------


def linear_world(
    n: int = 600, d: int = 12, k: int = 6, noise: float = 0.01, scale: float = 0.3, seed: int = 0
):
    """Content rows and targets (bias, vector) where the content determines the factors."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    weights = rng.standard_normal((d, 1 + k)) * scale
    y = x @ weights + 0.5 + noise * rng.standard_normal((n, 1 + k))
    return x, y, weights


def test_ridge_recovers_the_map_that_made_the_factors() -> None:
    x, y, weights = linear_world()
    mapped = fit_ridge(x[:500], y[:500], lam=0.01)
    assert np.allclose(mapped.layers[0], weights, atol=0.01)
    bias, vectors = mapped.predict(x[500:])  # movies the map never saw: "cold" ones
    truth = x[500:] @ weights + 0.5
    assert np.abs(bias - truth[:, 0]).max() < 0.05
    assert np.abs(vectors - truth[:, 1:]).max() < 0.05


def test_mlp_learns_the_map_too() -> None:
    x, y, _ = linear_world()
    mapped, curve = fit_mlp(x[:500], y[:500], 64, 60, seed=0, validate=(x[500:], y[500:]))
    assert curve[-1] < 0.3 * curve[0]
    bias, vectors = mapped.predict(x[500:])
    guessed = np.column_stack([bias, vectors])
    r2 = 1 - np.sum((guessed - y[500:]) ** 2) / np.sum((y[500:] - y[500:].mean(0)) ** 2)
    assert r2 > 0.9


def test_validation_picks_a_map_that_predicts_held_out_ratings() -> None:
    """Ratings made from content-determined factors: the chosen map places unseen movies."""
    x, y, weights = linear_world(n=400, scale=0.1)
    rng = np.random.default_rng(1)
    n_users = 300
    users = 0.2 * rng.standard_normal((n_users, y.shape[1] - 1))
    pairs = [(u, i) for i in range(400) for u in rng.choice(n_users, 30, replace=False)]
    u, i = np.array(pairs).T
    ratings = 2.5 + y[i, 0] + np.einsum("ij,ij->i", users[u], y[i, 1:])
    assert ratings.min() > 0.5 and ratings.max() < 5  # no clipping: the test knows the answer
    side = UserSide(2.5, np.zeros(n_users), users, u, i, ratings)
    params = {"model": "auto", "validation_share": 0.2, "seed": 0, "mlp_hidden": 32}
    params |= {"mlp_epochs": 20, "fold_in_reg": 3.0}
    mapped, choice = choose_and_fit(x, y, side, params)
    assert choice.kind == "ridge" and choice.lam <= 1.0  # a linear world wants little penalty
    assert choice.ridge_rmse < 0.05
    # Revealing a few exact ratings never beats a perfect map: c goes to its largest value.
    assert choice.shrinkage >= 32
    new = np.random.default_rng(2).standard_normal((5, x.shape[1]))
    bias, vectors = mapped.predict(new)
    assert np.allclose(np.column_stack([bias, vectors]), new @ weights + 0.5, atol=0.05)


# -- the plugin ----------------------------------------------------------------------------------


def test_contract(small: Dataset, tmp_path: Path) -> None:
    report = check_plugin(
        Hybrid,
        small,
        FAST,
        name="hybrid",
        cache_root=tmp_path,
        providers={"vgg16-poster": VGG16Poster},
    )
    assert report.predicts
    assert report.answered == report.queries  # unrated movies too: they have genres


def add_movie(folder: Path, genres: str, tags: list[str]) -> None:
    movies = pd.read_csv(folder / "movies.csv")
    row = {"movieId": NEW_MOVIE, "title": "A Brand New Film (2024)", "genres": genres}
    pd.concat([movies, pd.DataFrame([row])]).to_csv(folder / "movies.csv", index=False)
    tags_file = pd.read_csv(folder / "tags.csv")
    added = [{"userId": 1, "movieId": NEW_MOVIE, "tag": t, "timestamp": 1} for t in tags]
    pd.concat([tags_file, pd.DataFrame(added)]).to_csv(folder / "tags.csv", index=False)


def test_a_new_movie_is_answered_after_an_incremental_fit(
    small: Dataset, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = save_dataset(small, tmp_path / "data")
    config = hybrid_config(tmp_path, folder, posters=False)
    assert main(["--config", str(config.path), "fit", "--plugin", "hybrid"]) == 0
    assert "hybrid: fitted" in capsys.readouterr().out
    cached = sorted((tmp_path / "cache").glob("hybrid-*/*/*.npz"))
    heavy = [p for p in cached if p.parent.parent.name != "hybrid-keys"]  # a 20-letter memo
    assert {p.parent.parent.name for p in heavy} == {"hybrid-factors", "hybrid-model"}
    before = {p: p.stat().st_mtime_ns for p in heavy}

    pixar = small.tags.loc[small.tags["movieId"] == 1, "tag"].head(3).tolist()  # Toy Story's
    add_movie(folder, "Adventure|Animation|Children|Comedy|Fantasy", pixar)
    grown = load_dataset(folder)
    assert NEW_MOVIE in grown and grown.rating_counts[NEW_MOVIE] == 0
    registry, plugin = fitted(config, grown)
    # The SGD factors, map and other movies' rows came from the cache: one row computed.
    assert plugin.last_fit | {"seconds": 0} == {
        "factors": "loaded",
        "model": "loaded",
        "rows_computed": 1,
        "posters": 0,
        "seconds": 0,
    }
    assert {p: p.stat().st_mtime_ns for p in heavy} == before
    answer = registry.ask("hybrid", NEW_MOVIE, 10)
    assert answer.ok and len(answer.neighbours) == 10, answer
    assert 1 in {n.movie_id for n in answer.neighbours} or any(
        "Animation" in grown.movies.loc[n.movie_id, "genres"] for n in answer.neighbours[:3]
    )
    user = int(grown.ratings["userId"].iloc[0])
    predicted = registry.predict("hybrid", user, [NEW_MOVIE])
    assert 0.5 <= predicted[0] <= 5.0
    # ... and it can be recommended, because a liked movie points its way.
    recommended = plugin.reelpick_recommend(Profile(ratings={1: 5.0}), 2000, frozenset())
    assert NEW_MOVIE in {r.movie_id for r in recommended}


def test_a_movie_with_nothing_to_go_on(small: Dataset, tmp_path: Path) -> None:
    """No ratings, genres, tags or poster: similar has no answer and says why; predict falls
    back to the map's average movie (user bias + mean movie), a finite rating."""
    folder = save_dataset(small, tmp_path / "data")
    add_movie(folder, "(no genres listed)", [])
    grown = load_dataset(folder)
    registry, plugin = fitted(hybrid_config(tmp_path, folder, posters=False), grown)
    with pytest.raises(NoAnswer, match="no ratings, genres, tags or poster"):
        plugin.reelpick_similar(NEW_MOVIE, 5)
    assert NEW_MOVIE not in {
        n.movie_id for m in (1, 2, 3) if m in grown for n in plugin.reelpick_similar(m, 20)
    }
    user = int(grown.ratings["userId"].iloc[0])
    assert np.isfinite(plugin.reelpick_predict(user, [NEW_MOVIE])[0])
    with pytest.raises(NoAnswer, match="user"):
        plugin.reelpick_predict(-5, [1])


def test_an_unrated_movie_s_similar_movies_include_other_new_films(
    small: Dataset, tmp_path: Path
) -> None:
    """Two new films of one genre mix and year: each is among the other's similar movies
    (a rated movie's similar movies come only from well-rated ones), and the settings of
    that score are not part of the map's key: changing them refits nothing."""
    folder = save_dataset(small, tmp_path / "data")
    movies = pd.read_csv(folder / "movies.csv")
    added = [
        {"movieId": NEW_MOVIE + n, "title": f"Space War {n} (2024)", "genres": "Action|Sci-Fi"}
        for n in (0, 1)
    ]
    pd.concat([movies, pd.DataFrame(added)]).to_csv(folder / "movies.csv", index=False)
    grown = load_dataset(folder)
    registry, plugin = fitted(hybrid_config(tmp_path, folder, posters=False), grown)
    similar = [n.movie_id for n in plugin.reelpick_similar(NEW_MOVIE, 10)]
    assert similar[0] == NEW_MOVIE + 1
    # The release period weighs more than the genres (cosine-CF's neighbours are films of one
    # period), but most of them share one.
    assert sum(bool(set(grown.genres(m)) & {"Action", "Sci-Fi"}) for m in similar) >= 7
    rated = small.rating_counts.idxmax()
    assert not {NEW_MOVIE, NEW_MOVIE + 1} & {
        n.movie_id for n in plugin.reelpick_similar(int(rated), 50)
    }

    config = hybrid_config(tmp_path, folder, posters=False, unrated_year_weight=0.0)
    _, again = fitted(config, grown)
    assert again.last_fit["factors"] == again.last_fit["model"] == "loaded"
    assert [n.movie_id for n in again.reelpick_similar(NEW_MOVIE, 10)] != similar


def test_a_warm_fit_maps_its_serving_arrays_and_heals_a_damaged_one(
    small: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fold-in vectors and unit taste vectors are derived once and stored beside the
    taste entry: a second fit maps them (no copy in the process) and answers the same; a
    damaged entry is derived again, never a dead plugin."""
    monkeypatch.setattr("reelpick.npz.MAP_FROM_BYTES", 1024)  # this world's arrays are small
    config = hybrid_config(tmp_path, save_dataset(small, tmp_path / "data"), posters=False)
    profile = Profile(ratings={int(m): 4.5 for m in small.rating_counts.nlargest(8).index})
    _, first = fitted(config, small)
    expected = first.reelpick_recommend(profile, 10, frozenset())
    serving = list((tmp_path / "cache" / "hybrid").glob("*/serving-*.npz"))
    assert len(serving) == 1

    _, again = fitted(config, small)
    assert again.unit is not None and again.taste is not None
    assert is_mapped(again.unit) and is_mapped(again.taste.implicit)
    assert again.reelpick_recommend(profile, 10, frozenset()) == expected

    serving[0].write_bytes(serving[0].read_bytes()[:1000])
    _, healed = fitted(config, small)
    assert healed.reelpick_recommend(profile, 10, frozenset()) == expected
    assert serving[0].stat().st_size > 1000


def test_a_full_disk_leaves_the_serving_arrays_in_memory(
    small: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm start that cannot store the derived arrays still answers, from memory."""
    config = hybrid_config(tmp_path, save_dataset(small, tmp_path / "data"), posters=False)
    _, first = fitted(config, small)
    profile = Profile(ratings={int(m): 4.5 for m in small.rating_counts.nlargest(8).index})
    expected = first.reelpick_recommend(profile, 10, frozenset())
    for serving in (tmp_path / "cache" / "hybrid").glob("*/serving-*.npz"):
        serving.unlink()
    save = ArtifactStore.save_arrays

    def full_disk(store: ArtifactStore, name: str, **arrays: np.ndarray) -> None:
        if name.startswith("serving-"):
            raise OSError(28, "No space left on device")
        save(store, name, **arrays)

    monkeypatch.setattr(ArtifactStore, "save_arrays", full_disk)
    _, again = fitted(config, small)
    assert again.reelpick_recommend(profile, 10, frozenset()) == expected


def test_the_ratings_key_is_hashed_once_per_dataset(
    small: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm start finds the factors' key in the cache instead of hashing every rating; a
    damaged entry is hashed again, to the same key."""
    from reelpick.plugins import _hybrid_store

    hashed: list[str] = []
    real = _hybrid_store.ratings_key

    def counting(dataset: Dataset) -> str:
        hashed.append(dataset.fingerprint)
        return real(dataset)

    monkeypatch.setattr(_hybrid_store, "ratings_key", counting)
    config = hybrid_config(tmp_path, save_dataset(small, tmp_path / "data"), posters=False)
    fitted(config, small)
    assert hashed  # the first fit hashes (its factors are fitted on the rated movies, too)
    hashed.clear()
    _, again = fitted(config, small)
    assert hashed == [] and again.last_fit["factors"] == "loaded"
    for memo in (tmp_path / "cache" / "hybrid-keys").glob("*/ratings.npz"):
        memo.write_bytes(b"not an npz")
    _, healed = fitted(config, small)
    assert hashed == [small.fingerprint] and healed.last_fit["factors"] == "loaded"


def test_a_movie_id_twice_is_refused_by_the_loader(small: Dataset, tmp_path: Path) -> None:
    folder = save_dataset(small, tmp_path / "data")
    movies = pd.read_csv(folder / "movies.csv")
    pd.concat([movies, movies.head(1)]).to_csv(folder / "movies.csv", index=False)
    with pytest.raises(DataError, match="repeats"):
        load_dataset(folder)


def cached_posters(small: Dataset, tmp_path: Path, weights: str) -> tuple[Config, list[int]]:
    """A config whose posters folder holds five real posters of ``small``, each with stored
    features (random, 512 channel averages) under the spec of ``weights``: vgg16-poster's fit
    then finds every feature stored and never runs VGG16."""
    if not POSTERS.exists():
        pytest.fail(f"poster fixtures not found at {POSTERS}")
    chosen = sorted(int(p.stem) for p in POSTERS.glob("*.jpg") if int(p.stem) in small)[:5]
    folder = tmp_path / "posters"
    folder.mkdir(parents=True, exist_ok=True)
    for movie_id in chosen:
        (folder / f"{movie_id}.jpg").write_bytes((POSTERS / f"{movie_id}.jpg").read_bytes())
    (tmp_path / "weights.h5").write_bytes(weights.encode())
    extra = (
        f'[posters]\ndir = "{folder}"\n[plugins.vgg16-poster]\n'
        f'weights = "{tmp_path / "weights.h5"}"\npooling = "avg"\n'
    )
    config = hybrid_config(tmp_path, "unused", extra=extra)
    vgg = VGG16Poster().reelpick_plugin_info().params | config.plugin_params("vgg16-poster")
    features = FeatureStore(config.cache_dir / FEATURES_DIR, feature_spec(vgg, config))
    with PosterStore(config, small) as posters:
        for ref in indexed_posters(posters, small):
            features.save(ref.content_hash, np.random.default_rng(ref.movie_id).random(512))
    return config, chosen


def test_posters_only_count_with_features_from_the_configured_weights(
    small: Dataset, tmp_path: Path
) -> None:
    """Features stored under one weights file are invisible with another; placeholders (any
    movie without a real poster) are never content."""
    config_a, with_poster = cached_posters(small, tmp_path / "a", "weights A")
    vgg = VGG16Poster().reelpick_plugin_info().params | config_a.plugin_params("vgg16-poster")
    with PosterStore(config_a, small) as posters:
        hashes = {r.movie_id: r.content_hash for r in indexed_posters(posters, small)}
        placeholder = posters.get(int(small.movies.index[~small.movies.index.isin(hashes)][0]))
    assert placeholder.placeholder and set(hashes) == set(with_poster)
    spec_a = feature_spec(vgg, config_a)
    found = CachedPosterFeatures(FeatureStore(config_a.cache_dir / FEATURES_DIR, spec_a), hashes)
    assert set(found.content_hashes()) == set(with_poster)
    assert (
        found.vector(with_poster[0]).shape == (512,) and found.vector(placeholder.movie_id) is None
    )
    other = tmp_path / "b.weights.h5"
    other.write_bytes(b"weights B")
    spec_b = feature_spec(vgg | {"weights": str(other)}, config_a)
    unseen = CachedPosterFeatures(FeatureStore(config_a.cache_dir / FEATURES_DIR, spec_b), hashes)
    assert unseen.content_hashes() == {} and unseen.id != found.id


def test_the_hybrid_gets_poster_features_from_the_plugin_that_provides_them(
    small: Dataset, tmp_path: Path
) -> None:
    """Asked for the hybrid alone, the registry fits vgg16-poster first (it is enabled and
    provides poster features) and hands its product over: the posters become content."""
    config, with_poster = cached_posters(small, tmp_path, "weights A")
    config.values["plugins"]["enabled"] = ["vgg16-poster", "hybrid"]
    registry, plugin = fitted(config, small)
    assert registry.plugins["vgg16-poster"].fitted
    assert plugin.last_fit["posters"] == len(with_poster)
    # The same registry without vgg16-poster enabled: one line says what to do.
    config.values["plugins"]["enabled"] = ["hybrid"]
    error = Registry(config, load_entry_points=False).fit(small, ["hybrid"])["hybrid"]
    assert error == (
        "hybrid needs poster features, which no enabled plugin provides: enable vgg16-poster "
        "in [plugins] enabled, or set posters = false in [plugins.hybrid]"
    )


# -- evaluate --task cold --------------------------------------------------------------------------


def test_evaluate_cold_json(small: Dataset, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = save_dataset(small, tmp_path / "data")
    config = hybrid_config(tmp_path, folder, posters=False)
    code = main(["--config", str(config.path), "evaluate", "--task", "cold", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    eligible = (small.rating_counts >= 10).sum()
    assert report["task"] == "cold" and report["movies"] == round(0.1 * eligible)
    results = {r["plugin"]: r for r in report["results"]}
    assert list(results) == ["bias", "genre-mean", "cosine-cf", "hybrid"]
    for name in ("bias", "genre-mean", "hybrid"):
        assert 0.3 < results[name]["rmse"] < 1.5, results[name]
    assert results["bias"]["ndcg@10"] is None and results["bias"]["neighbour_recall@10"] is None
    assert 0 <= results["hybrid"]["neighbour_recall@10"] <= 1
    assert results["hybrid"]["recall_movies"] == report["truth_movies"] > 0
    assert 0 <= results["hybrid"]["ndcg@10"] <= 1
    # cosine-CF knows nothing of movies with no training ratings.
    assert results["cosine-cf"]["neighbour_recall@10"] is None
    # Like-for-like recall against vgg16-poster: not evaluated here, so nothing is shared.
    assert report["shared_reference"] == "vgg16-poster"
    for r in report["results"]:
        assert r["neighbour_recall@10_shared"] is None and r["shared_movies"] == 0, r
    per_movie = report["neighbour_recall_per_movie"]
    assert list(per_movie) == ["hybrid"]  # only plugins with an answer
    shares = per_movie["hybrid"]
    assert len(shares) == results["hybrid"]["recall_movies"]
    assert np.mean(list(shares.values())) == pytest.approx(results["hybrid"]["neighbour_recall@10"])


def test_without_tag_terms_no_movie_has_tags(small: Dataset) -> None:
    """tag_terms = 0 reads no tag at all, not even for the "has tags" indicator: a new movie
    has none, so a map that must place new movies should not learn from them."""
    assert any(movie_content(small, {}).tags)
    assert not any(movie_content(small, {}, use_tags=False).tags)


def test_shared_recall_is_over_the_movies_both_answer_for() -> None:
    hybrid = {1: 0.1, 2: 0.2, 3: 0.9}
    poster = {2: 0.4, 3: 0.5, 4: 1.0}
    assert mean_recall(hybrid) == (pytest.approx(0.4), 3)
    assert mean_recall(hybrid, poster) == (pytest.approx(0.55), 2)
    assert mean_recall(poster, hybrid) == (pytest.approx(0.45), 2)
    assert mean_recall(hybrid, {}) == (None, 0)
    report = {
        "movies": 4,
        "held_out_ratings": 10,
        "truth_movies": 4,
        "shared_reference": "vgg16-poster",
        "results": [
            {
                "plugin": "hybrid",
                "rmse": 0.9,
                "neighbour_recall@10": 0.4,
                "recall_movies": 3,
                "neighbour_recall@10_shared": 0.55,
                "shared_movies": 2,
                "ndcg@10": 0.1,
            }
        ],
    }
    row = format_cold(report).splitlines()[3].split()
    assert row == ["hybrid", "0.9000", "0.4000", "3", "0.5500", "2", "0.1000"]


def test_neighbours_come_from_candidates_only() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((50, 4)).astype(np.float32)
    queries = np.ones(50, dtype=bool)
    candidates = np.arange(50) % 2 == 0
    index, score = topk_among(vectors, queries, candidates, 5, block=7)
    assert (index % 2 == 0).all() and (index != np.arange(50)[:, None]).all()
    assert (np.diff(score, axis=1) <= 0).all()
    unit_rows = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    best = np.argmax(np.where(candidates & (np.arange(50) != 3), unit_rows @ unit_rows[3], -2))
    assert index[3, 0] == best
