"""Recommendations for a profile: how cosine-CF weighs a profile, and how fast each plugin answers.

``weighting`` compares cosine-CF's profile weightings on a validation split *inside* the
training data (ml-latest-small): first every rating a top-N protocol may test on goes
(:func:`reelpick.evaluation.tuning.tuning_training`: each user's last 10 ratings and last
session), then for every user with 20+ of the remaining ratings, 5 of their ratings of 4 stars
or more are held out; the neighbour table is fitted on the rest; each user's remaining ratings
are the profile, and the score is recall@10 of the held-out movies (mean over users). The
shipped default is chosen by ``reelpick tune cosine-cf`` (nDCG@10 on the top-N protocol's own
validation users); this is a second, random-hold-out view of the same choice.

``latency`` fits each plugin on ml-latest-small (defaults; a warm cache is reused) and times
``Registry.ask_recommend`` (the hook plus the registry's checks, as the bot and the CLI call
it) for 50-rating profiles taken from real users, warm (after one untimed call): p50 and p95. vgg16-poster
indexes the shared posters (features computed once into the cache); genre-tags is the example.

    .venv/bin/python bench/bench_recommend.py weighting
    .venv/bin/python bench/bench_recommend.py latency [--plugin NAME ...] [--cache DIR]
    .venv/bin/python bench/bench_recommend.py latency --synthetic-25m --plugin cosine-cf --plugin ease

``--synthetic-25m`` replaces the data with bench_cosine.py's ml-25m-sized synthetic ratings
(162,541 users x 62,423 movies, 25 M ratings, power-law activity and popularity), held in
memory; the movies are synthetic too ("Synthetic movie 123 (2000)", genres cycled over the
MovieLens genres). Profiles are the first 50 ratings of real-sized synthetic users.
"""

from __future__ import annotations

import argparse
import copy
import resource
import statistics
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from reelpick import NeighbourTable, Profile, topk_cosine_sparse
from reelpick.config import DEFAULTS, Config
from reelpick.data import Dataset, load_dataset
from reelpick.evaluation.tuning import tuning_training
from reelpick.plugins.cosine_cf import WEIGHTINGS, profile_weights
from reelpick.registry import Registry

SHARED = Path(__file__).resolve().parents[2] / "shared"
ML_SMALL = SHARED / "data" / "ml-latest-small"


def split(dataset: Dataset, held: int = 5, seed: int = 0) -> tuple[Dataset, dict[int, set[int]]]:
    """Training ratings and, per user, the held-out liked movies."""
    rng = np.random.default_rng(seed)
    ratings = dataset.ratings
    out = np.zeros(len(ratings), dtype=bool)
    answers: dict[int, set[int]] = {}
    for user, rows in ratings.groupby("userId").indices.items():
        liked = rows[ratings["rating"].to_numpy()[rows] >= 4.0]
        if len(rows) < 20 or len(liked) < held + 5:
            continue
        chosen = rng.choice(liked, held, replace=False)
        out[chosen] = True
        answers[int(user)] = set(ratings["movieId"].to_numpy()[chosen].tolist())
    train = dataset.with_ratings(ratings[~out].reset_index(drop=True), f"recommend seed={seed}")
    return train, answers


def weighting(dataset: Dataset) -> None:
    train, answers = split(tuning_training(dataset))
    index, score = topk_cosine_sparse(train.matrix.matrix, 50, 3)
    table = NeighbourTable(train.matrix.movie_ids, index, score)
    by_user = train.ratings.groupby("userId")
    for how in WEIGHTINGS:
        for combine in ("sum", "max"):
            recalls = []
            for user, held in answers.items():
                rows = by_user.get_group(user)
                profile = Profile(ratings=dict(zip(rows["movieId"], rows["rating"], strict=True)))
                found = table.recommend(profile_weights(profile, how), 10, combine=combine)
                recalls.append(len(held & {r.movie_id for r in found}) / len(held))
            print(
                f"{how:<8} {combine:<4} recall@10 {statistics.mean(recalls):.4f} "
                f"({len(recalls)} users)"
            )


def parse_settings(settings: list[str]) -> dict[str, dict]:
    """``["sgd-mf.epochs=2"]`` -> ``{"sgd-mf": {"epochs": 2}}`` (values parsed as TOML)."""
    found: dict[str, dict] = {}
    for setting in settings:
        name, _, assignment = setting.partition(".")
        key, _, value = assignment.partition("=")
        if not (name and key and value):
            raise SystemExit(f"--set {setting!r}: expected PLUGIN.KEY=VALUE")
        found.setdefault(name, {})[key] = tomllib.loads(f"v = {value}")["v"]
    return found


def latency(
    dataset: Dataset,
    plugins: list[str],
    cache: Path,
    runs: int,
    posters: str,
    weights: str,
    settings: dict[str, dict] | None = None,
) -> None:
    values = copy.deepcopy(DEFAULTS)
    for name, params in (settings or {}).items():
        values["plugins"].setdefault(name, {}).update(params)
        print(f"{name}: {params}", flush=True)
    values["cache"]["dir"] = str(cache)
    values["posters"]["dir"] = posters
    values["plugins"]["vgg16-poster"] = {"weights": weights}
    registry = Registry(Config(values=values), load_entry_points=True)
    if "genre-tags" in plugins and "genre-tags" not in registry.plugins:
        sys.path.insert(
            0, str(Path(__file__).resolve().parents[1] / "examples/reelpick-genre-tags/src")
        )
        from reelpick_genre_tags import GenreTags

        registry.register(GenreTags(), "genre-tags")
    counts = dataset.ratings["userId"].value_counts()
    users = sorted(counts.index[counts >= 50])[:runs]
    profiles = []
    for user in users:
        rows = dataset.ratings[dataset.ratings["userId"] == user].head(50)
        profiles.append(Profile(ratings=dict(zip(rows["movieId"], rows["rating"], strict=True))))
    for name in plugins:
        started = time.perf_counter()
        error = registry.fit(dataset, [name])[name]
        if error:
            print(f"{name:<14} not fitted: {error}")
            continue
        print(f"{name:<14} fitted (or loaded) in {time.perf_counter() - started:.1f} s", flush=True)
        registry.ask_recommend(name, profiles[0], 10)  # warm: first-call imports and caches
        seconds, outcomes = [], set()
        for profile in profiles:
            started = time.perf_counter()
            answer = registry.ask_recommend(name, profile, 10)
            seconds.append(time.perf_counter() - started)
            outcomes.add("ok" if answer.ok else answer.error or answer.no_answer)
        ms = np.array(seconds) * 1e3
        print(
            f"{name:<14} p50 {np.percentile(ms, 50):6.2f} ms  p95 {np.percentile(ms, 95):6.2f} ms"
            f"  max {ms.max():6.2f} ms  ({len(ms)} profiles of 50 ratings; {sorted(outcomes)})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["weighting", "latency"])
    parser.add_argument("--data", default=str(ML_SMALL))
    parser.add_argument("--plugin", action="append", help="latency: only these plugins")
    parser.add_argument("--cache", help="latency: cache folder (default: a temporary one)")
    parser.add_argument("--runs", type=int, default=200, help="latency: profiles timed")
    parser.add_argument("--posters", default=str(SHARED / "data" / "posters"))
    parser.add_argument(
        "--synthetic-25m", action="store_true", help="latency: ml-25m-sized synthetic data"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PLUGIN.KEY=VALUE",
        help="latency: a plugin parameter (TOML value), e.g. sgd-mf.epochs=2 to time the "
        "recommend path of a model too slow to fit fully here",
    )
    parser.add_argument(
        "--weights", default=str(SHARED / "models" / "vgg16_imagenet_notop.weights.h5")
    )
    args = parser.parse_args(argv)
    dataset = synthetic_25m() if args.synthetic_25m else load_dataset(args.data)
    if args.what == "weighting":
        weighting(dataset)
        return 0
    plugins = args.plugin or ["cosine-cf", "sgd-mf", "vgg16-poster", "genre-tags"]
    options = (args.runs, args.posters, args.weights, parse_settings(args.set))
    if args.cache:
        latency(dataset, plugins, Path(args.cache), *options)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            latency(dataset, plugins, Path(tmp), *options)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"peak RSS of this process: {peak:.2f} GiB")
    return 0


GENRES = ("Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary")
GENRES += ("Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi")
GENRES += ("Thriller", "War", "Western")


def synthetic_25m() -> Dataset:
    """bench_cosine.py's ml-25m-sized ratings as a Dataset (movie ids and user ids from 1)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_cosine import synthetic_ratings

    started = time.perf_counter()
    matrix = synthetic_ratings()
    n_users, n_movies = matrix.shape
    user_ids = np.repeat(np.arange(1, n_users + 1, dtype=np.int64), np.diff(matrix.indptr))
    ratings = pd.DataFrame(
        {
            "userId": user_ids,
            "movieId": matrix.indices.astype(np.int64) + 1,
            "rating": matrix.data.astype(np.float32),
            # Increasing within each user, so "latest" ratings are well defined.
            "timestamp": np.arange(matrix.nnz, dtype=np.int64) + 1_000_000_000,
        }
    )
    del matrix, user_ids
    ids = np.arange(1, n_movies + 1, dtype=np.int64)
    years = 1950 + ids % 70
    movies = pd.DataFrame(
        {
            "title": [f"Synthetic movie {i} ({y})" for i, y in zip(ids, years, strict=True)],
            "name": [f"Synthetic movie {i}" for i in ids],
            "year": pd.array(years, dtype="Int64"),
            "genres": [(GENRES[i % len(GENRES)],) for i in ids],
            "imdb_id": pd.array([None] * n_movies, dtype="Int64"),
            "tmdb_id": pd.array([None] * n_movies, dtype="Int64"),
        },
        index=pd.Index(ids, name="movieId"),
    )
    tags = pd.DataFrame(
        {
            "userId": pd.Series(dtype=np.int64),
            "movieId": pd.Series(dtype=np.int64),
            "tag": pd.Series(dtype=str),
            "timestamp": pd.Series(dtype=np.int64),
        }
    )
    print(
        f"synthetic: {n_users:,} users x {n_movies:,} movies, {len(ratings):,} ratings "
        f"(made in {time.perf_counter() - started:.0f} s)",
        flush=True,
    )
    return Dataset(movies, ratings, tags, "synthetic-25m-seed0", "synthetic ml-25m-sized (seed 0)")


if __name__ == "__main__":
    sys.exit(main())
