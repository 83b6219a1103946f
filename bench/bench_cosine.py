"""Benchmark the cosine-CF fit: the seed article's dense numpy recipe against our sparse kernel.

Default run, on the real ml-latest-small, each variant in its own process:

  article   the seed article's item-item similarity as written: a dense users x movies array,
            ``sim = R.T @ R + epsilon``, divided by the norms taken from its diagonal, then
            for each movie ``np.argsort`` of its row, best first (its top_k_movies, for every
            movie). The dense array is filled in one vectorised step instead of the
            article's itertuples loop, which only makes the reference faster.
  ours      ``reelpick.topk_cosine_sparse`` with k=50 and min_support=3 (the plugin's
            defaults), and with min_support=1 (every co-rated pair; the article has no
            support threshold).

Both start from the same (user, movie, rating) arrays, so the fit includes building each
one's matrix. Figures: fit seconds (the article: one run; ours: median of 5 after warming
numba's JIT, whose compile time is reported apart), and memory as the operating system sees
it: each process's peak RSS (``os.wait4``), that peak minus the peak of a baseline process
that only imported numpy/scipy/pandas and loaded the ratings, and the fit alone (the peak
during the fit, reset just before it via /proc/self/clear_refs, minus the RSS before it).
Ours also carries numba and its compiled code (in "above baseline", not in "fit only").

``--synthetic`` fits an ml-25m-sized synthetic matrix (25 M ratings, 62 k movies, 162 k users,
power-law popularity and activity) and prints the fit time and the fitting process's peak RSS
against the targets (5 min, 8 GiB).

    .venv/bin/python bench/bench_cosine.py
    .venv/bin/python bench/bench_cosine.py --synthetic
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import scipy.sparse as sp

REPO = Path(__file__).resolve().parent.parent
ML_SMALL = (
    Path(os.environ.get("REELPICK_SHARED", REPO.parent / "shared")) / "data" / "ml-latest-small"
)
K = 50
MIB = 1 << 20


# ---------------------------------------------------------------- the two ways to fit


def fit_article(rows, cols, values, n_users, n_items, k=K):
    """The seed article's recipe, for every movie."""
    ratings = np.zeros((n_users, n_items))
    ratings[rows, cols] = values
    epsilon = 1e-9  # the article's guard against dividing by zero
    sim = ratings.T.dot(ratings) + epsilon
    norms = np.array([np.sqrt(np.diagonal(sim))])
    sim = sim / norms / norms.T
    index = np.empty((n_items, k), dtype=np.int32)
    score = np.empty((n_items, k), dtype=np.float32)
    for movie in range(n_items):
        best = np.argsort(sim[movie, :])[::-1]
        best = best[best != movie][:k]  # the article's list starts with the movie itself
        index[movie], score[movie] = best, sim[movie, best]
    return index, score


def fit_ours(rows, cols, values, n_users, n_items, min_support, k=K):
    from reelpick import topk_cosine_sparse

    matrix = sp.csr_matrix((values, (rows, cols)), shape=(n_users, n_items), dtype=np.float32)
    return topk_cosine_sparse(matrix, k, min_support)


# ---------------------------------------------------------------- memory of this process


def _status(field: str) -> int:
    """VmRSS / VmHWM of this process, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> bool:
    """Reset this process's peak RSS (Linux >= 4.0); False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _status("VmHWM") <= _status("VmRSS") + MIB


# ---------------------------------------------------------------- workers (one per process)


def load_ratings(folder: Path):
    import pandas as pd

    frame = pd.read_csv(folder / "ratings.csv", usecols=["userId", "movieId", "rating"])
    _, rows = np.unique(frame["userId"].to_numpy(), return_inverse=True)
    _, cols = np.unique(frame["movieId"].to_numpy(), return_inverse=True)
    values = frame["rating"].to_numpy(np.float32)
    return rows, cols, values, int(rows.max()) + 1, int(cols.max()) + 1


def worker(variant: str, data: Path, out: Path, min_support: int, repeats: int) -> dict:
    report: dict = {"variant": variant, "min_support": min_support}
    if variant == "synthetic":
        from reelpick import topk_cosine_sparse

        with np.load(data) as arrays:
            shape = tuple(arrays["shape"])
            matrix = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape)
        fit = partial(topk_cosine_sparse, matrix, K, min_support)
    else:
        ratings = load_ratings(data)
        if variant == "baseline":
            return report | {"rss_before": _status("VmRSS")}
        if variant == "article":
            fit = partial(fit_article, *ratings)
        else:
            fit = partial(fit_ours, *ratings, min_support)
    if variant != "article":
        from reelpick import topk_cosine_sparse

        tiny = sp.csr_matrix(np.array([[1, 2, 0], [3, 0, 1], [0, 4, 5]], dtype=np.float32))
        started = time.perf_counter()
        topk_cosine_sparse(tiny, 2, 1)  # compiles the kernel, or loads it from numba's cache
        report["jit_s"] = time.perf_counter() - started
    report["rss_before"] = _status("VmRSS")
    report["peak_reset"] = reset_peak()
    started = time.perf_counter()
    index, score = fit()
    times = [time.perf_counter() - started]
    report["fit_peak"] = _status("VmHWM")
    for _ in range(repeats - 1):
        started = time.perf_counter()
        fit()
        times.append(time.perf_counter() - started)
    report["times"] = times
    np.savez(out / f"{variant}-{min_support}.npz", index=index, score=score)
    return report


def run_worker(variant: str, data: Path, out: Path, min_support=1, repeats=1, env=None) -> dict:
    """Run one worker in a fresh process; add its peak RSS as the kernel accounted it."""
    command = [sys.executable, __file__, "--worker", variant, "--data", str(data)]
    command += ["--out", str(out), "--min-support", str(min_support), "--repeats", str(repeats)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, text=True)
    stdout = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"worker {variant} failed with exit code {process.returncode}")
    report = json.loads(stdout.strip().splitlines()[-1])
    report["peak_rss"] = usage.ru_maxrss * 1024  # KiB on Linux
    return report


# ---------------------------------------------------------------- ml-latest-small comparison


def top10_agreement(reference: dict, ours: dict, eligible_rows: np.ndarray) -> tuple[float, float]:
    """Over movies with >= 10 neighbours: mean overlap of the top-10 sets, and the share of
    movies whose top-10 scores match (the same neighbours up to the order of equal scores)."""
    a_index, a_score = (
        reference["index"][eligible_rows, :10],
        reference["score"][eligible_rows, :10],
    )
    b_index, b_score = ours["index"][eligible_rows, :10], ours["score"][eligible_rows, :10]
    overlap = np.mean(
        [len(np.intersect1d(a, b)) / 10 for a, b in zip(a_index, b_index, strict=True)]
    )
    same_scores = np.all(np.abs(a_score - b_score) <= 1e-5, axis=1).mean()
    return float(overlap), float(same_scores)


def bench_small() -> None:
    if not (ML_SMALL / "ratings.csv").exists():
        raise SystemExit(f"ml-latest-small not found at {ML_SMALL}")
    load = os.getloadavg()[0]  # before our own processes add to it
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        env = os.environ | {"NUMBA_CACHE_DIR": str(out / "numba-cache")}
        cold = run_worker("ours", ML_SMALL, out, 3, 1, env=env)  # compiles into an empty cache
        baseline = run_worker("baseline", ML_SMALL, out)
        article = run_worker("article", ML_SMALL, out)
        ours3 = run_worker("ours", ML_SMALL, out, 3, 5)
        ours1 = run_worker("ours", ML_SMALL, out, 1, 5)
        tables = {
            name: dict(np.load(out / f"{name}.npz")) for name in ("article-1", "ours-3", "ours-1")
        }
    rows, cols, values, n_users, n_items = load_ratings(ML_SMALL)
    per_user = np.bincount(rows).astype(np.int64)
    print(
        f"ml-latest-small: {n_users} users x {n_items} movies, {len(values):,} ratings; "
        f"sum over users of their ratings squared: {(per_user**2).sum() / 1e6:.1f} M "
        f"multiply-adds; {os.cpu_count()} CPUs, load average {load:.1f} at the start"
    )
    print(
        f"numba JIT, not in the fit times: compile into an empty cache {cold['jit_s']:.1f} s, "
        f"load from the on-disk cache {ours3['jit_s']:.2f} s\n"
    )
    base = baseline["peak_rss"]
    header = f"{'':28}{'fit s':>10}{'peak RSS':>12}{'above baseline':>16}{'fit only':>11}"
    print(header + "\n" + "-" * len(header))
    print(f"{'baseline (imports + data)':28}{'':>10}{base / MIB:>8.0f} MiB")
    for name, report in (
        ("article (dense numpy)", article),
        ("ours, min_support=3", ours3),
        ("ours, min_support=1", ours1),
    ):
        seconds = statistics.median(report["times"])
        fit_only = report["fit_peak"] - report["rss_before"]
        print(
            f"{name:28}{seconds:>10.3f}{report['peak_rss'] / MIB:>8.0f} MiB"
            f"{(report['peak_rss'] - base) / MIB:>12.0f} MiB{fit_only / MIB:>7.1f} MiB"
        )
    if not (ours3["peak_reset"] and article["peak_reset"]):
        print("(peak RSS could not be reset here: 'fit only' includes loading the data)")
    print(
        f"(ours' RSS before its fit, numba and the loaded kernel included: "
        f"{ours3['rss_before'] / MIB:.0f} MiB; the article's: {article['rss_before'] / MIB:.0f} MiB)"
    )
    print()
    for name, ours in (("min_support=3", ours3), ("min_support=1", ours1)):
        time_ratio = statistics.median(article["times"]) / statistics.median(ours["times"])
        above = (article["peak_rss"] - base) / max(ours["peak_rss"] - base, MIB)
        fit_only = (article["fit_peak"] - article["rss_before"]) / max(
            ours["fit_peak"] - ours["rss_before"], MIB
        )
        print(
            f"article / ours ({name}): time {time_ratio:.1f}x (target >= 10x), memory "
            f"{above:.1f}x above baseline, {fit_only:.1f}x fit only (target >= 10x)"
        )
    # Movies with at least 10 co-rated neighbours: beyond those, the article ranks movies
    # that share no rater (cosine 0, plus its epsilon) in arbitrary order.
    full = tables["ours-1"]["index"][:, 9] >= 0
    overlap, same = top10_agreement(tables["article-1"], tables["ours-1"], full)
    print(
        f"\ntop-10 agreement with the article, min_support=1, over {full.sum()} movies with "
        f">= 10 co-rated neighbours: {overlap:.1%} of neighbours in common; top-10 scores "
        f"equal (within 1e-5) for {same:.1%} of movies (where the scores are equal, the "
        f"neighbours differ only in which of several equally similar movies is listed)"
    )
    overlap, _ = top10_agreement(tables["article-1"], tables["ours-3"], full)
    print(
        f"with min_support=3 (pairs with fewer than 3 co-raters dropped, as the plugin "
        f"does): {overlap:.1%} in common"
    )


# ---------------------------------------------------------------- ml-25m-sized synthetic run


def synthetic_ratings(
    n_users=162_541, n_movies=62_423, n_ratings=25_000_095, seed=0
) -> sp.csr_matrix:
    """Power-law users x movies ratings, built directly as CSR arrays.

    User activity: 20 ratings plus a Pareto (Lomax, a = 2) tail, capped at half the movies,
    scaled to ``n_ratings`` in all. Movie popularity: a Zipf-like law 1 / (rank + 100) ** 1.2,
    drawn by inverse transform. A user drawing a movie twice gets another one, uniformly at
    random (the long tail), until every user has their number of distinct movies.
    """
    rng = np.random.default_rng(seed)
    activity = np.minimum(20 + 134 * rng.pareto(2.0, n_users), n_movies // 2)
    counts = np.floor(activity * (n_ratings / activity.sum())).astype(np.int64)
    counts[rng.choice(n_users, n_ratings - counts.sum(), replace=False)] += 1
    users = np.repeat(np.arange(n_users, dtype=np.int64), counts)
    power, offset = 1.2, 100.0
    low, high = offset ** (1 - power), (n_movies + offset) ** (1 - power)
    ranks = (low - rng.random(n_ratings) * (low - high)) ** (1 / (1 - power)) - offset
    movie_of_rank = rng.permutation(n_movies)  # popular movies spread over the columns
    keys = users * n_movies + movie_of_rank[np.minimum(ranks.astype(np.int64), n_movies - 1)]
    del ranks
    keys.sort()
    repeated = np.flatnonzero(keys[1:] == keys[:-1]) + 1
    redraw = keys[repeated] // n_movies  # the users owed a movie
    keys = np.delete(keys, repeated)
    extra = np.empty(0, dtype=np.int64)
    while len(redraw):
        fresh = redraw * n_movies + rng.integers(0, n_movies, len(redraw))
        taken = _contains(keys, fresh) | _contains(extra, fresh)
        _, first = np.unique(fresh, return_index=True)
        unique = np.zeros(len(fresh), dtype=bool)
        unique[first] = True
        extra = np.sort(np.concatenate([extra, fresh[unique & ~taken]]))
        redraw = redraw[~unique | taken]
    keys = np.sort(np.concatenate([keys, extra]))
    movies = (keys % n_movies).astype(np.int32)
    del keys
    indptr = np.zeros(n_users + 1, dtype=np.int32)
    np.cumsum(counts, out=indptr[1:])
    stars = np.clip(np.round(rng.normal(7.0, 2.0, n_ratings)), 1, 10).astype(np.float32) / 2
    return sp.csr_matrix((stars, movies, indptr), shape=(n_users, n_movies))


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[at] == keys


def bench_synthetic(min_support: int) -> None:
    load = os.getloadavg()[0]
    started = time.perf_counter()
    matrix = synthetic_ratings()
    made = time.perf_counter() - started
    per_user = np.diff(matrix.indptr).astype(np.int64)
    per_movie = np.bincount(matrix.indices, minlength=matrix.shape[1])
    print(
        f"synthetic: {matrix.shape[0]:,} users x {matrix.shape[1]:,} movies, {matrix.nnz:,} "
        f"ratings (made in {made:.0f} s); ratings per user: median {np.median(per_user):.0f}, "
        f"max {per_user.max():,}; per movie: median {np.median(per_movie):.0f}, max "
        f"{per_movie.max():,}, unrated {(per_movie == 0).sum():,}; sum over users of their "
        f"ratings squared: {(per_user**2).sum() / 1e9:.1f} G multiply-adds"
    )
    print(
        f"{os.cpu_count()} CPUs, load average {load:.1f} at the start "
        "(the machine is shared: other processes slow this run down)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        data = out / "ratings.npz"
        np.savez(
            data,
            data=matrix.data,
            indices=matrix.indices,
            indptr=matrix.indptr,
            shape=np.array(matrix.shape),
        )
        del matrix
        report = run_worker("synthetic", data, out, min_support, 1)
        index = np.load(out / f"synthetic-{min_support}.npz")["index"]
    seconds = report["times"][0]
    print(
        f"fit (k={K}, min_support={min_support}): {seconds:.1f} s (target <= 300 s); "
        f"JIT load {report['jit_s']:.1f} s apart"
    )
    print(
        f"peak RSS of the fitting process (ratings loaded + fit): "
        f"{report['peak_rss'] / (1 << 30):.2f} GiB (target <= 8 GiB); RSS before the fit "
        f"{report['rss_before'] / (1 << 30):.2f} GiB, the fit itself added "
        f"{(report['fit_peak'] - report['rss_before']) / (1 << 30):.2f} GiB at its peak"
    )
    print(f"movies with a full row of {K} neighbours: {(index[:, -1] >= 0).mean():.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--synthetic", action="store_true", help="ml-25m-sized synthetic run")
    parser.add_argument("--min-support", type=int, default=3)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        report = worker(args.worker, args.data, args.out, args.min_support, args.repeats)
        print(json.dumps(report))
    elif args.synthetic:
        bench_synthetic(args.min_support)
    else:
        bench_small()


if __name__ == "__main__":
    main()
