"""Rank fusion: merge every plugin's neighbours of every seed title into one short list.

The rule is weighted reciprocal rank fusion (Cormack et al., 2009). For a candidate movie m::

    score(m) = sum over plugins p and seeds s of  weight_p / (rrf_k + rank_{p,s}(m))

where ``rank_{p,s}(m)`` is m's 1-based position in plugin p's neighbours of seed s (a list
that does not contain m adds nothing). Only ranks are used, never the plugins' own scores,
because a cosine and a dot product are not on the same scale; ``rrf_k`` (60 by default) damps
the advantage of the very first places. ``weight_p`` comes from ``[movienight.weights]``
(1.0 when unlisted; 0 switches a plugin off).

Excluded movies (the seeds, vetoed or seen ones, what the chat watched before) never enter
the list. Ties are broken deterministically: higher score, then more lists naming the movie,
then the best single rank, then the smaller movieId. Scores are summed with ``math.fsum``
so the order the lists arrive in cannot change a tie.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from .types import PluginAnswer

DEFAULT_RRF_K = 60


@dataclass(frozen=True)
class RankedList:
    """One plugin's neighbours of one seed, best first (``seed`` None: a list for a person)."""

    plugin: str
    seed: int | None
    movie_ids: tuple[int, ...]


@dataclass(frozen=True)
class Fused:
    """A candidate after fusion: its score, how many lists named it, its best rank there."""

    movie_id: int
    score: float
    hits: int
    best_rank: int

    def sort_key(self) -> tuple[float, int, int, int]:
        return (-self.score, -self.hits, self.best_rank, self.movie_id)


def ranked_lists(seed: int | None, answers: Iterable[PluginAnswer]) -> list[RankedList]:
    """The usable lists among plugin answers for ``seed`` (errors and no-answers are skipped)."""
    return [
        RankedList(
            a.plugin,
            None if seed is None else int(seed),
            tuple(int(n.movie_id) for n in a.neighbours),
        )
        for a in answers
        if a.ok and a.neighbours
    ]


def check_weights(
    weights: Mapping[str, object], where: str = "[movienight.weights]"
) -> dict[str, float]:
    """Plugin weights as floats; raises ValueError for a weight that is not a number >= 0."""
    checked: dict[str, float] = {}
    for name, value in weights.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where} {name}: expected a number, got {value!r}")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{where} {name}: a weight must be a number >= 0, got {value!r}")
        checked[name] = float(value)
    return checked


def fuse(
    lists: Iterable[RankedList],
    *,
    weights: Mapping[str, float] | None = None,
    rrf_k: float = DEFAULT_RRF_K,
    exclude: Collection[int] = (),
    limit: int | None = None,
) -> list[Fused]:
    """Fuse ranked lists into one list of candidates, best first (see the module docstring).

    ``weights`` maps plugin name to weight (missing: 1.0); ``exclude`` holds movies that
    must not appear (the seeds are always excluded too); ``limit`` cuts the result.
    """
    if rrf_k < 0:
        raise ValueError(f"rrf_k must be >= 0, got {rrf_k}")
    weights = check_weights(weights or {})
    lists = list(lists)
    banned = {int(m) for m in exclude} | {lst.seed for lst in lists if lst.seed is not None}
    parts: dict[int, list[float]] = {}
    best: dict[int, int] = {}
    for lst in lists:
        weight = weights.get(lst.plugin, 1.0)
        if weight == 0:
            continue
        seen: set[int] = set()
        for rank, movie_id in enumerate(lst.movie_ids, 1):
            if (
                movie_id in banned or movie_id in seen
            ):  # a repeated id counts once, at its first rank
                continue
            seen.add(movie_id)
            parts.setdefault(movie_id, []).append(weight / (rrf_k + rank))
            best[movie_id] = min(best.get(movie_id, rank), rank)
    fused = [
        Fused(movie_id=m, score=math.fsum(p), hits=len(p), best_rank=best[m])
        for m, p in parts.items()
    ]
    fused.sort(key=Fused.sort_key)
    return fused if limit is None else fused[: max(0, limit)]


def explain(
    movie_id: int,
    lists: Sequence[RankedList],
    weights: Mapping[str, float] | None = None,
    rrf_k: float = DEFAULT_RRF_K,
) -> list[tuple[str, int | None, int, float]]:
    """Where a movie's score comes from: (plugin, seed, rank, contribution) per list naming it."""
    weights = weights or {}
    found = []
    for lst in lists:
        if movie_id in lst.movie_ids:
            rank = lst.movie_ids.index(movie_id) + 1
            weight = float(weights.get(lst.plugin, 1.0))
            found.append((lst.plugin, lst.seed, rank, weight / (rrf_k + rank)))
    return found
