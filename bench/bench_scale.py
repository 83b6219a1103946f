"""reelpick at MovieLens 32M's size: a synthetic dataset of 87,585 movies and 32 M ratings.

    .venv/bin/python bench/bench_scale.py [--dir /tmp/reelpick-scale] [--ratings 32000000]
    .venv/bin/python bench/bench_scale.py --only posters [--posters 100000]
    .venv/bin/python bench/bench_scale.py --only app [--dir DIR]   # again, warm, after a run

Steps, each in a fresh process so that its peak memory (RSS) is its own:

1. **Make** (once, kept in ``--dir``): movies.csv with ml-32m's 87,585 movies (titles made of
   ml-latest-small's title words, its genre mixes, years 1900-2023), links.csv, and
   ratings.csv with ``--ratings`` ratings by 200,948 users: movie popularity and user activity
   long-tailed (Zipf / log-normal, like MovieLens), half stars, timestamps 1996-2023.
2. **Load**: ``reelpick.data.load_dataset`` twice, in two processes: the first parses the
   files, the second finds them already parsed. Time and peak RSS of each; reference beside
   it: pandas reading ratings.csv alone.
3. **Titles**: the title index over the 87,585 movies, built once; p95 of 300 typed titles
   (a third exact, a third misspelt, a third partial).
4. **App** (``--plugins``, the catalogue of ``--catalogue`` movies beside): a first start
   that fits every plugin, then a warm start from the caches, as the bot opens: time to ready,
   100 typed titles -> card + similar movies, and picks for 20 profiles of 20 rated movies
   (/forme). Memory: peak RSS, and at the end the anonymous part (the process's own) apart
   from the mapped model files (``reelpick.npz``: page cache, shared with the image worker).
5. **Poster features on disk** for 100,000 movies in vgg16-poster's stored form, and the
   time to read them all back.

Goals (issue "Today's movies"): warm start <= 15 s, RSS <= 2.5 GiB, title answer p95 <= 300 ms,
poster features for 100 k movies <= 500 MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
ML_SMALL = REPO.parent / "shared" / "data" / "ml-latest-small"
MOVIES = 87_585
USERS = 200_948
CHUNK = 2_000_000
PICKS_QUERIES = 20


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def make(folder: Path, n_ratings: int, seed: int = 0) -> None:
    """Write the synthetic dataset (skipped when ``folder`` already holds it)."""
    done = folder / "made.json"
    if done.is_file() and json.loads(done.read_text()).get("ratings") == n_ratings:
        say(f"make: {folder} already holds the data")
        return
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    small = pd.read_csv(ML_SMALL / "movies.csv")
    words = sorted({w for t in small["title"] for w in t.rsplit("(", 1)[0].split() if w.isalpha()})
    years = rng.integers(1900, 2024, MOVIES)
    length = rng.integers(1, 5, MOVIES)
    titles = [
        " ".join(rng.choice(words, n)) + f" ({y})" for n, y in zip(length, years, strict=True)
    ]
    genres = rng.choice(small["genres"].to_numpy(), MOVIES)
    ids = np.arange(1, MOVIES + 1)
    pd.DataFrame({"movieId": ids, "title": titles, "genres": genres}).to_csv(
        folder / "movies.csv", index=False
    )
    pd.DataFrame({"movieId": ids, "imdbId": ids + 1_000_000, "tmdbId": ids + 2_000_000}).to_csv(
        folder / "links.csv", index=False
    )
    pd.DataFrame(columns=["userId", "movieId", "tag", "timestamp"]).to_csv(
        folder / "tags.csv", index=False
    )
    popularity = 1.0 / np.arange(1, MOVIES + 1) ** 0.9
    popularity = rng.permutation(popularity / popularity.sum())
    activity = rng.lognormal(0.0, 1.2, USERS)
    per_user = np.maximum(20, np.round(activity / activity.sum() * n_ratings)).astype(np.int64)
    per_user = np.minimum(per_user, MOVIES // 4)
    started = time.perf_counter()
    written = 0
    with open(folder / "ratings.csv", "w") as out:
        out.write("userId,movieId,rating,timestamp\n")
        user = 0
        while user < USERS and written < n_ratings:
            rows_u, rows_m = [], []
            size = 0
            while user < USERS and size < CHUNK and written + size < n_ratings:
                k = int(min(per_user[user], n_ratings - written - size))
                # Drawn with replacement, then each movie once: draw more than k, keep k.
                drawn = np.unique(rng.choice(MOVIES, size=k + k // 2 + 10, p=popularity))
                movies = np.sort(rng.permutation(drawn)[:k]) + 1
                rows_u.append(np.full(len(movies), user + 1))
                rows_m.append(movies)
                size += len(movies)
                user += 1
            u, m = np.concatenate(rows_u), np.concatenate(rows_m)
            stars = np.clip(np.round(rng.normal(3.6, 1.0, len(u)) * 2) / 2, 0.5, 5.0)
            stamps = rng.integers(820_000_000, 1_700_000_000, len(u))
            pd.DataFrame({"u": u, "m": m, "r": stars, "t": stamps}).to_csv(
                out, header=False, index=False
            )
            written += len(u)
            say(f"make: {written:,} ratings ({time.perf_counter() - started:.0f} s)")
    done.write_text(json.dumps({"ratings": n_ratings, "written": written, "users": user}))


def child(step: str, root: Path) -> None:
    """One measured step in this (fresh) process; prints a JSON line."""
    started = time.perf_counter()
    out: dict = {"step": step}
    if step == "pandas":
        frame = pd.read_csv(root / "data" / "ratings.csv")
        out["rows"] = len(frame)
    elif step == "load":
        from reelpick.data import load_dataset

        dataset = load_dataset(root / "data", root / "cache")
        out["rows"] = len(dataset.ratings)
        out["fingerprint"] = dataset.fingerprint
    elif step == "app":
        out |= app_step(root, 100)
    elif step.startswith("read-"):
        _, pooling, movies = step.split("-")
        out |= read_features(root, pooling, int(movies))
    out["seconds"] = time.perf_counter() - started
    out["rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    out |= resident_now()
    print(json.dumps(out))


def resident_now() -> dict[str, float]:
    """This process's memory now, split: anonymous (its own, what it cannot give back) and
    file pages (cached model files mapped read-only: shared with the bot's image worker and
    given back by the kernel under pressure)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("RssAnon", "RssFile"):
            fields[key] = int(value.split()[0]) / 2**20  # kB -> GiB
    return {"anon_gib": fields.get("RssAnon", 0.0), "file_gib": fields.get("RssFile", 0.0)}


def titles(root: Path, catalogue_movies: int, queries: int = 300, seed: int = 0) -> dict:
    """The title index over the synthetic movies and ``catalogue_movies`` catalogue titles:
    built once, then typed titles answered locally (a third exact, misspelt, partial)."""
    import random
    import tempfile

    from reelpick.catalogue.service import Catalogue
    from reelpick.config import load_config
    from reelpick.data import load_dataset
    from reelpick.data.search import TitleIndex

    rng = random.Random(seed)
    dataset = load_dataset(root / "data", root / "cache")
    started = time.perf_counter()
    index = TitleIndex(dataset)
    built = time.perf_counter() - started
    names = dataset.movies["name"]
    wanted = rng.sample(list(names.index), queries)
    typed = []
    for n, name in enumerate(str(names[m]) for m in wanted):
        if n % 3 == 1 and len(name) > 4:  # two letters swapped
            i = rng.randrange(1, len(name) - 2)
            name = name[:i] + name[i + 1] + name[i] + name[i + 2 :]
        elif n % 3 == 2:
            name = " ".join(name.split()[:2])
        typed.append(name.lower())
    with tempfile.TemporaryDirectory() as tmp:
        catalogue_file(Path(tmp) / "catalogue.sqlite3", catalogue_movies)
        config = load_config(None)
        config.values["catalogue"]["db"] = str(Path(tmp) / "catalogue.sqlite3")
        catalogue = Catalogue(config, dataset, None)
        started = time.perf_counter()
        _ = catalogue.titles
        catalogue_built = time.perf_counter() - started
        answers, found = [], 0
        for query, movie_id in zip(typed, wanted, strict=True):
            started = time.perf_counter()
            lookup = catalogue.lookup(index, query)
            answers.append(time.perf_counter() - started)
            found += movie_id in {c.movie_id for c in lookup.local.candidates}
        catalogue.close()
    return {
        "index_seconds": built,
        "catalogue_index_seconds": catalogue_built,
        "p50_ms": 1000 * float(np.percentile(answers, 50)),
        "p95_ms": 1000 * float(np.percentile(answers, 95)),
        "answered": found,
        "queries": len(typed),
    }


def poster_features(root: Path, movies: int, seed: int = 0) -> dict:
    """Disk used by vgg16-poster's stored features for ``movies`` posters, in each pooling,
    written through its own store with its default storage; each vector has as many nonzero
    values as a real poster's (10% of the flattened grid, 97% of the averages), at random
    places with gamma-distributed values. Then the time to read every one back in a fresh
    process (the pack just written, so from the page cache)."""
    from reelpick.plugins._vgg16_store import Compute, FeatureSpec, FeatureStore, Pooling
    from reelpick.plugins.vgg16_poster import VGG16Poster

    storage = VGG16Poster().reelpick_plugin_info().params["storage"]
    rng = np.random.default_rng(seed)
    out: dict = {}
    for pooling, dim, share in ((Pooling.FLATTEN, 7 * 7 * 512, 0.10), (Pooling.AVG, 512, 0.97)):
        folder = root / f"features-{pooling}"
        shutil.rmtree(folder, ignore_errors=True)
        spec = FeatureSpec("imagenet", "imagenet", pooling, Compute.FLOAT32, storage)
        store = FeatureStore(folder, spec)
        started = time.perf_counter()
        for n in range(movies):
            vector = np.zeros(dim, dtype=np.float32)
            nonzero = rng.choice(dim, int(dim * share), replace=False)
            vector[nonzero] = rng.gamma(1.0, 1.0, len(nonzero))
            store.save(f"poster-{n}", vector)
        seconds = time.perf_counter() - started
        used = subprocess.run(["du", "-sk", str(folder)], capture_output=True, text=True)
        apparent = subprocess.run(
            ["du", "-sk", "--apparent-size", str(folder)], capture_output=True, text=True
        )
        loaded = run_child(f"read-{pooling}-{movies}", root)
        out[str(pooling)] = {
            "storage": storage,
            "disk_mb": int(used.stdout.split()[0]) / 1024,
            "apparent_mb": int(apparent.stdout.split()[0]) / 1024,
            "write_seconds": seconds,
            "read_seconds": loaded["read_seconds"],
            "read": loaded["read"],
        }
        shutil.rmtree(folder, ignore_errors=True)
    return out


def read_features(root: Path, pooling: str, movies: int) -> dict:
    """Read back every feature vector :func:`poster_features` wrote: how many were there, and
    the seconds it took (opening the pack included, importing reelpick not)."""
    from reelpick.plugins._vgg16_store import Compute, FeatureSpec, FeatureStore, Pooling
    from reelpick.plugins.vgg16_poster import VGG16Poster

    storage = VGG16Poster().reelpick_plugin_info().params["storage"]
    spec = FeatureSpec("imagenet", "imagenet", Pooling(pooling), Compute.FLOAT32, storage)
    started = time.perf_counter()
    store = FeatureStore(root / f"features-{pooling}", spec)
    read = sum(store.load(f"poster-{n}") is not None for n in range(movies))
    return {"read": read, "read_seconds": time.perf_counter() - started}


def catalogue_file(path: Path, movies: int) -> None:
    """A catalogue of ``movies`` made-up movies (``bench_catalogue.py``'s) at ``path``."""
    import random

    from bench_catalogue import catalogue_movies  # this folder

    from reelpick.catalogue.store import CatalogueStore

    path.unlink(missing_ok=True)
    store = CatalogueStore(path)
    store.put(catalogue_movies(movies, random.Random(0)))
    store.close()


def app_config(root: Path, plugins: list[str]) -> Path:
    """A config for the synthetic data: its own cache, data and state folders, ``plugins``."""
    config = root / "config.toml"
    enabled = ", ".join(f'"{p}"' for p in plugins)
    config.write_text(
        f'[data]\nsource = "{root / "data"}"\ndir = "{root / "data-dir"}"\n'
        f'[cache]\ndir = "{root / "cache"}"\n[state]\ndir = "{root / "state"}"\n'
        f'[plugins]\nenabled = [{enabled}]\n[catalogue]\ndb = "{root / "catalogue.sqlite3"}"\n'
    )
    return config


def app_step(root: Path, queries: int, seed: int = 0) -> dict:
    """Open the app as the bot does (dataset, plugins from their caches or fitted, the title
    indexes), then answer typed titles: lookup, card, and each plugin's similar movies."""
    import random

    from reelpick.app import Reelpick
    from reelpick.config import load_config

    started = time.perf_counter()
    app = Reelpick.open(load_config(root / "config.toml"))
    opened = time.perf_counter() - started
    _ = app.titles
    _ = app.catalogue.titles
    ready = time.perf_counter() - started
    rng = random.Random(seed)
    names = app.dataset.movies["name"]
    answers = []
    for movie_id in rng.sample(list(names.index), queries):
        t = time.perf_counter()
        lookup = app.lookup(str(names[movie_id]).lower())
        chosen = lookup.movie_id or lookup.local.candidates[0].movie_id
        app.card(chosen)
        app.similar(chosen, 10)
        answers.append(time.perf_counter() - t)
    # /forme: picks for profiles of 20 rated movies each, from every recommending plugin
    # (each reads its movie factors whole: the memory a serving bot really holds).
    from reelpick.types import Profile

    rated = list(app.dataset.rating_counts.index[app.dataset.rating_counts >= 5])
    picks = []
    for _ in range(PICKS_QUERIES):
        profile = Profile(
            ratings={int(m): float(rng.choice((3, 4, 5))) for m in rng.sample(rated, 20)}
        )
        t = time.perf_counter()
        app.picks(profile, 10)
        picks.append(time.perf_counter() - t)
    return {
        "opened_seconds": opened,
        "ready_seconds": ready,
        "plugins": {n: bool(p.fitted) for n, p in app.registry.plugins.items()},
        "p50_ms": 1000 * float(np.percentile(answers, 50)),
        "p95_ms": 1000 * float(np.percentile(answers, 95)),
        "picks_p95_ms": 1000 * float(np.percentile(picks, 95)),
    }


def run_child(step: str, root: Path) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", step, "--dir", str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def dataset_steps(args: argparse.Namespace) -> None:
    """Make the dataset, then load, titles and the app."""
    make(args.dir / "data", args.ratings)
    shutil.rmtree(args.dir / "cache", ignore_errors=True)
    for step, label in (("pandas", "pandas.read_csv"), ("load", "first load"), ("load", "later")):
        result = run_child(step, args.dir)
        print(
            f"{label:>15}: {result['seconds']:6.1f} s, peak RSS {result['rss_gib']:.2f} GiB, "
            f"{result['rows']:,} ratings",
            flush=True,
        )
    found = titles(args.dir, args.catalogue)
    print(
        f"titles: index over {MOVIES:,} movies built in {found['index_seconds']:.1f} s, "
        f"{args.catalogue:,} catalogue titles in {found['catalogue_index_seconds']:.1f} s; "
        f"typed title p50 {found['p50_ms']:.1f} ms, p95 {found['p95_ms']:.1f} ms (goal 300 ms), "
        f"the movie meant among the candidates for {found['answered']}/{found['queries']}",
        flush=True,
    )
    if args.plugins:
        app_config(args.dir, [p.strip() for p in args.plugins.split(",") if p.strip()])
        catalogue_file(args.dir / "catalogue.sqlite3", args.catalogue)
        app_steps(args.dir, ("first start", "warm start"))


def app_steps(root: Path, labels: tuple[str, ...]) -> None:
    """Open the app once per label, each in a fresh process, and print what it measured."""
    for label in labels:
        result = run_child("app", root)
        fitted = ", ".join(n for n, ok in result["plugins"].items() if ok)
        print(
            f"app, {label}: dataset and plugins in {result['opened_seconds']:.1f} s, ready "
            f"(title indexes built) in {result['ready_seconds']:.1f} s (goal 15 s warm), "
            f"peak RSS {result['rss_gib']:.2f} GiB (goal 2.5; at the end "
            f"{result['anon_gib']:.2f} GiB anonymous + {result['file_gib']:.2f} GiB mapped "
            f"files); plugins fitted: {fitted}; "
            f"title -> card + similar movies p50 {result['p50_ms']:.0f} ms, "
            f"p95 {result['p95_ms']:.0f} ms (goal 300 ms); picks for a profile of 20 "
            f"movies p95 {result['picks_p95_ms']:.0f} ms",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/reelpick-scale"))
    parser.add_argument("--ratings", type=int, default=32_000_000)
    parser.add_argument("--catalogue", type=int, default=20_000, help="catalogue movies")
    parser.add_argument(
        "--posters", type=int, default=100_000, help="posters with features (0: skip)"
    )
    parser.add_argument(
        "--plugins",
        default="ease,cosine-cf",
        help="plugins the app opens with ('' to skip the app); each is fitted on first start",
    )
    parser.add_argument(
        "--only",
        choices=["posters", "app"],
        help="run only this step (posters: needs no synthetic dataset; app: a warm start on "
        "the data, config and caches an earlier run left in --dir)",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.dir)
        return 0
    if args.only == "app":
        if not (args.dir / "config.toml").is_file():
            say(f"--only app: {args.dir} holds no earlier run; run without --only first")
            return 2
        app_steps(args.dir, ("warm start",))
        return 0
    if args.only != "posters":
        dataset_steps(args)
    for pooling, figures in poster_features(args.dir, args.posters).items() if args.posters else ():
        print(
            f"poster features, {pooling} ({figures['storage']}): {args.posters:,} posters "
            f"{figures['disk_mb']:.0f} MB on disk ({figures['apparent_mb']:.0f} MB of data, "
            f"{figures['apparent_mb'] * 2**20 / args.posters:,.0f} bytes a poster; goal 500 MB), "
            f"written in {figures['write_seconds']:.0f} s, all {figures['read']:,} read back in "
            f"{figures['read_seconds']:.1f} s (fresh process)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
