"""Benchmark top-N recommendations: reelpick's plugins and picks beside the usual references.

One run, one split (the temporal protocol of ``reelpick evaluate --task topn``: each user's
10 latest ratings are the test set, users with >= 20 ratings), everything scored by the same
code (:func:`reelpick.evaluation.topn.score_lists`):

  popularity   the most rated training movies the user has not rated
  implicit-als implicit's AlternatingLeastSquares, 64 factors, regularization 0.05, alpha 1,
               20 iterations, on the binary users x movies matrix (user-items orientation)
  ease-ref     EASE's closed form (Steck 2019), l2 = 500, every training movie, plain
               binary profiles: written here, independent of the plugin
  reelpick     every enabled plugin that recommends (config.toml), fitted through a Registry
               on the training ratings exactly as ``reelpick evaluate --task topn`` does,
               and the picks with the [picks] weights

Each line gives nDCG@10, Recall@10 and fit seconds, then the picks' ratio to the best
reference. Latency: p95 and median of ``Registry.ask_recommend`` per plugin, warm, for
profiles of each test user's 50 latest training ratings (goal: p95 <= 50 ms).

    .venv/bin/python -m pip install -e '.[bench]'
    .venv/bin/python bench/bench_topn.py [--data PATH] [--config PATH]
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from reelpick.app import Reelpick
from reelpick.config import Config, load_config
from reelpick.data import load_dataset
from reelpick.evaluation.topn import K, TopnResult, score_lists, temporal_split
from reelpick.evaluation.training import profiles_of
from reelpick.picks import PICKS
from reelpick.registry import Registry
from reelpick.types import Profile

REPO = Path(__file__).resolve().parent.parent
ML_SMALL = (
    Path(os.environ.get("REELPICK_SHARED", REPO.parent / "shared")) / "data" / "ml-latest-small"
)
LATENCY_PROFILE = 50  # ratings per profile in the latency line
LATENCY_GOAL_MS = 50.0


def binary_matrix(train: pd.DataFrame) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Users x movies 0/1 matrix of the training ratings, with its row and column ids."""
    user_ids, rows = np.unique(train["userId"].to_numpy(), return_inverse=True)
    movie_ids, cols = np.unique(train["movieId"].to_numpy(), return_inverse=True)
    matrix = sp.csr_matrix(
        (np.ones(len(train), dtype=np.float32), (rows, cols)),
        shape=(len(user_ids), len(movie_ids)),
    )
    return matrix, user_ids, movie_ids


def top_unseen(scores: np.ndarray, seen: np.ndarray, k: int = K) -> np.ndarray:
    scores = scores.astype(np.float64, copy=True)
    scores[seen] = -np.inf
    return np.argsort(-scores, kind="stable")[:k]


def run_popularity(train, users) -> tuple[dict[int, list[int]], float]:
    started = time.perf_counter()
    matrix, user_ids, movie_ids = binary_matrix(train)
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    seconds = time.perf_counter() - started
    lists = {}
    for user in users:
        row = matrix[np.searchsorted(user_ids, user)]
        lists[user] = movie_ids[top_unseen(counts, row.indices)].tolist()
    return lists, seconds


def run_als(train, users) -> tuple[dict[int, list[int]], float]:
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    matrix, user_ids, movie_ids = binary_matrix(train)
    started = time.perf_counter()
    # implicit wants a single-threaded BLAS (it parallelises itself, and checks on creation).
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=64, regularization=0.05, alpha=1.0, iterations=20, random_state=0
        )
        model.fit(matrix, show_progress=False)  # implicit >= 0.5: rows are users
    seconds = time.perf_counter() - started
    rows = np.searchsorted(user_ids, users)
    ids, _ = model.recommend(rows, matrix[rows], N=K, filter_already_liked_items=True)
    return {u: movie_ids[ids[i]].tolist() for i, u in enumerate(users)}, seconds


def run_ease_reference(train, users, l2: float = 500.0) -> tuple[dict[int, list[int]], float]:
    started = time.perf_counter()
    matrix, user_ids, movie_ids = binary_matrix(train)
    gram = (matrix.T @ matrix).toarray().astype(np.float32)
    gram[np.diag_indices_from(gram)] += l2
    inverse = np.linalg.inv(gram)
    weights = -inverse / np.diag(inverse)[None, :]
    weights[np.diag_indices_from(weights)] = 0
    seconds = time.perf_counter() - started
    lists = {}
    for user in users:
        row = matrix[np.searchsorted(user_ids, user)]
        scores = weights[row.indices].sum(axis=0)
        lists[user] = movie_ids[top_unseen(scores, row.indices)].tolist()
    return lists, seconds


def reelpick_config(path: str | None, cache: str) -> Config:
    config = load_config(path or REPO / "config.toml")
    values = copy.deepcopy(config.values)
    values["cache"]["dir"] = cache  # always a fresh fit, never an earlier cache
    return Config(values=values, path=config.path)


def run_reelpick(config, dataset, split, users, truth) -> tuple[list[TopnResult], Registry]:
    train = dataset.with_ratings(split.train, split.label)
    registry = Registry(config)
    app = Reelpick(config, train, registry)
    results, names = [], []
    for name in registry.enabled():
        if not registry.implements(name, "reelpick_recommend"):
            continue
        started = time.perf_counter()
        error = registry.fit(train, [name])[name]
        if error is not None:
            print(f"{name}: could not be fitted ({error})")
            continue
        names.append(name)
        results.append(TopnResult(name, 0, 0, 0, time.perf_counter() - started))
    profiles = profiles_of(split.train, users)
    answers = {u: app.recommend(p, K, names) for u, p in profiles.items()}
    for result in results:
        lists = {
            u: [
                n.movie_id
                for a in found
                if a.plugin == result.plugin and a.ok
                for n in a.neighbours
            ]
            for u, found in answers.items()
        }
        scored = score_lists(lists, truth, result.plugin)
        result.recall, result.ndcg, result.answered = scored.recall, scored.ndcg, scored.answered
    picks = {
        u: [r.movie_id for r in app.picks(profiles[u], K, answers=found)]
        for u, found in answers.items()
    }
    scored = score_lists(picks, truth, PICKS)
    scored.fit_seconds = sum(r.fit_seconds for r in results)
    return [*results, scored], registry


def latency_lines(registry: Registry, split, users) -> list[str]:
    """p95 and median ms per plugin for profiles of the 50 latest training ratings, warm."""
    train = split.train
    counts = train.groupby("userId").size()
    chosen = [u for u in users if counts.get(u, 0) >= LATENCY_PROFILE]
    latest = train[train["userId"].isin(chosen)].groupby("userId").tail(LATENCY_PROFILE)
    profiles = list(profiles_of(latest, chosen).values())
    lines = []
    for name in [n for n, p in registry.plugins.items() if p.fitted]:
        registry.ask_recommend(name, profiles[0], K)  # warm: first call pays lazy set-up
        times = []
        for profile in profiles:
            started = time.perf_counter()
            registry.ask_recommend(name, Profile(profile.ratings, rated_at=profile.rated_at), K)
            times.append((time.perf_counter() - started) * 1e3)
        p95, median = np.percentile(times, 95), np.median(times)
        verdict = "ok" if p95 <= LATENCY_GOAL_MS else "OVER GOAL"
        lines.append(
            f"recommend latency {name}: p95 {p95:.2f} ms, median {median:.2f} ms over "
            f"{len(times)} profiles of {LATENCY_PROFILE} ratings (goal <= {LATENCY_GOAL_MS:g} ms: "
            f"{verdict})"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(ML_SMALL), help="MovieLens folder or zip")
    parser.add_argument("--config", help="reelpick config (default: the repository's)")
    args = parser.parse_args()
    dataset = load_dataset(args.data)
    split = temporal_split(dataset.ratings)
    truth = {int(u): set(r["movieId"]) for u, r in split.test.groupby("userId")}
    users = sorted(truth)
    print(
        f"{dataset.source}: {len(split.train):,} training ratings, {len(users)} test users "
        f"(10 latest ratings each)\n"
    )
    references = []
    for name, run in (
        ("popularity", run_popularity),
        ("implicit-als", run_als),
        ("ease-ref", run_ease_reference),
    ):
        lists, seconds = run(split.train, users)
        result = score_lists(lists, truth, name)
        result.fit_seconds = seconds
        references.append(result)
    with tempfile.TemporaryDirectory(prefix="bench-topn-") as cache:
        config = reelpick_config(args.config, cache)
        ours, registry = run_reelpick(config, dataset, split, users, truth)
        latency = latency_lines(registry, split, users)
    print(f"{'model':<22} {'nDCG@10':>8} {'Recall@10':>9} {'fit s':>7}")
    for result in references:
        print(
            f"{result.plugin:<22} {result.ndcg:>8.4f} {result.recall:>9.4f} {result.fit_seconds:>7.1f}"
        )
    for result in ours:
        label = f"reelpick {result.plugin}"
        print(f"{label:<22} {result.ndcg:>8.4f} {result.recall:>9.4f} {result.fit_seconds:>7.1f}")
    best = max(references, key=lambda r: r.ndcg)
    picks = ours[-1]
    print(
        f"\npicks / best reference ({best.plugin}): nDCG@10 {picks.ndcg / best.ndcg:.2f}x, "
        f"Recall@10 {picks.recall / best.recall:.2f}x"
    )
    for line in latency:
        print(line)


if __name__ == "__main__":
    main()
