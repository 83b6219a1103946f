"""``reelpick backup DIR`` and ``reelpick restore DIR``: people's data (profiles, movie
nights, chat settings) copied out and put back (see :mod:`reelpick.backup`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..backup import backup, restore
from ..cache_admin import human_bytes
from ..config import Config
from ..state import prepare_state


def cmd_backup(config: Config, args: argparse.Namespace) -> int:
    """``reelpick backup DIR [--keep N] [--json]``: a consistent copy, also while the bot runs."""
    prepare_state(config.settings)
    done = backup(config.settings, Path(args.dir), keep=args.keep)
    if args.json:
        stores = {name: {"bytes": size} for name, size in done.stores.items()}
        removed = [str(p) for p in done.removed]
        print(json.dumps({"backup": str(done.folder), "stores": stores, "removed": removed}))
        return 0
    sizes = ", ".join(f"{name} {human_bytes(size)}" for name, size in done.stores.items())
    print(f"backed up to {done.folder} ({sizes})")
    for old in done.removed:
        print(f"removed old backup {old}")
    return 0


def cmd_restore(config: Config, args: argparse.Namespace) -> int:
    """``reelpick restore DIR [--json]``: a backup (or the newest in DIR) put back; the bot
    must be stopped. The replaced files are kept in ``<state>/replaced-<time>/``."""
    prepare_state(config.settings)
    done = restore(config.settings, Path(args.dir))
    if args.json:
        kept = None if done.kept_in is None else str(done.kept_in)
        print(json.dumps({"restored": str(done.folder), "stores": done.stores, "kept_in": kept}))
        return 0
    print(f"restored {', '.join(done.stores)} from {done.folder}")
    if done.kept_in is not None:
        print(f"the replaced files are kept in {done.kept_in}")
    return 0
