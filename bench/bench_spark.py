"""Benchmark the Spark engine against the local one, in one run, and print ratios.

Default run (on local[2], loopback only):

  equality   cosine-CF tables from the Spark engine vs the local numba kernel (k=50,
             min_support=3) on ml-latest-small and on a 1 M-rating synthetic set: the
             same neighbour ids in the same order, scores within 1e-6;
  timing     fit seconds of each engine on the same matrices (Spark's: a warm session,
             the JVM start counted apart);
  als        the als plugin's RMSE on the seed protocol (``reelpick evaluate``'s article
             split, 10 test ratings per user, seed 0) on ml-latest-small, target <= 0.90
             (scikit-surprise SVD, default settings: 0.909).

``--synthetic-25m`` adds the ml-25m-sized synthetic set (bench_cosine.py's generator):
Spark fit time vs the local engine's (target <= 3x) and driver peak RSS (the Python driver
plus the JVM it starts, sampled every 0.2 s; target <= 4 GiB). It takes minutes.

    .venv/bin/python bench/bench_spark.py
    .venv/bin/python bench/bench_spark.py --synthetic-25m
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cosine import ML_SMALL, synthetic_ratings  # noqa: E402

K, MIN_SUPPORT = 50, 3
GIB = 1 << 30


class PeakRss:
    """Peak RSS of this process plus its children (the JVM and Python workers apart)."""

    def __init__(self) -> None:
        import psutil

        self.me = psutil.Process()
        self.driver = 0
        self.jvm = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                driver = self.me.memory_info().rss
                jvm = sum(
                    c.memory_info().rss for c in self.me.children() if "java" in c.name().lower()
                )
            except Exception:  # a child exited between listing and reading
                continue
            self.driver, self.jvm = max(self.driver, driver), max(self.jvm, jvm)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def compare(name: str, matrix, spark_engine) -> dict:
    from reelpick import topk_cosine_sparse

    topk_cosine_sparse(matrix[:50], 5, 1)  # numba JIT outside the timing
    started = time.perf_counter()
    local = topk_cosine_sparse(matrix, K, MIN_SUPPORT)
    local_s = time.perf_counter() - started
    spark_engine.topk_cosine(matrix[:200], 5, 1)  # Python workers started and warmed
    started = time.perf_counter()
    found = spark_engine.topk_cosine(matrix, K, MIN_SUPPORT)
    spark_s = time.perf_counter() - started
    same_ids = bool(np.array_equal(found[0], local[0]))
    worst = float(np.abs(found[1] - local[1]).max()) if local[1].size else 0.0
    print(
        f"{name}: {matrix.shape[0]:,} users x {matrix.shape[1]:,} movies, {matrix.nnz:,} "
        f"ratings: local {local_s:.1f} s, Spark {spark_s:.1f} s ({spark_s / local_s:.1f}x); "
        f"ids {'EQUAL' if same_ids else 'DIFFER'}, max score difference {worst:.1e}"
    )
    return {"same": same_ids and worst <= 1e-6, "local_s": local_s, "spark_s": spark_s}


def als_rmse() -> tuple[float, float]:
    """als and scikit-surprise's SVD (default settings) on the same article split."""
    import tempfile

    from surprise import SVD, Reader
    from surprise import Dataset as SurpriseDataset

    from reelpick.config import load_config
    from reelpick.data import load_dataset
    from reelpick.evaluation import evaluate
    from reelpick.evaluation.ratings import article_split

    dataset = load_dataset(ML_SMALL)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "config.toml").write_text(
            f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{tmp}/cache"\n'
            '[plugins]\nenabled = ["als"]\n'
        )
        report = evaluate(load_config(Path(tmp) / "config.toml"), dataset, plugins=["als"], seed=0)
    ours = report.to_json()["plugins"][0]["rating"]["rmse"]
    split = article_split(dataset.ratings, 10, 0)
    columns = ["userId", "movieId", "rating"]
    train = SurpriseDataset.load_from_df(split.train[columns], Reader(rating_scale=(0.5, 5.0)))
    model = SVD(random_state=0).fit(train.build_full_trainset())
    test = split.test[columns].to_numpy()
    errors = [model.predict(int(u), int(m)).est - r for u, m, r in test]
    return ours, float(np.sqrt(np.mean(np.square(errors))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--synthetic-25m", action="store_true", help="the 25 M-rating run")
    args = parser.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from reelpick.data import load_dataset
    from reelpick.engine import EngineSettings
    from reelpick.engine.spark import SparkEngine

    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, Spark on local[2]")
    with PeakRss() as peak:
        started = time.perf_counter()
        engine = SparkEngine(EngineSettings(name="spark", master="local[2]"))
        engine.session  # noqa: B018  (start the JVM now, to time it apart)
        print(f"Spark session start (JVM): {time.perf_counter() - started:.1f} s")
        results = [
            compare("ml-latest-small", load_dataset(ML_SMALL).matrix.matrix, engine),
            compare(
                "synthetic 1 M",
                synthetic_ratings(n_users=20_000, n_movies=10_000, n_ratings=1_000_000),
                engine,
            ),
        ]
        if args.synthetic_25m:
            matrix = synthetic_ratings()
            big = compare("synthetic 25 M", matrix, engine)
            print(
                f"25 M: Spark / local time {big['spark_s'] / big['local_s']:.2f}x (target <= 3x); "
                f"driver peak RSS so far: Python {peak.driver / GIB:.2f} GiB + JVM "
                f"{peak.jvm / GIB:.2f} GiB = {(peak.driver + peak.jvm) / GIB:.2f} GiB "
                "(target <= 4 GiB)"
            )
            results.append(big)
            del matrix
    print(f"tables equal to the local engine's: {all(r['same'] for r in results)}")
    ours, surprise = als_rmse()
    print(
        f"RMSE, article split seed 0, ml-latest-small: als {ours:.4f} (target <= 0.90), "
        f"Surprise SVD default {surprise:.4f}: als / SVD {ours / surprise:.3f}"
    )


if __name__ == "__main__":
    main()
