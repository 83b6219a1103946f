"""Benchmark group recommendations: the movie night's strategy beside its baselines.

One run of ``reelpick evaluate --task groups`` (200 synthetic groups of 4 test users, seed 0,
on the temporal split of ``--task topn``; everything in :mod:`reelpick.evaluation.groups`),
with the repository's config.toml (or ``--config``) and a fresh cache. Prints the table, then
the goals as ratios (>= 1.00 meets the goal):

  default nDCG@10 mean / 0.035
  default served / the best baseline's served (popularity, seeds)

    .venv/bin/python bench/bench_groups.py [--data PATH] [--config PATH] [--groups N]
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
from pathlib import Path

from reelpick.config import Config, load_config
from reelpick.data import load_dataset
from reelpick.evaluation.groups import GROUPS, evaluate_groups, format_groups_table

REPO = Path(__file__).resolve().parent.parent
ML_SMALL = (
    Path(os.environ.get("REELPICK_SHARED", REPO.parent / "shared")) / "data" / "ml-latest-small"
)
NDCG_GOAL = 0.035
BASELINES = ("popularity", "seeds")


def fresh_config(path: str | None, cache: str) -> Config:
    config = load_config(path or REPO / "config.toml")
    values = copy.deepcopy(config.values)
    values["cache"]["dir"] = cache  # always a fresh fit, never an earlier cache
    return Config(values=values, path=config.path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ML_SMALL))
    parser.add_argument("--config")
    parser.add_argument("--groups", type=int, default=GROUPS)
    args = parser.parse_args()
    dataset = load_dataset(args.data)
    with tempfile.TemporaryDirectory(prefix="bench-groups-") as cache:
        report = evaluate_groups(fresh_config(args.config, cache), dataset, groups=args.groups)
    print(format_groups_table(report))
    default = report.result("default")
    best = max(BASELINES, key=lambda name: report.result(name).served)
    print()
    print(f"default nDCG@10 mean / goal {NDCG_GOAL}: {default.ndcg_mean / NDCG_GOAL:.2f}x")
    print(
        f"default served / best baseline ({best}, {report.result(best).served:.3f}): "
        f"{default.served / max(report.result(best).served, 1e-9):.2f}x"
    )


if __name__ == "__main__":
    main()
