"""``reelpick catalogue sync``: recent and upcoming releases from TMDB into the catalogue."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from typing import Any

from tqdm import tqdm

from ..app import Reelpick
from ..catalogue.sync import sync
from ..config import Config
from ..errors import ReelpickError, UsageError
from .conventions import bounded_int

MAX_LIMIT = 10_000_000  # more than TMDB holds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since",
        type=_date,
        metavar="DATE",
        help="releases on or after this day, YYYY-MM-DD (default: [catalogue] sync_days ago)",
    )
    parser.add_argument(
        "--limit",
        type=bounded_int(1, MAX_LIMIT, "--limit"),
        metavar="N",
        help=f"at most N new movies in this run, 1-{MAX_LIMIT:,}",
    )
    parser.add_argument("--region", help="region of the now-playing and upcoming lists")
    parser.add_argument("--json", action="store_true", help="machine-readable summary")


def cmd_catalogue_sync(config: Config, args: argparse.Namespace) -> int:
    if args.limit is not None and not 1 <= args.limit <= MAX_LIMIT:  # the parser checks too
        raise UsageError(f"--limit must be between 1 and {MAX_LIMIT}, got {args.limit}")
    app = Reelpick.open(config, fit=False)
    if not app.tmdb_available:
        raise ReelpickError("catalogue sync needs TMDB: set TMDB_API_KEY or TMDB_READ_TOKEN")
    catalogue = app.catalogue
    today = datetime.date.today()
    since = args.since or today - datetime.timedelta(days=config.settings.catalogue.sync_days)
    quiet = args.quiet or args.json
    started = time.perf_counter()
    bar: tqdm[Any] | None = None
    pages = tqdm(
        unit="page", desc="catalogue pages", file=sys.stderr, disable=True if quiet else None
    )

    def on_page(source: str) -> None:
        pages.set_postfix_str(source.split()[0], refresh=False)
        pages.update(1)

    def on_queue(n: int) -> None:
        nonlocal bar
        pages.close()
        bar = tqdm(
            total=n, unit="movie", desc="catalogue sync", file=sys.stderr,
            disable=True if quiet else None,
        )  # fmt: skip

    def progress(n: int) -> None:
        if bar is not None:
            bar.update(n)

    try:
        report = sync(
            catalogue,
            since=since,
            today=today,
            limit=args.limit,
            region=args.region,
            on_queue=on_queue,
            on_page=on_page,
            progress=progress,
            workers=max(1, config.settings.posters.concurrency),
        )
    except KeyboardInterrupt:
        print("interrupted: run `reelpick catalogue sync` again to resume", file=sys.stderr)
        raise
    finally:
        pages.close()
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - started
    total = len(catalogue.store)
    if args.json:
        print(json.dumps(report.to_json() | {"catalogue": total, "seconds": round(seconds, 2)}))
    else:
        state = "done" if report.complete else "stopped early; run again to go on"
        print(
            f"catalogue sync since {since}: {report.stored} movies stored, "
            f"{report.not_found} gone from TMDB, {report.failed} failed ({state}); "
            f"{total} movies in {catalogue.path} ({seconds:.1f} s)"
        )
    return 0 if not report.failed else 1


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--since must be YYYY-MM-DD, got {text[:40]!r}") from None
