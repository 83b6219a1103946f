"""SGD-MF training speed against scikit-surprise's SVD, same data, factors and epochs, one run.

    .venv/bin/python bench/bench_sgd.py [--data PATH] [--factors 100] [--epochs 20] [--repeat 3]

Both fit plain biased MF (no implicit, asymmetric or genre terms, no early stopping) on every rating of
the dataset with Surprise's defaults (lr 0.005, reg 0.02, init std 0.1); the number reported
is rating updates per second (ratings x epochs / CPU seconds), best of ``--repeat`` runs taken
in turns (CPU time, because a shared machine's wall time mostly measures the neighbours; both
are printed). Our numba kernel is compiled (or loaded from numba's cache) before timing. The default config
(all terms, early stopping, refit of an ensemble) is timed too, for reference.
Needs scikit-surprise: ``.venv/bin/pip install scikit-surprise``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from reelpick.data import load_dataset
from reelpick.plugins import sgd_mf

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-latest-small"


def race(repeat: int, **runs) -> dict[str, tuple[float, float]]:
    """Best (wall, CPU) seconds of each run; the runs take turns, so both see the same load."""
    best = {name: (np.inf, np.inf) for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="MovieLens folder or zip")
    parser.add_argument("--factors", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    try:
        from surprise import SVD, Reader
        from surprise import Dataset as SurpriseDataset
    except ImportError:
        print("scikit-surprise is missing: .venv/bin/pip install scikit-surprise", file=sys.stderr)
        return 2

    dataset = load_dataset(args.data)
    n = len(dataset.ratings)
    updates = n * args.epochs
    print(f"{args.data}: {n:,} ratings; {args.factors} factors, {args.epochs} epochs")

    plain = dict(
        sgd_mf.DEFAULT_PARAMS,
        factors=args.factors,
        epochs=args.epochs,
        lr=0.005,
        lr_decay=1.0,
        reg=0.02,
        reg_bias=0.02,
        init_std=0.1,
        implicit=False,
        asymmetric=False,
        genres=False,
        decades=False,
        validation_share=0.0,
    )
    matrix = dataset.matrix.matrix
    started = time.perf_counter()
    sgd_mf.train(matrix, dict(plain, epochs=1))  # compile or load the kernel
    print(f"numba kernel ready in {time.perf_counter() - started:.1f} s (not timed below)")
    reader = Reader(rating_scale=(0.5, 5.0))
    frame = dataset.ratings[["userId", "movieId", "rating"]]
    trainset = SurpriseDataset.load_from_df(frame, reader).build_full_trainset()
    best = race(
        args.repeat,
        surprise=lambda: SVD(n_factors=args.factors, n_epochs=args.epochs, random_state=0).fit(
            trainset
        ),
        ours=lambda: sgd_mf.train(matrix, plain),
    )

    default = dict(sgd_mf.DEFAULT_PARAMS)
    started = time.perf_counter()
    model = sgd_mf.fit_factors(dataset, default)
    full_fit = time.perf_counter() - started
    epochs_run = sum(len(v) for k, v in model.history.items() if k.startswith("train_rmse"))

    print(f"{'':<34} {'wall s':>7} {'CPU s':>7} {'updates/s (CPU)':>16}")
    for name, label in (
        ("surprise", "surprise SVD"),
        ("ours", "reelpick sgd-mf (plain biased MF)"),
    ):
        wall, cpu = best[name]
        print(f"{label:<34} {wall:>7.2f} {cpu:>7.2f} {updates / cpu:>16,.0f}")
    print(
        f"speed ratio (ours / surprise): {best['surprise'][1] / best['ours'][1]:.1f}x by CPU time, "
        f"{best['surprise'][0] / best['ours'][0]:.1f}x by wall time"
    )
    print(
        f"default config (all terms, early stopping, {default['ensemble']} refits): {full_fit:.1f} s for "
        f"{epochs_run} epochs in all, {n * epochs_run / full_fit:,.0f} updates/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
