"""Benchmark photo identification: re-photographed posters -> the right movie, and calibrate
the bot's confidence thresholds ([photo] confident_score, confident_margin, candidate_score).

Of the 500 real posters, 400 are indexed (vgg16-poster, the bot's settings) and 100 are left
out, to play posters of movies the bot does not know. Each poster gets five altered copies
(tests/support/photo_variants.py: scaled 60 %, cropped 10 %, rotated 3°, JPEG quality 40, brightness
-20 %), asked through the public path (``Registry.ask_image`` -> ``reelpick_similar_image``).

* calibration: variants of 100 indexed posters and 50 unknown ones choose the thresholds;
* report: variants of 100 *other* indexed posters (target: top-1 right >= 95 %) and of the
  other 50 unknown posters (how often the bot would wrongly say "That looks like ...").

    .venv/bin/python bench/bench_photo.py      # ~6 min on 2 busy cores; features are cached
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from reelpick.app import Reelpick  # noqa: E402
from reelpick.config import load_config  # noqa: E402
from tests.support.photo_variants import VARIANTS, variants  # noqa: E402

SHARED = Path(os.environ.get("REELPICK_SHARED", REPO.parent / "shared"))
ML_SMALL = SHARED / "data" / "ml-latest-small"
POSTERS = SHARED / "data" / "posters"
VGG16_WEIGHTS = SHARED / "models" / "vgg16_imagenet_notop.weights.h5"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", default="/tmp/reelpick-photo-bench/cache")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    work = Path(args.cache).parent
    ids = sorted(int(p.stem) for p in POSTERS.glob("*.jpg"))
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(ids).tolist()
    unknown, indexed = order[:100], order[100:]
    calibration, report = indexed[:100], indexed[100:200]

    folder = work / "posters-indexed"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.jpg"):
        old.unlink()
    for movie_id in indexed:
        (folder / f"{movie_id}.jpg").symlink_to(POSTERS / f"{movie_id}.jpg")
    config_file = work / "bench-photo.toml"
    config_file.write_text(
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{args.cache}"\n'
        f'[posters]\ndir = "{folder}"\n[plugins]\nenabled = ["vgg16-poster"]\n'
        f'[plugins.vgg16-poster]\nweights = "{VGG16_WEIGHTS}"\n'
    )
    app = Reelpick.open(load_config(config_file))
    started = time.perf_counter()

    def ask(movie_ids: list[int]) -> list[tuple[int, str, int, float, float]]:
        """(poster, variant, top-1 movie, top-1 score, margin to top-2) for every variant."""
        rows = []
        for movie_id in movie_ids:
            for name, data in variants((POSTERS / f"{movie_id}.jpg").read_bytes()).items():
                answer = app.registry.ask_image("vgg16-poster", data, 2)
                assert answer.ok, answer
                first, second = answer.neighbours
                rows.append(
                    (movie_id, name, first.movie_id, first.score, first.score - second.score)
                )
        return rows

    calib_known, calib_unknown = ask(calibration), ask(unknown[:50])
    report_known, report_unknown = ask(report), ask(unknown[50:])
    seconds = time.perf_counter() - started
    queries = len(calib_known) + len(calib_unknown) + len(report_known) + len(report_unknown)

    score, margin, floor = calibrate(calib_known, calib_unknown)
    print(f"\n{queries} image queries in {seconds:.0f} s ({seconds / queries * 1000:.0f} ms each)")
    print(
        f"calibrated: confident_score = {score:.3f}, confident_margin = {margin:.3f}, "
        f"candidate_score = {floor:.3f}"
    )
    print(
        f"\nreport set: {len(report)} indexed posters x {len(VARIANTS)} variants "
        "(none used in calibration)"
    )
    print(f"{'variant':<18} {'top-1 right':>11} {'confident':>10} {'confident & wrong':>18}")
    for name in [*VARIANTS, "all"]:
        rows = [r for r in report_known if name in (r[1], "all")]
        right = sum(r[0] == r[2] for r in rows)
        sure = [r for r in rows if r[3] >= score and r[4] >= margin]
        wrong = sum(r[0] != r[2] for r in sure)
        print(f"{name:<18} {right / len(rows):>10.1%} {len(sure) / len(rows):>10.1%} {wrong:>18}")
    sure_unknown = sum(r[3] >= score and r[4] >= margin for r in report_unknown)
    shown = sum(r[3] >= floor for r in report_unknown)
    print(
        f"unknown posters ({len(report_unknown)} variants of 50 posters not indexed): "
        f"wrongly confident {sure_unknown}, shown as candidates {shown}, "
        f"'I don't know this movie' {len(report_unknown) - shown}"
    )
    total = sum(r[0] == r[2] for r in report_known) / len(report_known)
    print(
        f"\nidentification accuracy (top-1, report set): {total:.1%}; target 95 %; "
        f"ratio {total / 0.95:.2f} (>= 1.0 meets it)"
    )
    return 0


def calibrate(known: list[tuple], unknown: list[tuple]) -> tuple[float, float, float]:
    """Thresholds from the calibration rows.

    confident: the loosest (score, margin) pair under which no calibration answer is wrong,
    with a safety step, choosing the pair that names the most posters; candidate floor: low
    enough that 99 % of right top-1 answers are still shown as candidates.
    """
    known_arr = np.array([(r[0] == r[2], r[3], r[4]) for r in known], dtype=float)
    unknown_arr = np.array([(0.0, r[3], r[4]) for r in unknown], dtype=float)
    rows = np.vstack([known_arr, unknown_arr])
    right, scores, margins = rows[:, 0] == 1, rows[:, 1], rows[:, 2]
    best = (0, 1.0, 1.0)
    for s in np.unique(np.round(scores, 3)):
        for m in np.unique(np.round(margins, 3)):
            sure = (scores >= s) & (margins >= m)
            # At equal coverage the later (stricter) pair wins: the safer threshold.
            if sure.any() and right[sure].all() and sure.sum() >= best[0]:
                best = (int(sure.sum()), float(s), float(m))
    _, score, margin = best
    # One step stricter than the edge of the data: what was never wrong there may be at 1 %.
    score, margin = score + 0.01, margin + 0.01
    # "I don't know this movie" for 95 % of unknown posters, but never for a right answer's
    # typical score: guesses cost a tap, a wrong "don't know" loses the movie.
    unknown_q95 = float(np.quantile(unknown_arr[:, 1], 0.95))
    right_q01 = float(np.quantile(known_arr[known_arr[:, 0] == 1, 1], 0.01))
    floor = min(unknown_q95, right_q01 - 0.01)
    print(
        f"calibration: top-1 cosine of right answers min {known_arr[known_arr[:, 0] == 1, 1].min():.3f}"
        f" / 1 % {right_q01:.3f} / median {np.median(known_arr[:, 1]):.3f}; unknown posters median "
        f"{np.median(unknown_arr[:, 1]):.3f} / 95 % {unknown_q95:.3f} / max {unknown_arr[:, 1].max():.3f}; "
        f"margins of right answers 1 % {np.quantile(known_arr[:, 2], 0.01):.3f}, of unknown "
        f"posters max {unknown_arr[:, 2].max():.3f}"
    )
    return score, margin, floor


if __name__ == "__main__":
    sys.exit(main())
