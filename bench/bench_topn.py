"""Benchmark top-N recommendations: reelpick's plugins and picks beside the usual references.

One run, both protocols of ``reelpick evaluate --task topn`` (``session``: each test user's
last session, started >= 24 h after their previous rating, with >= 20 ratings before it;
``last10``: each user's 10 latest ratings), everything scored by the same code
(:func:`reelpick.evaluation.topn.score_lists`):

  popularity   the most rated training movies the user has not rated
  implicit-als implicit's AlternatingLeastSquares, 64 factors, regularization 0.05, alpha 1,
               20 iterations, on the binary users x movies matrix
  ease-ref     EASE's closed form (Steck 2019) on plain binary profiles over the 4,000 most
               rated training movies (the plugin's max_items), written here, independent of
               the plugin; λ chosen on validation users inside the training data (the same
               protocol applied to the training ratings), from LAMBDAS
  reelpick     every enabled plugin that recommends (config.toml), fitted and asked exactly as
               ``reelpick evaluate --task topn`` does (profiles through the product's import
               and profile store), and the picks with the [picks] settings

For each protocol: nDCG@10 with its 95 % bootstrap interval over users, Recall@10, then the
picks against the best reference: the ratio of nDCG@10 and the paired bootstrap 95 %
interval of (picks - best reference) over the same users. Goals: session nDCG@10 >= 1.10x
the best reference with the paired interval above 0; last10 picks >= 0.100.

    .venv/bin/python -m pip install -e '.[bench]'
    .venv/bin/python bench/bench_topn.py [--data PATH] [--config PATH] [--protocol P]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from reelpick.config import load_config
from reelpick.data import load_dataset
from reelpick.evaluation.metrics import paired_bootstrap_ci
from reelpick.evaluation.protocols import PROTOCOLS, split_for
from reelpick.evaluation.topn import COMPARE_LAMBDA, K, TopnResult, picks_lists, score_lists
from reelpick.evaluation.topn_scoring import ScoringContext
from reelpick.evaluation.training import train_and_ask, truth_of
from reelpick.picks import PICKS

REPO = Path(__file__).resolve().parent.parent
ML_SMALL = (
    Path(os.environ.get("REELPICK_SHARED", REPO.parent / "shared")) / "data" / "ml-latest-small"
)
LAMBDAS = (50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)
EASE_ITEMS = 4000  # as the ease plugin's max_items
GOAL_RATIO = 1.10
GOAL_LAST10 = 0.100


def binary_matrix(train: pd.DataFrame) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Users x movies 0/1 matrix of the training ratings, with its row and column ids."""
    user_ids, rows = np.unique(train["userId"].to_numpy(), return_inverse=True)
    movie_ids, cols = np.unique(train["movieId"].to_numpy(), return_inverse=True)
    matrix = sp.csr_matrix(
        (np.ones(len(train), dtype=np.float32), (rows, cols)),
        shape=(len(user_ids), len(movie_ids)),
    )
    return matrix, user_ids, movie_ids


def top_unseen(scores: np.ndarray, seen: np.ndarray, k: int = K) -> np.ndarray:
    scores = scores.astype(np.float64, copy=True)
    scores[seen] = -np.inf
    return np.argsort(-scores, kind="stable")[:k]


def run_popularity(train, users) -> tuple[dict[int, list[int]], float]:
    started = time.perf_counter()
    matrix, user_ids, movie_ids = binary_matrix(train)
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    seconds = time.perf_counter() - started
    lists = {}
    for user in users:
        row = matrix[np.searchsorted(user_ids, user)]
        lists[user] = movie_ids[top_unseen(counts, row.indices)].tolist()
    return lists, seconds


def run_als(train, users) -> tuple[dict[int, list[int]], float]:
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    matrix, user_ids, movie_ids = binary_matrix(train)
    started = time.perf_counter()
    # implicit wants a single-threaded BLAS (it parallelises itself, and checks on creation).
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=64, regularization=0.05, alpha=1.0, iterations=20, random_state=0
        )
        model.fit(matrix, show_progress=False)  # implicit >= 0.5: rows are users
    seconds = time.perf_counter() - started
    rows = np.searchsorted(user_ids, users)
    ids, _ = model.recommend(rows, matrix[rows], N=K, filter_already_liked_items=True)
    return {u: movie_ids[ids[i]].tolist() for i, u in enumerate(users)}, seconds


def ease_lists(train, users, lambdas) -> dict[float, dict[int, list[int]]]:
    """EASE's top-K for ``users`` at every λ of ``lambdas``, from one eigendecomposition of the
    Gram matrix G = V diag(e) V^T: (G + λI)^-1 = V diag(1 / (e + λ)) V^T, so only the rows of
    the users asked about are computed per λ."""
    matrix, user_ids, movie_ids = binary_matrix(train)
    # The most rated EASE_ITEMS movies only, as the plugin's max_items: the dense
    # eigendecomposition is cubic in the movies.
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    kept = np.sort(np.argsort(-counts, kind="stable")[:EASE_ITEMS])
    full, matrix, movie_ids = matrix, matrix[:, kept], movie_ids[kept]
    gram = (matrix.T @ matrix).toarray().astype(np.float32)
    values, vectors = np.linalg.eigh(gram)
    del gram
    rows = np.searchsorted(user_ids, users)
    profiles = matrix[rows]
    projected = np.asarray(profiles @ vectors)  # users x n
    squares = vectors**2
    found = {}
    for lam in lambdas:
        inverse_values = 1.0 / (values + lam)
        diagonal = squares @ inverse_values  # diag of P = (G + λI)^-1
        # B = I - P diag(1/diag P): X B = X - X P / diag(P); X's own columns are excluded
        # by top_unseen, so the unseen movies rank by -(X P) / diag(P).
        scores = -((projected * inverse_values) @ vectors.T) / diagonal[None, :]
        found[lam] = {
            u: movie_ids[top_unseen(scores[i], profiles[i].indices)].tolist()
            for i, u in enumerate(users)
        }
    del full
    return found


def run_ease_reference(train, users, protocol) -> tuple[dict[int, list[int]], float, str]:
    """EASE with λ chosen on validation users inside ``train`` (the same protocol)."""
    started = time.perf_counter()
    inner = split_for(protocol, train)
    truth = truth_of(inner.test)
    by_lambda = ease_lists(inner.train, sorted(truth), LAMBDAS)
    scored = {lam: score_lists(lists, truth, "ease").ndcg for lam, lists in by_lambda.items()}
    best = max(LAMBDAS, key=lambda lam: (scored[lam], -lam))
    lists = ease_lists(train, users, (best,))[best]
    note = (
        f"λ {best:g} on {len(truth)} validation users ("
        + ", ".join(f"{lam:g}: {v:.4f}" for lam, v in scored.items())
        + ")"
    )
    return lists, time.perf_counter() - started, note


def run_protocol(config, dataset, protocol: str) -> None:
    split = split_for(protocol, dataset.ratings)
    truth = truth_of(split.test)
    users = sorted(truth)
    print(
        f"\n== {protocol}: {dataset.source}: {len(split.train):,} training ratings, "
        f"{len(users)} test users, {len(split.test):,} test ratings",
        flush=True,
    )
    settings = config.settings.picks
    trained = train_and_ask(
        config, dataset, split, None, max(K, settings.calibration_pool), lambda line: None
    )
    context = ScoringContext.of(trained)
    references: list[TopnResult] = []
    notes = {}
    for name, run in (("popularity", run_popularity), ("implicit-als", run_als)):
        lists, seconds = run(split.train, users)
        result = score_lists(lists, truth, name, context=context)
        result.fit_seconds = seconds
        references.append(result)
    lists, seconds, notes["ease-ref"] = run_ease_reference(split.train, users, protocol)
    result = score_lists(lists, truth, "ease-ref", context=context)
    result.fit_seconds = seconds
    references.append(result)
    ours = [score_lists(trained.plugin_lists(n), truth, n, context=context) for n in trained.names]
    picks = score_lists(picks_lists(trained, K), truth, PICKS, context=context)
    # The other side of calibration: off when [picks] calibration is on, else on.
    lam = 0.0 if settings.calibration > 0 else COMPARE_LAMBDA
    other = settings.calibrated(lam)
    label = f"{PICKS} λ={lam:g}"
    compared = score_lists(picks_lists(trained, K, other), truth, label, context=context)
    header = (
        f"{'model':<24} {'nDCG@10':>8} {'95% CI':>17} {'Recall@10':>9} {'MRR':>6} "
        f"{'miscal':>6} {'poplift':>7}"
    )
    print(header)
    for result in [*references, *ours, picks, compared]:
        label = result.plugin if result in references else f"reelpick {result.plugin}"
        ci = f"[{result.ci95[0]:.4f}, {result.ci95[1]:.4f}]"
        lift = "-" if result.popularity_lift is None else f"{result.popularity_lift:.2f}"
        miscal = "-" if result.miscalibration is None else f"{result.miscalibration:.3f}"
        print(
            f"{label:<24} {result.ndcg:>8.4f} {ci:>17} {result.recall:>9.4f} "
            f"{result.mrr:>6.3f} {miscal:>6} {lift:>7}"
        )
    print(f"ease-ref: {notes['ease-ref']}")
    calibrated, plain = (picks, compared) if settings.calibration > 0 else (compared, picks)
    print(
        f"calibration: λ {max(settings.calibration, lam):g} against λ 0: nDCG@10 "
        f"{calibrated.ndcg / plain.ndcg:.3f}x (goal >= 0.95x), miscalibration "
        f"{(calibrated.miscalibration or 0) / (plain.miscalibration or 1):.3f}x (goal <= 0.5x)"
    )
    best = max(references, key=lambda r: r.ndcg)
    mean, low, high = paired_bootstrap_ci(picks.per_user, best.per_user)
    ratio = picks.ndcg / best.ndcg if best.ndcg else float("nan")
    print(
        f"picks / best reference ({best.plugin}): nDCG@10 {ratio:.2f}x; picks - {best.plugin} "
        f"= {mean:+.4f}, paired 95% interval [{low:+.4f}, {high:+.4f}]"
    )
    if protocol == "session":
        met = ratio >= GOAL_RATIO and low > 0
        print(f"goal (>= {GOAL_RATIO:.2f}x, interval above 0): {'met' if met else 'NOT met'}")
    else:
        met = picks.ndcg >= GOAL_LAST10
        print(f"goal (picks >= {GOAL_LAST10:.3f}): {'met' if met else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(ML_SMALL), help="MovieLens folder or zip")
    parser.add_argument("--config", help="reelpick config (default: the repository's)")
    parser.add_argument(
        "--protocol", action="append", choices=PROTOCOLS, help="default: both protocols"
    )
    args = parser.parse_args()
    config = load_config(args.config or REPO / "config.toml")
    dataset = load_dataset(args.data)
    for protocol in args.protocol or PROTOCOLS:
        run_protocol(config, dataset, protocol)


if __name__ == "__main__":
    main()
