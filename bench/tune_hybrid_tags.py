"""Choose the hybrid's ``tag_terms`` on validation cold movies, never the test ones.

A new movie has no user tags (people tag what they watched), so tags can only help the map if
what it learns on tagged movies carries over to untagged ones. The same validation as
``tune_hybrid_pool.py``: the test cold movies of ``evaluate --task cold`` (seed 0) lose their
ratings and tags for good; on what is left, seed 1 draws the validation cold movies (their
ratings and tags held out too). For each ``tag_terms`` on the grid (0: no tags at all) it prints
the hybrid's RMSE on the validation cold movies beside the baselines'; the lowest RMSE wins
(ties: the earlier value).

    .venv/bin/python bench/tune_hybrid_tags.py [--data PATH] [--cache DIR] [--grid 300 0]
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
    parser.add_argument("--grid", type=int, nargs="+", default=[300, 0])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    base, values, remaining = validation_data(args)
    print(f"validation cold movies: seed {VALIDATION_SEED}, on {remaining.source}")
    print(f"{'tag_terms':>9} {'hybrid RMSE':>11} {'genre-mean':>10} {'bias':>7} {'recall@10':>9}")
    best: tuple[float, int] | None = None
    for terms in args.grid:
        values["plugins"]["hybrid"]["tag_terms"] = terms
        report = evaluate_cold(
            Config(values=copy.deepcopy(values), path=base.path),
            remaining,
            plugins=["hybrid"],
            seed=VALIDATION_SEED,
        )
        results = {r["plugin"]: r for r in report["results"]}
        hybrid = results["hybrid"]
        print(
            f"{terms:>9} {hybrid['rmse']:>11.4f} {results['genre-mean']['rmse']:>10.4f} "
            f"{results['bias']['rmse']:>7.4f} {hybrid['neighbour_recall@10'] or 0:>9.4f}",
            flush=True,
        )
        if best is None or hybrid["rmse"] < best[0] - 1e-12:
            best = (hybrid["rmse"], terms)
    assert best is not None
    print(f"chosen: tag_terms = {best[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
