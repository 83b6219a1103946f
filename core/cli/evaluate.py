"""``reelpick evaluate``: measure the plugins and print a table, JSON or a chart."""

from __future__ import annotations

import argparse
import json
import sys

from ..app import data_path
from ..config import Config
from ..data import load_dataset
from ..errors import ReelpickError
from ..evaluation import draw_chart, evaluate, format_table
from .evaluate_cold import cmd_evaluate_cold

# --task -> the command that runs it ("ratings" is cmd_evaluate itself).
TASKS = {"cold": cmd_evaluate_cold}


def cmd_evaluate(config: Config, args: argparse.Namespace) -> int:
    """``reelpick evaluate``: rating accuracy and similar-movie quality per plugin."""
    if getattr(args, "task", "ratings") in TASKS:
        return TASKS[args.task](config, args)
    if args.folds == 1 or args.folds < 0:
        raise ReelpickError("--folds must be 0 (article protocol) or at least 2")
    dataset = load_dataset(data_path(config))

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    report = evaluate(
        config,
        dataset,
        plugins=args.plugin,
        seed=args.seed,
        test_per_user=args.test_per_user,
        folds=args.folds,
        progress=progress,
    )
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(format_table(report))
    if args.chart:
        draw_chart(report, args.chart)
        print(f"chart written to {args.chart}", file=sys.stderr)
    return 0 if report.plugins else 1
