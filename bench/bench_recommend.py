"""Recommendations for a profile: how cosine-CF weighs a profile, and how fast each plugin answers.

``weighting`` chooses cosine-CF's profile weighting on a validation split *inside* the training
data (ml-latest-small): for every user with 20+ ratings, 5 of their ratings of 4 stars or more
are held out; the neighbour table is fitted on the rest; each user's remaining ratings are the
profile, and the score is recall@10 of the held-out movies (mean over users).

``latency`` fits each plugin on ml-latest-small (defaults; a warm cache is reused) and times
``Registry.ask_recommend`` (the hook plus the registry's checks, as the bot and the CLI call
it) for 50-rating profiles taken from real users, warm (after one untimed call): p50 and p95. vgg16-poster
indexes the shared posters (features computed once into the cache); genre-tags is the example.

    .venv/bin/python bench/bench_recommend.py weighting
    .venv/bin/python bench/bench_recommend.py latency [--plugin NAME ...] [--cache DIR]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from reelpick import NeighbourTable, Profile, topk_cosine_sparse
from reelpick.config import DEFAULTS, Config
from reelpick.data import Dataset, load_dataset
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
    train, answers = split(dataset)
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


def latency(
    dataset: Dataset, plugins: list[str], cache: Path, runs: int, posters: str, weights: str
) -> None:
    values = copy.deepcopy(DEFAULTS)
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
        error = registry.fit(dataset, [name])[name]
        if error:
            print(f"{name:<14} not fitted: {error}")
            continue
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
        "--weights", default=str(SHARED / "models" / "vgg16_imagenet_notop.weights.h5")
    )
    args = parser.parse_args(argv)
    dataset = load_dataset(args.data)
    if args.what == "weighting":
        weighting(dataset)
        return 0
    plugins = args.plugin or ["cosine-cf", "sgd-mf", "vgg16-poster", "genre-tags"]
    options = (args.runs, args.posters, args.weights)
    if args.cache:
        latency(dataset, plugins, Path(args.cache), *options)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            latency(dataset, plugins, Path(tmp), *options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
