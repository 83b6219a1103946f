"""Choose ``[search] min_score``: the score under which title search offers nothing.

Two kinds of real-looking queries over the ml-latest-small titles, seeded:

- **typos**: a real title as people type it (lower case, no year, sometimes without its
  article) with one or two slips (a letter dropped, doubled, swapped or replaced);
- **nonsense**: made-up words ("xyzzy plugh"), one to three of them, 4-8 letters each.

For each query the candidates are recorded with the floor off. For each whole floor two
shares are counted: typo queries whose right movie was among the candidates but scores under
the floor (lost), and nonsense queries whose best candidate reaches it (still offered a
"could be"). A lost title costs more than a needless "could be", so the floor chosen is the
highest that loses at most ``--max-lost`` (default 0.5%, one typed title in 200).

    .venv/bin/python bench/tune_search_floor.py [--queries 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import string
import sys
from pathlib import Path

import numpy as np

from reelpick.data import load_dataset
from reelpick.data.search import SearchSettings, TitleIndex

ML_SMALL = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ml-latest-small"
VOWELS = "aeiouy"
CONSONANTS = "".join(c for c in string.ascii_lowercase if c not in VOWELS)


def typo(text: str, rng: random.Random) -> str:
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    if not letters:
        return text
    i = rng.choice(letters)
    kind = rng.choice(["drop", "double", "swap", "replace"])
    if kind == "drop":
        return text[:i] + text[i + 1 :]
    if kind == "double":
        return text[:i] + text[i] + text[i:]
    if kind == "swap" and i + 1 < len(text):
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + rng.choice(string.ascii_lowercase) + text[i + 1 :]


def typo_queries(names: list[tuple[int, str]], n: int, rng: random.Random) -> list[tuple[int, str]]:
    queries = []
    for movie_id, name in rng.sample(names, n):
        text = name.lower()
        if rng.random() < 0.3:
            for article in ("the ", "a ", "an "):
                text = text.removeprefix(article)
        for _ in range(rng.choice([1, 1, 2])):
            text = typo(text, rng)
        queries.append((movie_id, text))
    return queries


def nonsense_word(rng: random.Random) -> str:
    length = rng.randint(4, 8)
    if rng.random() < 0.5:  # pronounceable: consonant-vowel syllables
        return "".join(rng.choice(CONSONANTS if i % 2 == 0 else VOWELS) for i in range(length))
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(length))


def nonsense_queries(n: int, rng: random.Random) -> list[str]:
    return [" ".join(nonsense_word(rng) for _ in range(rng.randint(1, 3))) for _ in range(n)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ML_SMALL)
    parser.add_argument("--queries", type=int, default=2000, help="of each kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-lost", type=float, default=0.005, help="share of typed titles the floor may lose"
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    dataset = load_dataset(args.data)
    index = TitleIndex(dataset, SearchSettings(min_score=0.0))  # the floor off
    names = [(int(m), str(name)) for m, name in dataset.movies["name"].items()]

    right: list[float] = []  # typo queries whose candidates hold the movie meant: its score
    missed = 0
    for movie_id, query in typo_queries(names, args.queries, rng):
        found = {c.movie_id: c.score for c in index.search(query).candidates}
        if movie_id in found:
            right.append(found[movie_id])
        else:
            missed += 1
    nonsense = []
    for query in nonsense_queries(args.queries, rng):
        found = index.search(query).candidates
        nonsense.append(found[0].score if found else 0.0)

    scores = np.array(nonsense)
    kept = np.array(right)
    print(f"data: {dataset.source}, {args.queries} queries of each kind, seed {args.seed}")
    print(f"typos: right movie among the candidates in {len(right)}, not in {missed}")
    print("floor  typos lost  nonsense offered")
    floor = 0
    for candidate in range(30, 96):
        lost = float(np.mean(kept < candidate))
        offered = float(np.mean(scores >= candidate))
        if candidate % 5 == 0:
            print(f"{candidate:5d}  {lost:10.1%}  {offered:16.1%}")
        if lost <= args.max_lost:
            floor = candidate
    print(
        f"chosen floor {floor}: typos lost {np.mean(kept < floor):.1%}, "
        f"nonsense offered {np.mean(scores >= floor):.1%}"
    )
    defaults = SearchSettings()
    print(f"current default [search] min_score = {defaults.min_score:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
