"""``reelpick tune PLUGIN``: a plugin's parameters chosen on validation inside the training data
(see reelpick.evaluation.tuning)."""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from typing import Any

from ..app import data_path
from ..config import Config
from ..data import load_dataset
from ..errors import UsageError
from ..registry import Registry

HELP = "choose a plugin's parameters on validation users inside the training data"


def add_tune_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "plugin", help="the plugin to tune (without --grid: one with a built-in grid)"
    )
    parser.add_argument(
        "--grid",
        action="append",
        metavar="KEY=V1,V2",
        help="a parameter and its values (TOML), repeatable; replaces the built-in grid",
    )
    parser.add_argument(
        "--metric",
        choices=["ndcg", "rmse"],
        default="ndcg",
        help="ndcg: top-N lists (default); rmse: rating prediction (the rating task's split)",
    )
    parser.add_argument(
        "--protocol", help="with ndcg: the top-N protocol of the validation split (default: topn's)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="with rmse: seed of the rating task's split"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """``["l2=100,200"]`` -> ``{"l2": [100, 200]}`` (each value read as TOML)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, _, values = item.partition("=")
        if not key.strip() or not values.strip():
            raise UsageError(f"--grid {item[:80]!r}: expected KEY=V1,V2")
        try:
            grid[key.strip()] = [
                tomllib.loads(f"v = {value.strip()}")["v"] for value in values.split(",")
            ]
        except tomllib.TOMLDecodeError:
            raise UsageError(
                f"--grid {item[:80]!r}: values must be TOML (strings quoted)"
            ) from None
    return grid


def cmd_tune_lazily(config: Config, args: argparse.Namespace) -> int:
    """Print the grid's validation scores and the chosen values. The tuning is imported here,
    not with the parser: every other command starts without the evaluation's imports."""
    from ..evaluation.tuning import format_tuning, tune_plugin

    grid = parse_grid(args.grid) if args.grid else None
    # An unknown name is a bad argument (with the close match), before any grid or data.
    Registry(config).enabled([args.plugin])
    dataset = load_dataset(data_path(config), config.cache_dir)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    report = tune_plugin(
        config, dataset, args.plugin, grid, args.protocol, progress, args.metric, args.seed
    )
    print(json.dumps(report.to_json(), indent=2) if args.json else format_tuning(report))
    return 0
