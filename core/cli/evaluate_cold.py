"""``reelpick evaluate --task cold``: movies nobody has rated (see reelpick.evaluation.cold)."""

from __future__ import annotations

import argparse
import json
import sys

from ..app import data_path
from ..config import Config
from ..data import load_dataset
from ..evaluation.cold import evaluate_cold, format_cold


def cmd_evaluate_cold(config: Config, args: argparse.Namespace) -> int:
    """RMSE, neighbour recall@10 and nDCG@10 on held-out cold movies, per plugin."""
    dataset = load_dataset(data_path(config), config.cache_dir)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    report = evaluate_cold(config, dataset, plugins=args.plugin, seed=args.seed, progress=progress)
    print(json.dumps(report, indent=2) if args.json else format_cold(report))
    return 0 if len(report["results"]) > 2 else 1
