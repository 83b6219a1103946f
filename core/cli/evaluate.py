"""``reelpick evaluate``: measure the plugins and print a table, JSON or a chart."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from ..app import data_path
from ..config import Config
from ..data import load_dataset
from ..errors import ReelpickError
from ..evaluation import draw_chart, evaluate, format_table
from ..evaluation.groups import evaluate_groups, format_groups_table
from ..evaluation.protocols import DEFAULT_PROTOCOL, PROTOCOLS
from ..evaluation.topn import draw_topn_chart, evaluate_topn, format_topn_table
from .evaluate_cold import cmd_evaluate_cold

__all__ = ["DEFAULT_PROTOCOL", "PROTOCOLS", "Task", "cmd_evaluate"]


class Task(StrEnum):
    """What ``reelpick evaluate --task`` measures."""

    RATING = "rating"
    TOPN = "topn"
    GROUPS = "groups"
    COLD = "cold"


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def show(
    report: Any,
    args: argparse.Namespace,
    table: Callable[[Any], str],
    chart: Callable[[Any, str], None] | None = None,
) -> None:
    """Print ``report`` as JSON (``--json``) or a table, and draw its chart (``--chart``)."""
    print(json.dumps(report.to_json(), indent=2) if args.json else table(report))
    if args.chart and chart is not None:
        chart(report, args.chart)
        print(f"chart written to {args.chart}", file=sys.stderr)


def cmd_evaluate(config: Config, args: argparse.Namespace) -> int:
    """``reelpick evaluate``: rating accuracy and similar-movie quality per plugin."""
    if args.task == Task.TOPN:
        return cmd_evaluate_topn(config, args)
    if args.task == Task.GROUPS:
        return cmd_evaluate_groups(config, args)
    if args.tune:
        raise ReelpickError("--tune goes with --task topn or --task groups")
    if args.task == Task.COLD:
        return cmd_evaluate_cold(config, args)
    if args.folds == 1 or args.folds < 0:
        raise ReelpickError("--folds must be 0 (article protocol) or at least 2")
    dataset = load_dataset(data_path(config), config.cache_dir)
    report = evaluate(
        config,
        dataset,
        plugins=args.plugin,
        seed=args.seed,
        test_per_user=args.test_per_user,
        folds=args.folds,
        progress=progress,
    )
    show(report, args, format_table, draw_chart)
    return 0 if report.plugins else 1


def cmd_evaluate_topn(config: Config, args: argparse.Namespace) -> int:
    """``reelpick evaluate --task topn [--protocol session|last10]``: nDCG@10 (with its 95 %
    interval), Recall, MRR, hit rate, coverage, miscalibration, popularity lift per plugin and
    of the picks."""
    if args.folds:
        raise ReelpickError("--folds goes with --task rating (top-N uses a temporal split)")
    dataset = load_dataset(data_path(config), config.cache_dir)
    report = evaluate_topn(
        config,
        dataset,
        plugins=args.plugin,
        test_per_user=args.test_per_user,
        tune=args.tune,
        progress=progress,
        protocol=args.protocol,
    )
    show(report, args, format_topn_table, draw_topn_chart)
    return 0 if report.results else 1


def cmd_evaluate_groups(config: Config, args: argparse.Namespace) -> int:
    """``reelpick evaluate --task groups``: one list for synthetic groups, per strategy."""
    if args.folds:
        raise ReelpickError("--folds goes with --task rating (groups use a temporal split)")
    if args.chart:
        raise ReelpickError("--chart goes with --task rating or --task topn")
    if args.groups < 1:
        raise ReelpickError("--groups must be at least 1")
    dataset = load_dataset(data_path(config), config.cache_dir)
    report = evaluate_groups(
        config,
        dataset,
        plugins=args.plugin,
        groups=args.groups,
        seed=args.seed,
        test_per_user=args.test_per_user,
        tune=args.tune,
        progress=progress,
    )
    show(report, args, format_groups_table)
    return 0 if report.results else 1
