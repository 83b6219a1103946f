"""Choose the hybrid's similar-movie settings for unrated movies on validation films.

``bench/bench_new_releases.py`` holds out the newest 10 % of the movies (all their ratings
and tags) and measures the hybrid's similar movies for them. This script never looks at
those films: it works in the world before them (the bench's training split, the held-out
films removed from the catalogue), where the newest 10 % of the remaining movies lose their
ratings and tags in turn. Those are the validation films; their truth is cosine-CF's top-10
on the bench's training data, as in the bench's own validation of the genre+year baseline.

The hybrid is fitted once on that world (posters included, as configured). For each setting
on the grid every validation film's similar movies are computed by the plugin's own code
(:mod:`plugins._hybrid_unrated`, the taste cosines of the fitted hybrid), and the settings with
the best mean neighbour recall@10 are printed, with the lines for config.toml.

    .venv/bin/python bench/tune_hybrid_unrated.py [--share 0.1] [--min-ratings 10]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import logging
import sys
import time
from pathlib import Path

import numpy as np
from bench_new_releases import K, hold_out_newest, recalls, say, truth_for  # this folder

from reelpick import Dataset
from reelpick.config import load_config
from reelpick.data import load_dataset
from reelpick.plugins._hybrid_unrated import settings_from
from reelpick.registry import Registry

YEAR_WEIGHTS = (1.0, 2.0, 5.0, 10.0, 20.0)
YEAR_SCALES = (5.0, 10.0, 20.0, 40.0)
AUDIENCE_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
TASTE_WEIGHTS = (0.0, 0.25, 0.5, 1.0)
POOLS = (0, 5, 20, 40)


def world_without(dataset: Dataset, movies: np.ndarray, label: str) -> Dataset:
    """``dataset`` as it was before ``movies`` existed (they must have no ratings left)."""
    assert not dataset.ratings["movieId"].isin(movies).any()
    digest = hashlib.sha256(f"{dataset.fingerprint}|{label}|{len(movies)}".encode())
    return dataclasses.replace(
        dataset,
        movies=dataset.movies.drop(index=movies),
        tags=dataset.tags[~dataset.tags["movieId"].isin(movies)].reset_index(drop=True),
        fingerprint=digest.hexdigest()[:20],
        source=f"{dataset.source} [{label}]",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--share", type=float, default=0.1)
    parser.add_argument("--min-ratings", type=int, default=10)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    config = load_config(args.config)
    full = load_dataset(config.data_source)
    test = hold_out_newest(full, full.movies.index.to_numpy(), args.share, "new releases")
    world = world_without(test.data, test.movies, "before the new releases")
    validation = hold_out_newest(
        world, world.movies.index.to_numpy(), args.share, "validation films"
    )
    truth, counts = truth_for(config, world, validation.movies, args.min_ratings)
    say(
        f"never seen: the {len(test.movies)} films of {test.cutoff}+; validation: the films "
        f"of {validation.cutoff}+ of the world before them, {counts}"
    )
    registry = Registry(config, load_entry_points=False)
    error = registry.fit(validation.data, ["hybrid"])["hybrid"]
    if error is not None:
        say(f"hybrid: not fitted ({error})")
        return 1
    hybrid = registry.plugin_object("hybrid")
    unrated, table, unit = hybrid.unrated, hybrid.table, hybrid.unit
    movies = list(truth)
    positions = [int(table.position(m)) for m in movies]
    described = [unrated.describe(p) for p in positions]
    tastes = [unit @ unit[p] for p in positions]
    results = []
    grid = itertools.product(YEAR_WEIGHTS, YEAR_SCALES, AUDIENCE_WEIGHTS, TASTE_WEIGHTS, POOLS)
    for year_weight, year_scale, audience, taste, pool in grid:
        settings = settings_from(
            {
                "unrated_year_weight": year_weight,
                "unrated_year_scale": year_scale,
                "unrated_audience_weight": audience,
                "unrated_taste_weight": taste,
                "unrated_pool": pool,
            }
        )
        answers = {
            m: [int(table.movie_ids[i]) for i, _ in unrated.top(d, K, settings, t, exclude=p)]
            for m, d, t, p in zip(movies, described, tastes, positions, strict=True)
        }
        results.append((float(recalls(truth, answers).mean()), settings))
    # Ties: the simpler setting (no taste term, then less audience, then the larger pool).
    best_recall, best = max(
        results, key=lambda r: (r[0], -r[1].taste_weight, -r[1].audience_weight, r[1].pool)
    )
    results.sort(key=lambda r: -r[0])
    print(f"validation films: {len(movies)} (of {validation.cutoff}+), truth cosine-CF top-{K}")
    print(f"{'recall@10':>9}  year weight  scale  audience  taste  pool")
    for recall, s in results[:10]:
        print(
            f"{recall:>9.4f}  {s.year_weight:>11g}  {s.year_scale:>5g}  "
            f"{s.audience_weight:>8g}  {s.taste_weight:>5g}  {s.pool:>4}"
        )
    print(
        f"\nchosen (recall {best_recall:.4f}); [plugins.hybrid] in config.toml:\n"
        f"unrated_year_weight = {best.year_weight:g}\nunrated_year_scale = {best.year_scale:g}\n"
        f"unrated_audience_weight = {best.audience_weight:g}\n"
        f"unrated_taste_weight = {best.taste_weight:g}\nunrated_pool = {best.pool}\n"
        f"(run: {time.perf_counter() - started:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
