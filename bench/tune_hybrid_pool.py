"""Choose the hybrid's ``similar_min_ratings`` on validation cold movies, never the test ones.

``evaluate --task cold`` holds out 10 % of the movies with 10+ ratings (seed 0): the test cold
movies. This script removes their ratings for good, then runs the same protocol on what is
left with seed 1: a second set of cold movies, the validation set, whose neighbour truth
(cosine-CF) is computed without the test movies' ratings. For each pool size on the grid it
prints the hybrid's neighbour recall@10 over all validation cold movies (bench_hybrid.py's
metric, the criterion; ties go to the higher recall on the movies vgg16-poster also answers
for) and beside it vgg16-poster's.

Why the pool matters: the similar movies of a cold movie are drawn from movies placed by
their own ratings; a movie placed from a handful of ratings has a noisy vector and crowds the
well-known movies out, and cosine-CF's neighbours (the truth) are well-rated movies.

    .venv/bin/python bench/tune_hybrid_pool.py [--data PATH] [--cache DIR] [--grid 10 20 ...]
"""

from __future__ import annotations

import argparse
import copy
import logging
import sys

from bench_hybrid import (  # this folder: run as bench/...py
    VALIDATION_SEED,
    add_data_arguments,
    validation_data,
)

from reelpick.config import Config
from reelpick.evaluation.cold import evaluate_cold


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)  # the same inputs and cache as bench_hybrid.py
    parser.add_argument("--grid", type=int, nargs="+", default=[10, 20, 25, 30, 40, 50])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    base, values, remaining = validation_data(args)
    print(f"validation cold movies: seed {VALIDATION_SEED}, on {remaining.source}")
    print(f"{'similar_min_ratings':>19} {'pool':>6} {'recall@10':>9} {'shared':>7} {'vgg16':>7}")
    counts = remaining.ratings["movieId"].value_counts()
    best: tuple[float, float, int] | None = None
    for threshold in args.grid:
        values["plugins"]["hybrid"]["similar_min_ratings"] = threshold
        report = evaluate_cold(
            Config(values=copy.deepcopy(values), path=base.path),
            remaining,
            plugins=["cosine-cf", "vgg16-poster", "hybrid"],
            seed=VALIDATION_SEED,
        )
        results = {r["plugin"]: r for r in report["results"]}
        hybrid, vgg = results["hybrid"], results["vgg16-poster"]
        recall, shared = hybrid["neighbour_recall@10"], hybrid["neighbour_recall@10_shared"] or 0
        pool = int((counts >= threshold).sum())
        print(
            f"{threshold:>19} {pool:>6} {recall:>9.4f} {shared:>7.4f} "
            f"{vgg['neighbour_recall@10_shared'] or 0:>7.4f}"
        )
        if best is None or (round(recall, 6), round(shared, 6)) > best[:2]:
            best = (round(recall, 6), round(shared, 6), threshold)
    assert best is not None
    print(f"chosen: similar_min_ratings = {best[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
