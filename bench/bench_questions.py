"""Benchmark the /rate flow's next question: one ``RatingQuestions.next`` call for a person
with 2,000 ratings on ml-latest-small, against a reference run beside it (sorting the pool
by popularity, the least any chooser must do).

    .venv/bin/python bench/bench_questions.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("REELPICK_SHARED", REPO.parent / "shared"))

from reelpick.data import load_dataset  # noqa: E402
from reelpick.profiles import RatingQuestions  # noqa: E402
from reelpick.types import Profile  # noqa: E402

CALLS = 200
TARGET = 0.001  # seconds a call may take: the next question must feel instant


def per_call(run) -> float:
    run()  # warm up
    started = time.perf_counter()
    for _ in range(CALLS):
        run()
    return (time.perf_counter() - started) / CALLS


def main() -> int:
    dataset = load_dataset(SHARED / "data" / "ml-latest-small")
    questions = RatingQuestions(dataset)
    big = Profile(ratings={int(m): 3.0 for m in dataset.movies.index[:2000]})
    counts = dataset.rating_counts[questions.pool].to_numpy()
    chooser = per_call(lambda: questions.next(big, n=1, asked=[1, 6]))
    reference = per_call(lambda: np.argsort(-counts, kind="stable"))
    print(
        f"next question, 2,000 ratings: {chooser * 1000:.3f} ms a call "
        f"(target {TARGET * 1000:.0f} ms: ratio {chooser / TARGET:.2f}, <= 1 meets it); "
        f"reference (sort the pool by popularity) {reference * 1000:.3f} ms, "
        f"{chooser / reference:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
