"""``reelpick check PLUGIN``: the plugin contract kit (:mod:`reelpick.testing.contract`) on an
installed plugin, over a small real part of the configured data; its problems grouped by
kind, most serious first. ``-v`` adds the plugin's tracebacks to the log."""

from __future__ import annotations

import argparse
import logging
import sys

from ..app import data_path
from ..config import Config
from ..data import load_dataset
from ..registry import Registry
from ..testing.contract import PluginContractError, check_plugin
from ..testing.datasets import small_dataset
from .conventions import EXIT_ERROR
from .progress import line


def cmd_check(config: Config, args: argparse.Namespace) -> int:
    registry = Registry(config)
    name = args.name
    registry.enabled([name])  # an unknown name: one line, with a close match if there is one
    if name not in registry.plugins:
        reason = next(f.reason for f in registry.failures if f.name == name)
        print(f"reelpick: plugin {name} does not load: {reason}", file=sys.stderr)
        return EXIT_ERROR
    plugin = registry.plugins[name]
    providers = {
        other: registry.plugins[other].factory
        for need in registry.needs(name)
        for other, loaded in registry.plugins.items()
        if other != name and need.product in loaded.info.provides
    }
    dataset = small_dataset(load_dataset(data_path(config), config.cache_dir), args.movies)
    line(f"checking {name} on {len(dataset.movies):,} movies of {dataset.source}", quiet=args.quiet)
    if not args.verbose:  # the kit reports each failed answer itself, grouped
        logging.getLogger("reelpick.registry").setLevel(logging.CRITICAL)
    try:
        report = check_plugin(
            plugin.factory,
            dataset,
            config.plugin_params(name),
            args.k,
            name=name,
            config=config,
            providers=providers,
        )
    except PluginContractError as exc:
        print(exc)
        return EXIT_ERROR
    print(report)
    return 0
