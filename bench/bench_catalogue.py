"""The catalogue against the TMDB stand-in on 127.0.0.1: a title only TMDB knows, typed ->
card and albums, and ``reelpick catalogue sync`` of thousands of movies at TMDB's rate
limit, killed halfway and resumed.

    .venv/bin/python bench/bench_catalogue.py [--titles 40] [--latency 0.03] [--sync 5000]
        [--plugins cosine-cf,sgd-mf,...] [--cache DIR]

1. Typed -> card + albums (goal: p95 <= 2 s warm, including the TMDB round trips and the
   new poster's features; second time <= 300 ms). The app is open, its title index built
   and the plugins (``--plugins``, by default config.toml's) fitted or loaded from
   ``--cache`` (warm); each query is a new made-up title that only the stand-in knows, with
   a poster no index has seen, so every one goes: local lookup, TMDB search, add to the
   catalogue (details with append_to_response), then, as the bot does it, the card
   (configuration, providers) beside every plugin's answer and its album's posters, each
   plugin on a thread of its own: the poster plugins fetch the new poster and compute its
   VGG16 features there. ``--latency`` adds that many seconds to every stand-in answer, like
   a far-away TMDB. The second time the same title is typed it is answered from the
   catalogue and the caches. Reference beside it: a dataset title typed -> card + albums,
   its TMDB answers already cached. ``--plugins ''`` times the card alone.
0. Scale (``--scale``): 20,000 catalogue movies beside the dataset: the catalogue title index
   built on first use, and typed titles answered locally, vs the dataset index alone.
2. Sync (goal: 5,000 movies <= 10 min at TMDB's rate limit, killed halfway, every movie once):
   ``reelpick catalogue sync`` in a subprocess with ``[posters] requests_per_second`` = 40 and
   the stand-in refusing (429) past 50 requests a second; SIGKILL once half the movies are
   stored, then run again to the end. Reference: the time the requests need at 40 per second.
   Poster features for new movies are not part of this (not done).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from reelpick.app import Reelpick  # noqa: E402
from reelpick.catalogue import catalogue_id, is_catalogue_id  # noqa: E402
from reelpick.catalogue.store import CatalogueStore, StoredMovie  # noqa: E402
from reelpick.cli.info import resolve  # noqa: E402
from reelpick.config import load_config  # noqa: E402
from tests.support.tmdb_server import API_KEY, TMDBServer, poster_path  # noqa: E402

ML_SMALL = REPO.parent / "shared" / "data" / "ml-latest-small"
POSTERS = REPO.parent / "shared" / "data" / "posters"
DEFAULT_PLUGINS = load_config(None).settings.plugins.enabled
WORDS = [
    "amber",
    "quiet",
    "northern",
    "glass",
    "meridian",
    "hollow",
    "cobalt",
    "lantern",
    "tidal",
    "ember",
]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def write_config(
    folder: Path,
    server: TMDBServer,
    rate: float,
    plugins: list[str] | None = None,
    cache: Path | None = None,
) -> Path:
    """The bench's config.toml; ``plugins`` (with ``[posters] dir`` on the fixture posters)
    for the typed -> card + albums phase."""
    config = folder / "config.toml"
    enabled = f"[plugins]\nenabled = {json.dumps(plugins)}\n" if plugins else ""
    posters = f'dir = "{POSTERS}"\n' if plugins else ""
    config.write_text(
        f'[data]\nsource = "{ML_SMALL}"\ndir = "{folder / "data"}"\n'
        f'[cache]\ndir = "{cache or folder / "cache"}"\n{enabled}'
        f'[posters]\napi_url = "{server.api_url}"\nrequests_per_second = {rate}\n'
        f"timeout = 10.0\nretries = 5\nconcurrency = 8\n{posters}"
    )
    return config


def never_seen_poster(source: Path, target: Path, i: int, salt: random.Random) -> Path:
    """A fixture poster mirrored, cropped by ``i`` pixels and marked with one pixel of this
    run's ``salt``: bytes no index and no earlier run (``--cache`` is kept) has seen, so its
    VGG16 features are computed on first sight, as a new film's poster's are."""
    from PIL import Image, ImageOps

    with Image.open(source) as image:
        width, height = image.size
        cropped = ImageOps.mirror(image.convert("RGB")).crop(
            (i % 7, i % 5, width - i % 3, height - i % 11)
        )
        spot = (salt.randrange(cropped.width), salt.randrange(cropped.height))
        cropped.putpixel(spot, (salt.randrange(256), salt.randrange(256), salt.randrange(256)))
        cropped.save(target, "JPEG", quality=90)
    return target


class Answering:
    """One typed title answered as the bot answers it (``BotServices.ask``): the title
    resolved (TMDB search and the new movie stored when only TMDB knows it), then the card
    beside every plugin's answer and the posters of its album, each plugin on a thread of
    its own where no model may load (:meth:`Reelpick.ask`, :meth:`PosterStore.get`), except
    that a plugin comparing pictures answers for a new film in the image worker process
    (:meth:`ImageSearchWorker.similar`: its poster's features are computed there); timed to
    the last of them."""

    def __init__(self, app: Reelpick, plugins: list[str]) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from reelpick.imagesearch import ImageSearchWorker
        from reelpick.models_here import forbid_models
        from reelpick.posters import PosterStore

        self.app = app
        self.plugins = plugins
        self.pool = ThreadPoolExecutor(max(1, len(plugins)), initializer=forbid_models)
        self.posters = PosterStore(app.config, app.dataset)
        self.answered: Counter[str] = Counter()
        searchers = [n for n in app.registry.image_searchers() if n in plugins]
        self.worker = ImageSearchWorker(app.config, searchers) if searchers else None

    def album(self, name: str, movie_id: int) -> None:
        if self.worker is not None and is_catalogue_id(movie_id) and name in self.worker.plugins:
            answer = next(a for a in self.worker.similar(movie_id, 10) if a.plugin == name)
        else:
            answer = self.app.ask(name, movie_id, 10)
        if answer.ok and answer.neighbours:
            self.answered[name] += 1
            for neighbour in answer.neighbours:
                self.posters.get(neighbour.movie_id)

    def typed(self, query: str) -> float:
        started = time.perf_counter()
        movie_id = resolve(self.app, query)
        assert movie_id is not None, query
        albums = [self.pool.submit(self.album, name, movie_id) for name in self.plugins]
        self.app.card(movie_id, region="US")
        for album in albums:
            album.result()
        return time.perf_counter() - started

    def close(self) -> None:
        self.pool.shutdown()
        self.posters.close()
        if self.worker is not None:
            self.worker.close()


def stored_new_posters(app: Reelpick, tmdb_ids: list[int]) -> int | None:
    """How many of these TMDB films are in the catalogue with their poster's features stored
    (read without computing); None without vgg16-poster."""
    if "vgg16-poster" not in app.registry.enabled():
        return None
    vgg = app.registry.plugin_object("vgg16-poster")
    found = 0
    for tmdb_id in tmdb_ids:
        if app.knows(catalogue_id(tmdb_id)):
            movie = app.catalogue.new_movie(catalogue_id(tmdb_id))
            found += vgg.new_features(movie, compute=False) is not None
    return found


def bench_cards(titles: int, latency: float, plugins: list[str], cache: Path | None) -> None:
    with TMDBServer() as server, tempfile.TemporaryDirectory() as tmp:
        os.environ["TMDB_API_KEY"] = API_KEY
        fixture_posters = sorted(POSTERS.glob("*.jpg"), key=lambda f: f.name)
        salt = random.Random(os.urandom(16))
        # New TMDB ids each run: their poster paths are new to a kept --cache, as a new
        # film's are, so its posters are fetched and their features computed again.
        first_id = 7_000_000 + salt.randrange(1_000_000) * 1000
        names = []
        for i in range(titles + 1):  # the last one warms up (TensorFlow loads once)
            name = f"{WORDS[i % 10].title()} {WORDS[(i * 7 + 3) % 10].title()} Protocol {i}"
            server.add_movie(
                first_id + i, name, name, "2025-06-01", [18, 878], ["A Director"],
                ["One Actor", "Two Actor"], f"Story {i}.", poster_of=862,
            )  # fmt: skip
            if plugins:
                server.by_path[poster_path(first_id + i)] = never_seen_poster(
                    fixture_posters[i % len(fixture_posters)], Path(tmp) / f"new-{i}.jpg", i, salt
                )
            names.append(name)
        warm_up = names.pop()
        config = load_config(write_config(Path(tmp), server, 0, plugins, cache))
        started = time.perf_counter()
        app = Reelpick.open(config, fit=bool(plugins))
        print(f"plugins fitted or loaded in {time.perf_counter() - started:.1f} s: {plugins}")
        answering = Answering(app, plugins)
        answering.typed("Toy Story")
        answering.typed(warm_up)
        answering.answered.clear()
        server.latency = latency

        made_up = [first_id + i for i in range(titles)]
        stored_before = stored_new_posters(app, made_up)
        first = [answering.typed(n) for n in names]
        answered_first = dict(answering.answered)
        stored_after = stored_new_posters(app, made_up)
        again = [answering.typed(n) for n in names]
        known = ("Toy Story", "Heat", "The Matrix", "Jumanji", "Casino")
        for title in known:  # each dataset card fetched once: warm, like the second time
            answering.typed(title)
        dataset = [answering.typed(t) for t in known * 4]
        what = "card + albums" if plugins else "card"
        print(f"typed -> {what}, {titles} titles only TMDB knows, stand-in latency {latency:.3f} s")
        if plugins:
            print(
                f"  albums answered the first time, of {titles}: {answered_first}; new posters "
                f"with stored features before the first time: {stored_before}, after: "
                f"{stored_after} (computed by the image worker)"
            )
        for label, values in (
            ("first time", first),
            ("second time", again),
            ("dataset ref", dataset),
        ):
            print(
                f"  {label:<12} p50 {statistics.median(values) * 1000:7.1f} ms   "
                f"p95 {p95(values) * 1000:7.1f} ms"
            )
        print(
            f"  ratio first/dataset p95: {p95(first) / p95(dataset):.1f}x; "
            f"second/dataset p95: {p95(again) / p95(dataset):.2f}x"
        )
        answering.close()
        app.catalogue.close()


def stored(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM movies").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def bench_sync(n: int, rate: float, server_rate: float) -> None:
    with TMDBServer(max_per_second=server_rate) as server, tempfile.TemporaryDirectory() as tmp:
        server.add_synthetic(n)
        folder = Path(tmp)
        config = write_config(folder, server, rate)
        db = folder / "data" / "catalogue.sqlite3"
        env = dict(os.environ, TMDB_API_KEY=API_KEY, REELPICK_CONFIG=str(config))
        env["PYTHONPATH"] = str(REPO)
        since = (server.today - datetime.timedelta(days=60)).isoformat()
        expected = set(server.released_between(since, None))
        command = [sys.executable, "-m", "reelpick", "-q", "catalogue", "sync", "--since", since]
        started = time.perf_counter()
        first = subprocess.Popen(command, env=env, cwd=REPO)
        while first.poll() is None and stored(db) < len(expected) // 2:
            time.sleep(0.2)
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = time.perf_counter() - started
        halfway = stored(db)
        second = subprocess.run([*command[:3], *command[4:], "--json"], env=env, cwd=REPO,
                                capture_output=True, text=True, check=True)  # fmt: skip
        total = time.perf_counter() - started
        report = json.loads(second.stdout.strip().splitlines()[-1])
        fetched = Counter(
            path for _, path, status in server.log
            if status == 200 and path.startswith("movie/") and path[6:].isdigit()
        )  # fmt: skip
        with sqlite3.connect(db) as conn:
            ids = [r[0] for r in conn.execute("SELECT tmdb_id FROM movies")]
        requests = sum(1 for _, _, status in server.log if status == 200)
        print(f"catalogue sync of {len(expected):,} stand-in movies, client {rate:.0f} req/s, "
              f"stand-in 429 past {server_rate:.0f} req/s")  # fmt: skip
        print(f"  killed after {killed_at:.1f} s with {halfway:,} stored; resumed run stored "
              f"{report['stored']:,}; total {total:.1f} s ({total / 60:.1f} min)")  # fmt: skip
        print(f"  stored {len(ids):,} rows, {len(set(ids)):,} distinct, expected "
              f"{len(expected):,}: {'every movie once' if sorted(ids) == sorted(expected) else 'MISMATCH'}")  # fmt: skip
        print(f"  details fetched twice (in flight at the kill): {sum(v - 1 for v in fetched.values())}; "
              f"429 answers: {server.count('over_rate')}")  # fmt: skip
        ideal = requests / rate
        print(f"  reference: {requests:,} successful requests at {rate:.0f}/s = {ideal:.1f} s; "
              f"ratio {total / ideal:.2f}x")  # fmt: skip


def catalogue_movies(n: int, rng: random.Random) -> list[StoredMovie]:
    """``n`` made-up catalogue movies of 2025 with titles of two words, a noun and a number."""
    movies = []
    for i in range(n):
        a, b = rng.sample(WORDS, 2)
        title = f"{a.title()} {b.title()} {rng.choice(['Rising', 'Falls', 'Protocol', 'Code'])} {i}"
        movies.append(
            StoredMovie.described(
                8_000_000 + i,
                title,
                2025,
                ("Drama",),
                ("keyword",),
                alt_titles=(f"{title} (alt)",),
                release_date="2025-01-01",
                runtime=100,
                popularity=1.0,
                vote_average=6.0,
            )
        )
    return movies


def bench_scale(n: int) -> None:
    """``n`` catalogue movies beside ml-latest-small: opening the catalogue's title index and
    typed titles answered locally (no TMDB), vs the dataset index alone."""
    from reelpick.catalogue.service import Catalogue
    from reelpick.data import load_dataset
    from reelpick.data.search import TitleIndex

    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        store = CatalogueStore(Path(tmp) / "catalogue.sqlite3")
        movies = catalogue_movies(n, rng)
        store.put(movies)
        store.close()
        config = load_config(None)
        config.values["catalogue"]["db"] = str(Path(tmp) / "catalogue.sqlite3")
        dataset = load_dataset(ML_SMALL)
        dataset_titles = TitleIndex(dataset)
        catalogue = Catalogue(config, dataset, None)
        started = time.perf_counter()
        _ = catalogue.titles
        opened = time.perf_counter() - started
        queries = [m.title.lower() for m in rng.sample(movies, 200)]
        queries += ["toy story", "the matrix", "heat", "amelie"] * 25
        ours, reference = [], []
        for q in queries:
            t = time.perf_counter()
            catalogue.lookup(dataset_titles, q)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            dataset_titles.search(q)
            reference.append(time.perf_counter() - t)
        print(f"{n:,} catalogue movies beside ml-latest-small: title index built in {opened:.2f} s")
        print(f"  lookup (dataset + catalogue) p50 {statistics.median(ours) * 1000:.2f} ms, "
              f"p95 {p95(ours) * 1000:.2f} ms; dataset index alone p95 "
              f"{p95(reference) * 1000:.2f} ms ({p95(ours) / p95(reference):.1f}x)")  # fmt: skip
        catalogue.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--titles", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.03)
    parser.add_argument("--sync", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=40.0)
    parser.add_argument("--server-rate", type=float, default=50.0)
    parser.add_argument("--scale", type=int, default=20000, help="catalogue movies (0: skip)")
    parser.add_argument(
        "--plugins",
        default=",".join(DEFAULT_PLUGINS),
        help="plugins whose albums follow the card (default: config.toml's; '' for the card only)",
    )
    parser.add_argument(
        "--cache", type=Path, default=None, help="cache folder kept between runs (plugin fits)"
    )
    args = parser.parse_args()
    if args.scale:
        bench_scale(args.scale)
    if args.titles:
        plugins = [p for p in args.plugins.split(",") if p]
        bench_cards(args.titles, args.latency, plugins, args.cache)
    if args.sync:
        bench_sync(args.sync, args.rate, args.server_rate)


if __name__ == "__main__":
    main()
