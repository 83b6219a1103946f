"""``reelpick cache info`` and ``reelpick cache prune``: what the cache holds, and removing
the plugin stores nothing current uses (see :mod:`reelpick.cache_admin`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..app import data_path
from ..cache_admin import cache_usage, human_bytes, prune_stores
from ..config import Config
from ..data import load_dataset
from ..errors import ReelpickError
from ..registry import Registry
from ..state import prepare_state
from .messages import number, plural


def current_stores(config: Config) -> tuple[list[Path], dict[str, str], list[str]]:
    """(the store of every installed plugin for the configured data, each installed plugin's
    version, plugins that failed to load). Raises :class:`ReelpickError` when the dataset
    cannot be read: without it, which stores are current is unknown."""
    registry = Registry(config)
    try:
        dataset = load_dataset(data_path(config, fetch_missing=False), config.cache_dir)
    except ReelpickError as exc:
        raise ReelpickError(f"cannot tell which cached fits are current: {exc}") from None
    stores = [registry.store_for(name, dataset).path for name in registry.plugins]
    versions = {name: plugin.info.version for name, plugin in registry.plugins.items()}
    return stores, versions, [failure.name for failure in registry.failures]


def cmd_cache_info(config: Config, args: argparse.Namespace) -> int:
    """``reelpick cache info [--json]``: size per folder of the cache (one per plugin, ...)."""
    try:
        current, _, _ = current_stores(config)
    except ReelpickError:
        current = []  # sizes are still worth showing; "current" is then unknown
    usage = cache_usage(config.cache_dir, current)
    total = sum(u.bytes for u in usage)
    if args.json:
        rows = [
            {
                "name": u.name,
                "bytes": u.bytes,
                "files": u.files,
                "stores": u.stores,
                "current_stores": u.current if current else None,
            }
            for u in usage
        ]
        print(
            json.dumps(
                {"cache_dir": str(config.cache_dir), "bytes": total, "folders": rows}, indent=2
            )
        )
        return 0
    print(f"cache: {config.cache_dir} ({human_bytes(total)})")
    for u in usage:
        shown = number(u.current) if current else "?"
        stores = f", {plural(u.stores, 'fit')} ({shown} current)" if u.stores else ""
        print(f"  {u.name:<20} {human_bytes(u.bytes):>10}  {plural(u.files, 'file')}{stores}")
    return 0


def cmd_cache_prune(config: Config, args: argparse.Namespace) -> int:
    """``reelpick cache prune [--dry-run] [--json]``: remove fits no current plugin and data
    use (older versions, other parameters, evaluation splits), stale temporary files and the
    folders they leave empty. Never people's data, never a current fit."""
    # People's data an older version kept in the cache folder is moved out before anything
    # here is removed (pruning never touches it; a later ``rm -rf`` of the cache might).
    prepare_state(config.settings)
    current, versions, failed = current_stores(config)
    removed = prune_stores(
        config.cache_dir, current, versions=versions, spare_namespaces=failed, dry_run=args.dry_run
    )
    freed = sum(entry.bytes for entry in removed)
    if args.json:
        rows = [{"path": str(e.path), "bytes": e.bytes, "reason": e.reason} for e in removed]
        print(json.dumps({"dry_run": args.dry_run, "bytes": freed, "removed": rows}, indent=2))
        return 0
    verb = "would remove" if args.dry_run else "removed"
    for entry in removed:
        print(f"{verb} {entry.path} ({human_bytes(entry.bytes)}): {entry.reason}")
    print(f"{verb} {plural(len(removed), 'entry', 'entries')}, {human_bytes(freed)}")
    return 0
