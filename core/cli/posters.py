"""``reelpick posters fetch``: fill the poster cache from TMDB."""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from tqdm import tqdm

from ..app import data_path
from ..config import Config
from ..data import load_dataset
from ..posters import PosterStore
from ..posters.store import Outcome
from ..posters.tmdb import TMDBError


def cmd_posters_fetch(config: Config, args: argparse.Namespace) -> int:
    """``reelpick posters fetch [--limit N] [--size S]``: fill the cache, most-rated movies
    first. Resumable: posters already on disk and movies known to have none are skipped."""
    as_json = getattr(args, "json", False)
    quiet = getattr(args, "quiet", False)
    dataset = load_dataset(data_path(config), config.cache_dir)
    store = PosterStore(config, dataset)
    client = store.client
    if client is None:
        print(
            "reelpick: posters fetch needs a TMDB key: set TMDB_API_KEY (or TMDB_READ_TOKEN)",
            file=sys.stderr,
        )
        return 1
    size = args.size or store.settings["size"]
    try:
        sizes = client.poster_sizes()
    except TMDBError as exc:
        print(f"reelpick: TMDB is not usable: {exc}", file=sys.stderr)
        return 1
    if size not in sizes:
        print(
            f"reelpick: unknown poster size {size!r}; TMDB offers {', '.join(sizes)}",
            file=sys.stderr,
        )
        return 1
    if args.limit is not None and args.limit < 0:
        print("reelpick: --limit must be 0 or more", file=sys.stderr)
        return 1

    order = dataset.rating_counts.sort_values(ascending=False, kind="stable").index.tolist()
    if args.limit is not None:
        order = order[: args.limit]
    have = {m for m in order if store.has(m, size)}
    known_missing = {m for m in order if m not in have and store.known_missing(m)}
    todo = [m for m in order if m not in have and m not in known_missing]
    counts = {"fetched": 0, "missing": 0, "failed": 0}
    started = time.perf_counter()
    auth_failure: str | None = None

    def summary(prefix: str = "") -> str:
        seconds = time.perf_counter() - started
        rate = counts["fetched"] / seconds if seconds > 0 else 0.0
        return (
            f"{prefix}posters {size}: fetched {counts['fetched']}, missing {counts['missing']}, "
            f"failed {counts['failed']}, already had {len(have)}, "
            f"known missing {len(known_missing)} ({seconds:.1f} s, {rate:.1f} posters/s); "
            f"cache: {store.cache_path}"
        )

    # Bounded concurrency: at most `concurrency` movies in flight, submitted as slots free up
    # so that an interrupt leaves nothing queued.
    workers = max(1, int(store.settings["concurrency"]))
    try:
        with (
            ThreadPoolExecutor(max_workers=workers) as pool,
            tqdm(
                total=len(todo),
                unit="poster",
                desc=f"posters {size}",
                disable=True if quiet or as_json else None,
            ) as bar,
        ):
            pending: set[Future[Outcome]] = set()
            queue = iter(todo)
            try:
                while True:
                    while len(pending) < workers * 2 and auth_failure is None:
                        movie_id = next(queue, None)
                        if movie_id is None:
                            break
                        pending.add(pool.submit(store.fetch, movie_id, size))
                    if not pending:
                        break
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        outcome = future.result()
                        counts[outcome.status] += 1
                        if outcome.fatal and auth_failure is None:
                            auth_failure = outcome.reason
                        bar.update(1)
                        bar.set_postfix(counts, refresh=False)
            except KeyboardInterrupt:
                for future in pending:
                    future.cancel()  # the ones running finish; each stored poster is kept
                raise
    except KeyboardInterrupt:
        print(summary("interrupted, run again to resume: "))
        store.close()
        raise
    if as_json:
        seconds = time.perf_counter() - started
        report = {
            "size": size,
            **counts,
            "already_had": len(have),
            "known_missing": len(known_missing),
            "seconds": round(seconds, 3),
            "cache": str(store.cache_path),
            "stopped": auth_failure,
        }
        print(json.dumps(report))
    else:
        print(summary())
    store.close()
    if auth_failure:
        print(f"reelpick: stopped: {auth_failure}", file=sys.stderr)
        return 1
    return 1 if counts["failed"] else 0
