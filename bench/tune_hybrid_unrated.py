"""Choose the hybrid's similar-movie settings for unrated movies on validation films.

``bench/bench_new_releases.py`` holds out the newest 10 % of the movies (all their ratings
and tags) and measures the hybrid's similar movies for them. This script never looks at
those films: it works in the world before them (the bench's training split, the held-out
films removed from the catalogue), where the newest 10 % of the remaining movies lose their
ratings and tags in turn: the first validation fold. The second fold does the same in the
world before the first fold's films, and so on (``--folds``). Each fold's truth is
cosine-CF's top-10 in its own world, as in the bench's validation of the genre+year baseline;
one fold is ~150 films, too few to tell close settings apart, hence several.

The hybrid is fitted once per fold (posters included, as configured). For each setting on
the grid every validation film's similar movies are computed by the plugin's own code
(:mod:`plugins._hybrid_unrated`, the taste cosines of the fitted hybrid), and the settings
with the best mean neighbour recall@10 over all folds' films are printed, with the lines for
config.toml.

    .venv/bin/python bench/tune_hybrid_unrated.py [--share 0.1] [--min-ratings 10] [--folds 2]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from bench_new_releases import (  # this folder
    K,
    hold_out_newest,
    recalls,
    say,
    truth_for,
    world_without,
)

from reelpick.config import load_config
from reelpick.data import load_dataset
from reelpick.plugins._hybrid_unrated import UnratedSettings, settings_from
from reelpick.registry import Registry

YEAR_WEIGHTS = (2.0, 5.0, 10.0, 20.0)
YEAR_SCALES = (5.0, 10.0, 20.0, 40.0)
AUDIENCE_WEIGHTS = (0.25, 0.5, 0.75, 1.0)
TITLE_WEIGHTS = (0.0, 1.0, 2.0, 4.0, 6.0, 8.0)
TASTE_WEIGHTS = (0.0, 0.25, 0.5)
POOLS = (0, 5)


@dataclass
class Fold:
    """One fold's validation films, their truth, and the fitted hybrid's view of them."""

    cutoff: int
    truth: dict[int, set[int]]
    unrated: Any  # the fitted hybrid's UnratedNeighbours
    described: list[Any]
    tastes: list[np.ndarray]

    def recall(self, settings: UnratedSettings) -> np.ndarray:
        answers = {
            m: [i for i, _ in self.unrated.top(d, K, settings, t, exclude={m})]
            for m, d, t in zip(self.truth, self.described, self.tastes, strict=True)
        }
        return recalls(self.truth, answers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--share", type=float, default=0.1)
    parser.add_argument("--min-ratings", type=int, default=10)
    parser.add_argument("--folds", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    config = load_config(args.config)
    full = load_dataset(config.data_source, config.cache_dir)
    test = hold_out_newest(full, full.movies.index.to_numpy(), args.share, "new releases")
    world = world_without(test.data, test.movies, "before the new releases")
    say(f"never seen: the {len(test.movies)} films of {test.cutoff}+")
    folds = []
    for number in range(1, args.folds + 1):
        label = "validation films" if number == 1 else f"validation films {number}"
        validation = hold_out_newest(world, world.movies.index.to_numpy(), args.share, label)
        truth, counts = truth_for(config, world, validation.movies, args.min_ratings)
        say(f"fold {number}: the films of {validation.cutoff}+ of the world before, {counts}")
        registry = Registry(config, load_entry_points=False)
        error = registry.fit(validation.data, ["hybrid"])["hybrid"]
        if error is not None:
            say(f"hybrid: not fitted ({error})")
            return 1
        hybrid = registry.plugin_object("hybrid")
        unit, table = hybrid.unit, hybrid.table
        folds.append(
            Fold(
                validation.cutoff,
                truth,
                hybrid.unrated,
                [hybrid.unrated.describe(m) for m in truth],
                [unit @ unit[int(table.position(m))] for m in truth],
            )
        )
        world = world_without(validation.data, validation.movies, f"before {label}")
    results = []
    grid = itertools.product(
        YEAR_WEIGHTS, YEAR_SCALES, AUDIENCE_WEIGHTS, TITLE_WEIGHTS, TASTE_WEIGHTS, POOLS
    )
    for year_weight, year_scale, audience, title, taste, pool in grid:
        settings = settings_from(
            {
                "unrated_year_weight": year_weight,
                "unrated_year_scale": year_scale,
                "unrated_audience_weight": audience,
                "unrated_title_weight": title,
                "unrated_taste_weight": taste,
                "unrated_pool": pool,
            }
        )
        per_fold = [fold.recall(settings) for fold in folds]
        mean = float(np.concatenate(per_fold).mean())
        results.append((mean, [float(r.mean()) for r in per_fold], settings))

    # Ties: the simpler setting (no taste term, less audience and title, the larger pool).
    def simpler(r: tuple[float, list[float], UnratedSettings]) -> tuple[float, ...]:
        s = r[2]
        return (r[0], -s.taste_weight, -s.audience_weight, -s.title_weight, s.pool)

    best_recall, _, best = max(results, key=simpler)
    untitled = max((r for r in results if r[2].title_weight == 0), key=simpler)
    results.sort(key=lambda r: -r[0])
    films = sum(len(f.truth) for f in folds)
    cutoffs = ", ".join(f"{f.cutoff}+ ({len(f.truth)})" for f in folds)
    print(f"validation films: {films} over {len(folds)} folds ({cutoffs}); truth cosine-CF top-{K}")
    print(f"{'recall@10':>9}  per fold         year weight  scale  audience  title  taste  pool")
    for recall, per_fold, s in [*results[:10], untitled]:
        folds_text = " ".join(f"{r:.4f}" for r in per_fold)
        print(
            f"{recall:>9.4f}  {folds_text:<15}  {s.year_weight:>11g}  {s.year_scale:>5g}  "
            f"{s.audience_weight:>8g}  {s.title_weight:>5g}  {s.taste_weight:>5g}  {s.pool:>4}"
        )
    print(f"(the last line: the best setting without the title term, recall {untitled[0]:.4f})")
    print(
        f"\nchosen (recall {best_recall:.4f}); [plugins.hybrid] in config.toml:\n"
        f"unrated_year_weight = {best.year_weight:g}\nunrated_year_scale = {best.year_scale:g}\n"
        f"unrated_audience_weight = {best.audience_weight:g}\n"
        f"unrated_title_weight = {best.title_weight:g}\n"
        f"unrated_taste_weight = {best.taste_weight:g}\nunrated_pool = {best.pool}\n"
        f"(run: {time.perf_counter() - started:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
