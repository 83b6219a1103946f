"""The plugin contract kit (reelpick.testing): built-in plugins pass it, broken plugins do not."""

from __future__ import annotations

import importlib
import random
import re
import shutil
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from reelpick import (
    ConfigError,
    Neighbour,
    NeighbourTable,
    NoAnswer,
    PluginInfo,
    Recommendation,
    hookimpl,
    topk_cosine_dense,
)
from reelpick.config import load_config
from reelpick.data import Dataset
from reelpick.registry import BUILTIN_PLUGINS, ENTRY_POINT_GROUP, Registry
from reelpick.testing import (
    PluginContractError,
    check_plugin,
    contract_test,
    pick_queries,
    small_dataset,
    subset_dataset,
)
from tests.support.fixtures import ML_SMALL, POSTERS, REPO, VGG16_WEIGHTS, skip_or_fail


def builtin(name: str) -> type:
    """The class of built-in plugin ``name``; skip if its module is not written yet.

    Only a missing module itself skips: a module that exists but fails to import (a missing
    dependency of its own, a syntax error) fails the test.
    """
    module, _, attribute = BUILTIN_PLUGINS[name].partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        skip_or_fail(f"{module} is not in this checkout yet (plugin {name} not written)")


@pytest.fixture(scope="module")
def small(ml_small: Dataset) -> Dataset:
    """400 real movies of ml-latest-small with all their ratings and tags."""
    return small_dataset(ml_small, 400)


# -- the built-in plugins pass the kit ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("cosine-cf", {}),
        ("cosine-cf", {"adjusted": True, "prediction": "zero-filled"}),
        ("sgd-mf", {"epochs": 12, "factors": 20}),
    ],
    ids=["cosine-cf", "cosine-cf-adjusted", "sgd-mf"],
)
def test_builtin_plugin_passes_the_contract(
    name: str, params: dict, small: Dataset, tmp_path: Path
) -> None:
    report = check_plugin(builtin(name), small, params, name=name, cache_root=tmp_path)
    assert report.name == name
    assert report.answered > report.queries // 2, report
    assert report.cache_files > 0
    assert report.predicts  # both rating-based plugins predict ratings
    assert report.recommends and any("reelpick_recommend" in c for c in report.checks)
    print(report)


@pytest.mark.slow
def test_vgg16_poster_passes_the_contract(
    ml_small: Dataset, tmp_path: Path, require_shared
) -> None:
    """Real ImageNet weights on 20 real posters: a small dataset of just those movies."""
    plugin = builtin("vgg16-poster")
    require_shared(VGG16_WEIGHTS, POSTERS)
    with_posters = sorted(int(p.stem) for p in POSTERS.glob("*.jpg") if int(p.stem) in ml_small)
    chosen = with_posters[:: max(1, len(with_posters) // 20)][:20]
    folder = tmp_path / "posters"
    folder.mkdir()
    for movie_id in chosen:  # a copy in tmp: the plugin sees exactly these posters
        shutil.copy(POSTERS / f"{movie_id}.jpg", folder)
    # Two movies without a poster: the plugin must say so (NoAnswer), not guess.
    no_poster = [m for m in ml_small.movies.index[:60] if m not in with_posters][:2]
    dataset = subset_dataset(ml_small, chosen + no_poster, label="vgg16 contract")
    (tmp_path / "config.toml").write_text(f'[posters]\ndir = "{folder}"\n')
    config = load_config(tmp_path / "config.toml")
    report = check_plugin(
        plugin,
        dataset,
        {"weights": str(VGG16_WEIGHTS), "pooling": "avg", "batch_size": 8},
        k=5,
        name="vgg16-poster",
        config=config,
        cache_root=tmp_path / "cache",
    )
    assert report.answered >= len(chosen) - 2, report
    assert report.no_answer >= len(no_poster), report
    assert report.recommends, report
    print(report)


# -- a small correct plugin, and broken variants the kit must catch ----------------------


class SameGenres:
    """Movies sharing the most genres: cosine of one-hot genre vectors (a correct plugin)."""

    def __init__(self) -> None:
        self.table: NeighbourTable | None = None

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            label="Same genres", description="Movies sharing genres.", params={"neighbours": 20}
        )

    @hookimpl
    def reelpick_fit(self, dataset, params, store) -> None:
        self.table = NeighbourTable.load(store)
        if self.table is None:
            self.table = self.build(dataset, params)
            self.table.save(store)

    def build(self, dataset, params) -> NeighbourTable:
        genres = sorted({g for gs in dataset.movies["genres"] for g in gs})
        onehot = np.array([[g in gs for g in genres] for gs in dataset.movies["genres"]], "f4")
        index, score = topk_cosine_dense(onehot, params["neighbours"])
        return NeighbourTable(dataset.movies.index.to_numpy(), index, score)

    @hookimpl
    def reelpick_similar(self, movie_id, k):
        found = self.table.lookup(movie_id, k)
        if not found:
            raise NoAnswer("no genres known for this movie")
        return found


class IncludesQuery(SameGenres):
    @hookimpl
    def reelpick_similar(self, movie_id, k):
        return [Neighbour(movie_id, 1.0), *super().reelpick_similar(movie_id, k)][:k]


class Unsorted(SameGenres):
    @hookimpl
    def reelpick_similar(self, movie_id, k):
        return super().reelpick_similar(movie_id, k)[::-1]


class IgnoresK(SameGenres):
    @hookimpl
    def reelpick_similar(self, movie_id, k):
        return super().reelpick_similar(movie_id, k + 5)


class NumpyIds(SameGenres):
    @hookimpl
    def reelpick_similar(self, movie_id, k):
        found = super().reelpick_similar(movie_id, k)
        return [Neighbour(np.int64(n.movie_id), n.score) for n in found]


class KeyErrorOnUnknown(SameGenres):
    @hookimpl
    def reelpick_similar(self, movie_id, k):
        if self.table.position(movie_id) is None:
            raise KeyError(movie_id)
        return super().reelpick_similar(movie_id, k)


class EmptyOnUnknown(SameGenres):
    @hookimpl
    def reelpick_similar(self, movie_id, k):
        return self.table.lookup(movie_id, k) or []


class AlwaysRefits(SameGenres):
    @hookimpl
    def reelpick_fit(self, dataset, params, store) -> None:
        self.table = self.build(dataset, params)
        self.table.save(store)


class NeverCaches(SameGenres):
    @hookimpl
    def reelpick_fit(self, dataset, params, store) -> None:
        self.table = self.build(dataset, params)


class Random(SameGenres):
    def build(self, dataset, params) -> NeighbourTable:
        table = super().build(dataset, params)
        table.score = table.score + np.float32(random.random())  # a fit that is not seeded
        return table


class WritesOnQuery(SameGenres):
    @hookimpl
    def reelpick_fit(self, dataset, params, store) -> None:
        super().reelpick_fit(dataset, params, store)
        self.store = store

    @hookimpl
    def reelpick_similar(self, movie_id, k):
        self.table.save(self.store, "last-query")
        return super().reelpick_similar(movie_id, k)


class LosesScoresInCache(SameGenres):
    @hookimpl
    def reelpick_fit(self, dataset, params, store) -> None:
        cached = NeighbourTable.load(store)
        super().reelpick_fit(dataset, params, store)
        if cached is not None:
            self.table.score = self.table.score.round(1)


class MisspelledHook(SameGenres):
    @hookimpl
    def reelpick_simlar(self, movie_id, k):
        return []


class FitFails(SameGenres):
    @hookimpl
    def reelpick_fit(self, dataset, params, store) -> None:
        raise RuntimeError("the model file is missing")


class CrashesOnSomeMovies(SameGenres):
    @hookimpl
    def reelpick_similar(self, movie_id, k):
        if movie_id % 2:
            raise ValueError("odd movie ids are not supported")
        return super().reelpick_similar(movie_id, k)


class PredictCrashes(SameGenres):
    @hookimpl
    def reelpick_predict(self, user_id, movie_ids):
        return [float(len(movie_ids))] * (len(movie_ids) - 1)


class BadParams(SameGenres):
    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            label="Same genres",
            description="Movies sharing genres.",
            params={"neighbours": 20, "path": Path("/tmp")},
        )


BROKEN = [
    (IncludesQuery, "returned the query movie itself"),
    (Unsorted, "not sorted best first"),
    (IgnoresK, "more than k"),
    (NumpyIds, "use a plain int"),
    (KeyErrorOnUnknown, "a movie id not in the dataset, gave error KeyError"),
    (EmptyOnUnknown, r"a movie id not in the dataset, gave \[\]; it must raise reelpick.NoAnswer"),
    (AlwaysRefits, "a second fit from its own cache wrote to the cache"),
    (NeverCaches, "wrote nothing under its cache folder"),
    (Random, "answers differ when refitted"),
    (WritesOnQuery, "answering queries wrote to the cache"),
    (LosesScoresInCache, "answers differ when from cache"),
    (MisspelledHook, "reelpick_simlar"),
    (FitFails, "reelpick_fit failed into .*: RuntimeError: the model file is missing"),
    (CrashesOnSomeMovies, "raised or returned ValueError: odd movie ids are not supported"),
    (PredictCrashes, "expected one finite float per movie"),
    (BadParams, r"PluginInfo.params\['path'\] is a PosixPath"),
]


def test_a_correct_plugin_passes(small: Dataset, tmp_path: Path) -> None:
    report = check_plugin(SameGenres, small, cache_root=tmp_path)
    assert report.name == "same-genres"  # named after its label unless name= is given
    assert report.answered == report.queries  # every movie of ml-latest-small has genres
    assert report.cache_files == 2  # table + manifest
    assert "unknown movie id raises NoAnswer" in report.checks


def test_a_plugin_object_is_reused_across_fits(small: Dataset, tmp_path: Path) -> None:
    plugin = SameGenres()
    report = check_plugin(
        plugin, small, {"neighbours": 12}, k=12, name="genres", cache_root=tmp_path
    )
    assert plugin.table is not None and plugin.table.index.shape[1] == 12
    assert report.name == "genres"


@pytest.mark.parametrize(("plugin", "expected"), BROKEN, ids=[p.__name__ for p, _ in BROKEN])
def test_the_kit_catches_a_broken_plugin(
    plugin: type, expected: str, small: Dataset, tmp_path: Path
) -> None:
    with pytest.raises(PluginContractError) as failure:
        check_plugin(plugin, small, name="broken", cache_root=tmp_path)
    message = str(failure.value)
    assert message.startswith("plugin 'broken' (Same genres) breaks the reelpick plugin contract")
    assert re.search(expected, message), message


# -- reelpick_recommend: a correct plugin, and broken variants the kit must catch ----------


class Recommends(SameGenres):
    """SameGenres that also recommends: the genre neighbours of the liked movies."""

    @hookimpl
    def reelpick_recommend(self, profile, k, exclude):
        liked = dict.fromkeys(profile.liked(), 1.0)
        if not any(self.table.has_neighbours(m) for m in liked):
            raise NoAnswer("no liked movie with genres")
        return self.table.recommend(liked, k, exclude)


class RecommendsTheProfile(Recommends):
    @hookimpl
    def reelpick_recommend(self, profile, k, exclude):
        found = super().reelpick_recommend(profile, k, exclude)
        return [Recommendation(min(profile.ratings, default=1), 99.0), *found][:k]


class BecauseNamesStrangers(Recommends):
    @hookimpl
    def reelpick_recommend(self, profile, k, exclude):
        found = super().reelpick_recommend(profile, k, exclude)
        return [Recommendation(r.movie_id, r.score, (r.movie_id,)) for r in found]


class RecommendsUnsorted(Recommends):
    @hookimpl
    def reelpick_recommend(self, profile, k, exclude):
        return super().reelpick_recommend(profile, k, exclude)[::-1]


class RecommendsPastK(Recommends):
    @hookimpl
    def reelpick_recommend(self, profile, k, exclude):
        return super().reelpick_recommend(profile, k + 5, exclude)


class RecommendsNeighbours(Recommends):
    @hookimpl
    def reelpick_recommend(self, profile, k, exclude):
        found = super().reelpick_recommend(profile, k, exclude)
        return [Neighbour(r.movie_id, r.score) for r in found]


class CrashesOnAnEmptyProfile(Recommends):
    @hookimpl
    def reelpick_recommend(self, profile, k, exclude):
        best = max(profile.ratings.values())  # ValueError for an empty profile
        return super().reelpick_recommend(profile, k, exclude) if best else []


class NeverRecommends(Recommends):
    @hookimpl
    def reelpick_recommend(self, profile, k, exclude):
        raise NoAnswer("I only do similar movies")


class RecommendsAtRandom(Recommends):
    @hookimpl
    def reelpick_fit(self, dataset, params, store) -> None:
        super().reelpick_fit(dataset, params, store)
        self.lift = random.random()  # a fit that is not seeded

    @hookimpl
    def reelpick_recommend(self, profile, k, exclude):
        found = super().reelpick_recommend(profile, k, exclude)
        return [Recommendation(r.movie_id, r.score + self.lift, r.because) for r in found]


class WritesOnRecommend(Recommends):
    @hookimpl
    def reelpick_fit(self, dataset, params, store) -> None:
        super().reelpick_fit(dataset, params, store)
        self.store = store

    @hookimpl
    def reelpick_recommend(self, profile, k, exclude):
        self.table.save(self.store, "last-profile")
        return super().reelpick_recommend(profile, k, exclude)


BROKEN_RECOMMEND = [
    (
        RecommendsTheProfile,
        r"reelpick_recommend\(\d+ ratings of user \d+, k=10\) returned an excluded movie",
    ),
    (BecauseNamesStrangers, "because may only name movies of the profile"),
    (RecommendsUnsorted, "not sorted best first"),
    (RecommendsPastK, "more than k"),
    (RecommendsNeighbours, "returned Neighbour, not reelpick.Recommendation"),
    (
        CrashesOnAnEmptyProfile,
        r"reelpick_recommend\(an empty profile, k=10\) raised or returned ValueError",
    ),
    (NeverRecommends, "should get recommendations"),
    (RecommendsAtRandom, "reelpick_recommend answers differ when (from cache|refitted)"),
    (WritesOnRecommend, "answering queries wrote to the cache"),
]


def test_a_correct_recommending_plugin_passes(small: Dataset, tmp_path: Path) -> None:
    report = check_plugin(Recommends, small, name="recommends", cache_root=tmp_path)
    assert report.recommends and any("reelpick_recommend" in c for c in report.checks)
    assert not check_plugin(SameGenres, small, cache_root=tmp_path / "b").recommends


@pytest.mark.parametrize(
    ("plugin", "expected"), BROKEN_RECOMMEND, ids=[p.__name__ for p, _ in BROKEN_RECOMMEND]
)
def test_the_kit_catches_a_broken_recommend(
    plugin: type, expected: str, small: Dataset, tmp_path: Path
) -> None:
    with pytest.raises(PluginContractError) as failure:
        check_plugin(plugin, small, name="broken", cache_root=tmp_path)
    assert re.search(expected, str(failure.value)), str(failure.value)


def test_unknown_params_are_refused_before_fitting(small: Dataset, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[plugins.genres\] size: unknown parameter"):
        check_plugin(SameGenres, small, {"size": 3}, name="genres", cache_root=tmp_path)


def test_queries_cover_popular_rare_and_unrated_movies(ml_small: Dataset) -> None:
    queries = pick_queries(ml_small)
    counts = ml_small.rating_counts
    assert len(queries) == len(set(queries)) == 24
    assert counts[queries[0]] == counts.max()  # the most rated movie comes first
    assert (counts[queries] == 0).any() and (counts[queries] == 1).any()
    assert pick_queries(ml_small) == queries  # seeded


def test_small_dataset_keeps_real_ratings_and_tags(ml_small: Dataset, small: Dataset) -> None:
    assert len(small.movies) == 400
    assert small.fingerprint != ml_small.fingerprint
    assert set(small.ratings["movieId"]) <= set(small.movies.index)
    assert len(small.ratings) > 20_000 and len(small.tags) > 100
    assert small.matrix.matrix.shape == (small.ratings["userId"].nunique(), 400)
    assert small_dataset(ml_small, 400).fingerprint == small.fingerprint
    with pytest.raises(ValueError, match="not in the dataset"):
        subset_dataset(ml_small, [1, 10**9])


# A test module can also take the contract as a ready-made test function:
test_contract_test_wrapper = contract_test(
    SameGenres, lambda: small_dataset(load_dataset_once(), 150), name="same-genres"
)


def load_dataset_once() -> Dataset:
    from reelpick.data import load_dataset

    return load_dataset(ML_SMALL)


def test_a_plugin_registered_later_never_answers_for_an_earlier_one(
    make_config, small: Dataset
) -> None:
    """The registry caches one hook caller per plugin; a later plugin must not slip into it."""

    class Loud(SameGenres):
        @hookimpl
        def reelpick_similar(self, movie_id, k):
            return [Neighbour(2, 9.0)]

    registry = Registry(make_config(), load_entry_points=False, load_builtins=False)
    registry.register(SameGenres(), "first")
    registry.fit(small, ["first"])
    before = registry.ask("first", 1, 5)
    registry.register(Loud(), "second")
    assert registry.ask("first", 1, 5).neighbours == before.neighbours and before.ok
    registry.fit(small, ["second"])
    assert registry.ask("second", 1, 5).neighbours == [Neighbour(2, 9.0)]


# -- the code in docs/writing-plugins.md runs --------------------------------------------

DOCS = REPO / "docs" / "writing-plugins.md"


def doc_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOCS.read_text(), re.S)


@pytest.fixture
def docs_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The "complete plugin" of the docs, saved as same_genres.py and importable."""
    [block] = [b for b in doc_blocks("python") if "class SameGenres" in b]
    (tmp_path / "same_genres.py").write_text(block)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "same_genres", raising=False)
    yield block
    sys.modules.pop("same_genres", None)


def test_the_complete_plugin_in_the_docs_passes_the_kit(
    docs_plugin: str, small: Dataset, tmp_path: Path
) -> None:
    from same_genres import SameGenres as DocsSameGenres

    code = [
        line
        for line in docs_plugin.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", '"""'))
    ]
    assert len(code) <= 30, "the docs promise a plugin in about 20 lines"
    report = check_plugin(DocsSameGenres, small, cache_root=tmp_path / "kit")
    assert report.answered == report.queries and report.name == "same-genres"
    print(report)


def test_the_recommend_example_in_the_docs_passes_the_kit(
    docs_plugin: str, small: Dataset, tmp_path: Path
) -> None:
    from same_genres import SameGenres as DocsSameGenres

    [method] = [b for b in doc_blocks("python") if "def reelpick_recommend" in b]
    namespace = {"SameGenres": DocsSameGenres, "hookimpl": hookimpl, "NoAnswer": NoAnswer}
    exec("class WithRecommend(SameGenres):\n" + method, namespace)
    report = check_plugin(namespace["WithRecommend"], small, cache_root=tmp_path / "kit")
    assert report.recommends, report


def test_the_other_python_blocks_in_the_docs_run(
    docs_plugin: str, make_config, tmp_path: Path, capsys
) -> None:
    from same_genres import SameGenres as DocsSameGenres

    config = make_config()
    try_it = next(b for b in doc_blocks("python") if "registry.register(SameGenres()" in b)
    try_it = try_it.replace('load_config("config.toml")', f'load_config("{config.path}")')
    exec(try_it.replace("path/to/ml-latest-small", str(ML_SMALL)), {"SameGenres": DocsSameGenres})
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 5 and all(re.fullmatch(r".+ \(\d{4}\) [01]\.\d+", p) for p in printed)

    test_file = next(b for b in doc_blocks("python") if "def test_contract(tmp_path)" in b)
    namespace: dict = {}
    exec(test_file.replace("path/to/ml-latest-small", str(ML_SMALL)), namespace)
    namespace["test_contract"](tmp_path / "a")
    namespace["test_contract_again"](tmp_path / "b")


def test_the_packaging_and_config_examples_in_the_docs_are_valid(make_config) -> None:
    toml_blocks = [tomllib.loads(b) for b in doc_blocks("toml")]
    [package] = [b for b in toml_blocks if "project" in b]
    assert package["project"]["entry-points"][ENTRY_POINT_GROUP] == {
        "same-genres": "same_genres:SameGenres"
    }
    [settings] = [b for b in toml_blocks if "plugins" in b]
    assert settings["plugins"]["enabled"] == ["cosine-cf", "same-genres"]
    # The example pyproject really declares the entry point the docs describe.
    example = tomllib.loads((REPO / "examples/reelpick-genre-tags/pyproject.toml").read_text())
    assert example["project"]["entry-points"][ENTRY_POINT_GROUP] == {
        "genre-tags": "reelpick_genre_tags:GenreTags"
    }


def test_the_docs_name_every_hook_and_every_builtin_plugin() -> None:
    from reelpick import hookspecs

    text = DOCS.read_text()
    hooks = {name for name in dir(hookspecs) if name.startswith("reelpick_")}
    assert set(re.findall(r"^\| `(reelpick_\w+)\(", text, re.M)) == hooks
    assert set(re.findall(r"^\| `([a-z0-9-]+)` \| ", text, re.M)) == set(BUILTIN_PLUGINS)
