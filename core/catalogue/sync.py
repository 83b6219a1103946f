"""``reelpick catalogue sync``: recent and upcoming releases from TMDB into the catalogue.

Two steps, both resumable because their progress is rows of the catalogue file:

1. list: pages of discover (released since a date), now playing and upcoming; each page's
   new movie ids (not in the dataset, not yet stored) join a queue in the same transaction
   that marks the page read. The changes feed re-queues stored movies TMDB has changed.
2. fetch: each queued movie's details (one request, ``append_to_response``), stored and taken
   off the queue in one transaction.

A sync killed anywhere starts again at the first unread page and the first unfetched movie;
a movie is stored once (one row per TMDB id) and, but for the few in flight at the kill,
fetched once. Requests go through the client's rate limit and retries.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from ..posters.tmdb import JSONObject, TMDBClient, TMDBNotFound, TMDBUnavailable
from .documents import parse_details
from .service import Catalogue
from .store import StoredMovie

log = logging.getLogger(__name__)

CHANGES_DAYS = 14  # TMDB's /movie/changes accepts at most 14 days per request
BATCH = 20  # movies stored per transaction


@dataclass
class SyncReport:
    listed_pages: int = 0  # pages read in this run (resumed pages not counted)
    queued: int = 0  # movies waiting when the fetch began
    stored: int = 0  # movies written in this run
    not_found: int = 0
    failed: int = 0  # left in the queue for the next run (TMDB unavailable)
    complete: bool = False

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


Progress = Callable[[int], None]


def sync(
    catalogue: Catalogue,
    *,
    since: datetime.date,
    today: datetime.date | None = None,
    limit: int | None = None,
    region: str | None = None,
    on_queue: Callable[[int], None] | None = None,
    on_page: Callable[[str], None] | None = None,
    progress: Progress | None = None,
    workers: int = 4,
) -> SyncReport:
    """List then fetch (see the module's text). ``limit``: stop listing once this many movies
    wait. ``on_page(source)`` is told of each page read; ``on_queue(n)`` the queue's size
    before fetching; ``progress(n)`` after each ``n`` movies are done."""
    client = catalogue._client()
    store = catalogue.store
    today = today or datetime.date.today()
    run = f"since={since.isoformat()}"
    report = SyncReport()
    known = set(catalogue.dataset_by_tmdb) | store.ids()

    stored_at = store.updated()
    cut = False  # listing stopped by --limit: the run is not complete

    def full() -> bool:
        return limit is not None and len(store.pending()) >= limit

    for source, fetch in _sources(client, since, today, region, catalogue.settings.sync_max_pages):
        page = 1
        while True:
            if full():
                cut = True
                break
            total = store.page_done(run, source, page)
            if total is None:
                body = fetch(page)
                total = min(int(body.get("total_pages") or 1), catalogue.settings.sync_max_pages)
                ids = [r["id"] for r in body.get("results") or [] if isinstance(r.get("id"), int)]
                if source.startswith("changes "):
                    # A stored movie changed after it was stored: fetch it again.
                    start = datetime.datetime.fromisoformat(source.split()[1]).timestamp()
                    chosen = [i for i in ids if i in stored_at and stored_at[i] < start]
                else:
                    chosen = [i for i in ids if i not in known]
                room = None if limit is None else max(0, limit - len(store.pending()))
                if room is not None and len(chosen) > room:
                    # Part of the page fits: queue that part and read the page again next run.
                    store.record_page(run, source, page, total, chosen[:room], read=False)
                    known.update(chosen[:room])
                    cut = True
                    break
                store.record_page(run, source, page, total, chosen)
                known.update(chosen)
                report.listed_pages += 1
                if on_page:
                    on_page(source)
            if page >= total:
                break
            page += 1
        if cut:
            break
    pending = store.pending()
    if limit is not None:
        pending = pending[:limit]
    report.queued = len(pending)
    if on_queue:
        on_queue(len(pending))
    cast = catalogue.tmdb_settings.cast
    done: list[int] = []
    fetched: list[StoredMovie] = []

    def flush() -> None:
        if done:
            store.finish(list(done), list(fetched))
            report.stored += len(fetched)
            if progress:
                progress(len(done))
            done.clear()
            fetched.clear()

    stored = store.ids()  # those queued again by the changes feed: fetched afresh

    def one(tmdb_id: int) -> StoredMovie | None:
        try:
            details = client.details(tmdb_id, language="", refresh=tmdb_id in stored)[0]
            return parse_details(details, cast)
        except TMDBNotFound:
            return None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for tmdb_id, outcome in _run(pool, one, pending):
            if isinstance(outcome, TMDBUnavailable):
                report.failed += 1
                log.warning("TMDB movie %d: %s (left for the next sync)", tmdb_id, outcome)
                continue
            if isinstance(outcome, BaseException):
                raise outcome
            done.append(tmdb_id)
            if outcome is None:
                report.not_found += 1
            else:
                fetched.append(outcome)
            if len(done) >= BATCH:
                flush()
        flush()
    catalogue.__dict__.pop("titles", None)  # rebuilt with the new movies when next used
    if not report.failed and not store.pending() and not cut:
        store.end_run(run)
        report.complete = True
    return report


def _run(
    pool: ThreadPoolExecutor, work: Callable[[int], StoredMovie | None], ids: list[int]
) -> Iterator[tuple[int, StoredMovie | None | BaseException]]:
    """``work`` over ``ids`` with a bounded number in flight, outcomes as they complete."""
    queue = iter(ids)
    running: dict[Future[StoredMovie | None], int] = {}
    limit = pool._max_workers * 2
    while True:
        while len(running) < limit:
            nxt = next(queue, None)
            if nxt is None:
                break
            running[pool.submit(work, nxt)] = nxt
        if not running:
            return
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in finished:
            tmdb_id = running.pop(future)
            error = future.exception()
            yield tmdb_id, error if error is not None else future.result()


def _sources(
    client: TMDBClient,
    since: datetime.date,
    today: datetime.date,
    region: str | None,
    max_pages: int,
) -> list[tuple[str, Callable[[int], JSONObject]]]:
    """(name, page reader) of each list a sync reads, in order."""
    sources: list[tuple[str, Callable[[int], JSONObject]]] = [
        ("discover", lambda page: client.discover(page=page, since=since.isoformat())),
        ("now_playing", lambda page: client.movie_list("now_playing", page=page, region=region)),
        ("upcoming", lambda page: client.movie_list("upcoming", page=page, region=region)),
    ]
    start = since
    while start <= today:
        end = min(today, start + datetime.timedelta(days=CHANGES_DAYS - 1))

        def changes(page: int, s: datetime.date = start, e: datetime.date = end) -> JSONObject:
            return client.changes(page=page, start_date=s.isoformat(), end_date=e.isoformat())

        sources.append((f"changes {start.isoformat()}", changes))
        start = end + datetime.timedelta(days=1)
    return sources
