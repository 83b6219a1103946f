"""Personal picks over the dataset plus a large catalogue: what ranking catalogue movies costs.

Fits the hybrid on ml-latest-small (small SGD settings: the fit is not what is measured),
writes N synthetic catalogue movies (genres, years, keywords drawn from the dataset's) into a
catalogue file, and times, for the same profile:

* a recommendation without the catalogue (the reference),
* the first one with it (every catalogue row placed and cached),
* warm ones (the catalogue file unchanged: one query, one more matrix product),
* one after a single new row (one row placed),
* one after a restart (placements read back from the cache, none computed).

Prints each as a ratio to the reference run beside it, and the placements' size.

    .venv/bin/python bench/bench_catalogue_picks.py [--movies 20000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from reelpick.catalogue.store import CatalogueStore, StoredMovie
from reelpick.config import load_config
from reelpick.data import load_dataset
from reelpick.registry import Registry
from reelpick.types import Profile

REPO = Path(__file__).resolve().parent.parent
ML_SMALL = REPO.parent / "shared" / "data" / "ml-latest-small"
PARAMS = {"sgd_factors": 32, "sgd_epochs": 20, "sgd_ensemble": 1, "posters": False}


def synthetic(dataset, n: int, seed: int = 0) -> list[StoredMovie]:
    rng = np.random.default_rng(seed)
    genres = sorted({g for gs in dataset.movies["genres"] for g in gs})
    tags = dataset.tags["tag"].astype(str).str.lower().value_counts().index[:500].tolist()
    out = []
    for i in range(n):
        out.append(
            StoredMovie.described(
                5_000_000 + i,
                f"Synthetic {i}",
                int(rng.integers(2019, 2027)),
                tuple(rng.choice(genres, int(rng.integers(1, 4)), replace=False)),
                tuple(rng.choice(tags, int(rng.integers(0, 6)), replace=False)),
            )
        )
    return out


def timed(call, repeat: int = 1) -> float:
    best = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        best.append(time.perf_counter() - started)
    return float(np.median(best))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--movies", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    dataset = load_dataset(ML_SMALL)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        table = "".join(f"{k} = {json.dumps(v)}\n" for k, v in PARAMS.items())
        (root / "config.toml").write_text(
            f'[data]\ndir = "{root / "data"}"\n[cache]\ndir = "{root / "cache"}"\n'
            f'[plugins]\nenabled = ["hybrid"]\n[plugins.hybrid]\n{table}catalogue = true\n'
        )
        config = load_config(root / "config.toml")

        def fitted() -> object:
            registry = Registry(config, load_entry_points=False)
            assert registry.fit(dataset) == {"hybrid": None}
            return registry.plugin_object("hybrid")

        hybrid = fitted()
        counts = dataset.rating_counts.sort_values(ascending=False, kind="stable")
        profile = Profile(dict.fromkeys((int(m) for m in counts.index[:20]), 4.5))

        def ask() -> list:
            return hybrid.reelpick_recommend(profile, 50, frozenset())

        hybrid_catalogue = hybrid.catalogue
        hybrid.catalogue = None
        reference = timed(ask, args.repeat)
        hybrid.catalogue = hybrid_catalogue
        store = CatalogueStore(config.settings.catalogue.path(config.settings.data.dir))
        movies = synthetic(dataset, args.movies + 1)
        store.put(movies[:-1])
        first = timed(ask)
        placed = hybrid.catalogue.last_refresh
        warm = timed(ask, args.repeat)
        store.put(movies[-1:])
        one_more = timed(ask)
        assert hybrid.catalogue.last_refresh["placed"] == 1
        hybrid.catalogue.close()
        hybrid = fitted()
        restart = timed(ask)
        assert hybrid.catalogue.last_refresh["placed"] == 0
        size = sum(a.nbytes for a in hybrid.catalogue.placed.arrays().values())
        in_top = sum(r.movie_id >= 1_000_000_000 for r in ask())
        biases = np.percentile(hybrid.catalogue.placed.item_bias, [10, 50, 90])
        dataset_biases = np.percentile(hybrid.taste.item_bias, [10, 50, 90])
        store.close()
        hybrid.catalogue.close()
    print(f"catalogue movies: {args.movies:,}, placed on first use: {placed}")
    print(f"recommend k=50, no catalogue (reference): {reference * 1000:8.1f} ms")
    for name, value in [
        ("first, placing every row", first),
        ("warm (file unchanged)", warm),
        ("after one new row", one_more),
        ("after a restart (cached)", restart),
    ]:
        print(f"{name:<40} {value * 1000:8.1f} ms  ({value / reference:6.1f}x reference)")
    print(f"placements in memory: {size / 2**20:.1f} MiB; catalogue movies in the top 50: {in_top}")
    print(
        f"item bias p10/50/90: catalogue {np.round(biases, 3)}, dataset {np.round(dataset_biases, 3)}"
    )


if __name__ == "__main__":
    main()
