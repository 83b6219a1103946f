"""``reelpick demo`` on a fresh cache with the shared data: time to the first printed answer
and to the end. Goals: first answer <= 20 s, whole demo <= 60 s (2-core machine).

    .venv/bin/python bench/bench_demo.py [--runs 1]

Each run gets a new empty cache and state folder. Beside it, as a measure of how loaded the
machine is, the same interpreter starting ``reelpick --version`` (the import cost every
command pays) is timed, and the load average is printed: on a shared machine, compare the
ratios, not the seconds. The demo's own stderr lines (one per fit stage) are shown.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FIRST_ANSWER = "=== "  # the demo's first answer starts with its title line
GOAL_FIRST, GOAL_WHOLE = 20.0, 60.0


def environment(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELPICK_")}
    env.update(
        REELPICK_DATA=str(SHARED / "data" / "ml-latest-small"),
        REELPICK_POSTERS_DIR=str(SHARED / "data" / "posters"),
        REELPICK_VGG16_WEIGHTS=str(SHARED / "models" / "vgg16_imagenet_notop.weights.h5"),
        REELPICK_CACHE=str(folder / "cache"),
        REELPICK_CONFIG=str(ROOT / "config.toml"),
        XDG_STATE_HOME=str(folder / "state"),
    )
    return env


def run_demo(env: dict[str, str]) -> tuple[float, float, str]:
    started = time.perf_counter()
    first = float("nan")
    with subprocess.Popen(
        [sys.executable, "-m", "reelpick", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    ) as demo:
        assert demo.stdout is not None and demo.stderr is not None
        for line in demo.stdout:
            if line.startswith(FIRST_ANSWER) and first != first:
                first = time.perf_counter() - started
        errors = demo.stderr.read()
    whole = time.perf_counter() - started
    if demo.returncode:
        raise SystemExit(f"demo failed ({demo.returncode}): {errors}")
    return first, whole, errors


def startup(env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "reelpick", "--version"], env=env, check=True, capture_output=True
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="reelpick-demo-") as tmp:
            env = environment(Path(tmp))
            reference = startup(env)
            load = os.getloadavg()[0]
            first, whole, errors = run_demo(env)
        print(f"run {run}: load average {load:.1f} on {os.cpu_count()} cores")
        for line in errors.strip().splitlines():
            print(f"  stderr: {line}")
        print(
            f"  first answer {first:.1f} s (goal {GOAL_FIRST:.0f} s: {first / GOAL_FIRST:.2f}x), "
            f"whole demo {whole:.1f} s (goal {GOAL_WHOLE:.0f} s: {whole / GOAL_WHOLE:.2f}x)"
        )
        print(
            f"  beside it: `reelpick --version` starts in {reference:.2f} s; first answer = "
            f"{first / reference:.0f}x that, whole demo = {whole / reference:.0f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
