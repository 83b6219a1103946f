"""Title search latency over 62,000 titles, beside a naive rapidfuzz scan, in the same run.

The real ml-latest-small titles are padded with synthetic ones (real titles with words
swapped, sequel numbers, other years, trailing articles and alternative titles) up to
``--titles``. Queries are real titles as people type them: lower case, without the article,
with a typo, with the year, or only the first words. Target: p95 <= 5 ms per query.

    .venv/bin/python bench/bench_search.py [--titles 62000] [--queries 400]

Ours is timed as the median of three runs per query (this machine is shared). The
reference is ``process.extract(query, titles, scorer=WRatio, processor=default_process)``
over every title; it is slow, so it runs on the first ``--reference-queries`` queries only.
Top-1 accuracy counts queries whose intended movie is known (not the unfinished ones).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from rapidfuzz import fuzz, process, utils

from reelpick.data import load_dataset, split_title
from reelpick.data.search import TitleIndex

ML_SMALL = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ml-latest-small"
NAMED = [
    "the matirx",
    "Matrix, The (1999)",
    "heat",
    "hamlet",
    "godfather part ii",
    "heat 1995",
    "se7en",
    "amelie",
    "toy sto",
    "lord of the rigns",
]


def synthetic_movies(real: pd.DataFrame, total: int, rng: random.Random) -> pd.DataFrame:
    """``real`` plus made-up titles built from its words, ``total`` rows in all."""
    names = [split_title(t)[0] for t in real["title"]]
    vocabulary = [w for n in names for w in re.findall(r"[A-Za-z']+", n) if len(w) > 2]
    rows = []
    next_id = int(real["movieId"].max()) + 1
    while len(real) + len(rows) < total:
        words = rng.choice(names).split(" (")[0].split()
        for _ in range(rng.randint(1, 2)):
            words[rng.randrange(len(words))] = rng.choice(vocabulary)
        if rng.random() < 0.15:
            words.append(rng.choice(["2", "3", "II", "Part III", "Returns"]))
        name = " ".join(words)
        if name.startswith("The ") and rng.random() < 0.8:
            name = f"{name[4:]}, The"
        if rng.random() < 0.1:
            name += f" ({' '.join(rng.sample(vocabulary, 2))})"
        rows.append((next_id, f"{name} ({rng.randint(1915, 2023)})", "Drama"))
        next_id += 1
    extra = pd.DataFrame(rows, columns=["movieId", "title", "genres"])
    return pd.concat([real, extra], ignore_index=True)


def make_queries(
    index_titles: pd.DataFrame, n: int, rng: random.Random
) -> list[tuple[str, int | None]]:
    """(query, intended movieId or None) pairs drawn from real, rated titles."""
    queries: list[tuple[str, int | None]] = [(q, None) for q in NAMED]
    while len(queries) < n:
        movie_id, title = index_titles.sample(1, random_state=rng.randrange(1 << 30)).iloc[0]
        name, year = split_title(title)
        name = name.split(" (")[0]
        kind = rng.choice(["exact", "lower", "typo", "year", "prefix"])
        text = name.lower() if kind != "exact" else name
        if kind in ("lower", "typo", "year") and text.startswith("the "):
            text = text[4:]
        if kind == "typo":
            long_words = [i for i, w in enumerate(text.split()) if len(w) >= 5]
            if not long_words:
                continue
            words = text.split()
            i = rng.choice(long_words)
            j = rng.randrange(1, len(words[i]) - 2)
            w = words[i]
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
            text = " ".join(words)
        if kind == "year" and year:
            text = f"{text} {year}"
        if kind == "prefix":
            text = " ".join(text.split()[:2])[:-1]
        queries.append((text, None if kind == "prefix" else int(movie_id)))
    return queries


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--titles", type=int, default=62_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--reference-queries", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    real = pd.read_csv(ML_SMALL / "movies.csv")
    movies = synthetic_movies(real, args.titles, rng)
    with tempfile.TemporaryDirectory() as tmp:
        movies.to_csv(Path(tmp) / "movies.csv", index=False)
        for name in ("ratings.csv", "links.csv", "tags.csv"):
            shutil.copy(ML_SMALL / name, Path(tmp) / name)
        dataset = load_dataset(tmp)
    started = time.perf_counter()
    index = TitleIndex(dataset)
    build = time.perf_counter() - started

    rated = real[real["movieId"].isin(dataset.ratings["movieId"].unique())]
    queries = make_queries(rated[["movieId", "title"]], args.queries, rng)
    titles = movies["title"].tolist()
    title_ids = movies["movieId"].tolist()

    for query, _ in queries[:20]:  # warm caches, as a long-running bot would be
        index.search(query)
    ours, ours_hits = [], []
    for query, wanted in queries:
        # Median of three runs per query: the machine is shared, one run can catch a stall.
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            found = index.search(query)
            runs.append((time.perf_counter() - started) * 1000)
        ours.append(statistics.median(runs))
        if wanted is not None:
            ours_hits.append(bool(found.candidates) and found.candidates[0].movie_id == wanted)

    reference, ref_hits, ours_hits_subset = [], [], []
    subset = queries[: args.reference_queries]
    for query, wanted in subset:
        started = time.perf_counter()
        found = process.extract(
            query, titles, scorer=fuzz.WRatio, processor=utils.default_process, limit=5
        )
        reference.append((time.perf_counter() - started) * 1000)
        if wanted is not None:
            ref_hits.append(bool(found) and title_ids[found[0][2]] == wanted)
            mine = index.search(query).candidates
            ours_hits_subset.append(bool(mine) and mine[0].movie_id == wanted)

    p50, p95 = percentile(ours, 50), percentile(ours, 95)
    r50, r95 = percentile(reference, 50), percentile(reference, 95)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"titles: {len(dataset.movies):,} ({len(real):,} real), index build {build:.2f} s"
        f"  (load average {load} on {os.cpu_count()} CPUs)"
    )
    print(
        f"reelpick TitleIndex.search: {len(ours)} queries  p50 {p50:.2f} ms  p95 {p95:.2f} ms  "
        f"max {max(ours):.2f} ms  top-1 {sum(ours_hits) / len(ours_hits):.1%} of {len(ours_hits)}"
    )
    print(
        f"naive extract(WRatio):      {len(reference)} queries  p50 {r50:.2f} ms  p95 {r95:.2f} ms"
        f"  top-1 {sum(ref_hits) / max(1, len(ref_hits)):.1%} of {len(ref_hits)}"
        f" (reelpick on the same: {sum(ours_hits_subset) / max(1, len(ours_hits_subset)):.1%})"
    )
    print(
        f"speed-up: p50 {r50 / p50:.0f}x  p95 {r95 / p95:.0f}x   target p95 <= 5 ms: "
        f"{'met' if p95 <= 5 else 'NOT met'}"
    )
    slowest = sorted(zip(ours, (q for q, _ in queries), strict=True), reverse=True)[:5]
    print("slowest:", ", ".join(f"{q[:30]!r} {t:.1f} ms" for t, q in slowest))
    return 0 if p95 <= 5 else 1


if __name__ == "__main__":
    sys.exit(main())
