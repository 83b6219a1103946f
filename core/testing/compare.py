"""Comparing what a plugin answered: one query's outcome, rankings with ties, cache folders.

The contract kit (:mod:`.contract`) compares two fits' answers and a cache folder before and
after a fit or a query with these.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NoAnswer
from ..types import Neighbour

log = logging.getLogger(__name__)

# Scores closer than this count as a tie when comparing two fits' answers.
SCORE_TOLERANCE = 1e-5
# Folders of the cache that reelpick itself keeps for every plugin and the bot (the poster
# store's files and database): a plugin reading posters through them is not refitting.
SHARED_CACHE_FOLDERS = ("posters",)


@dataclass
class Outcome:
    """One query's result: neighbours, or the NoAnswer reason, or the unexpected error."""

    neighbours: list[Neighbour] | None = None
    no_answer: str | None = None
    error: str | None = None

    def describe(self) -> str:
        if self.error is not None:
            return f"error {self.error}"
        if self.no_answer is not None:
            return f"NoAnswer({self.no_answer!r})"
        return "[" + ", ".join(f"{n.movie_id}:{n.score:.4g}" for n in self.neighbours or []) + "]"


def outcome_of(call: Callable[[], Any], item: str) -> Outcome:
    """Exactly what a hook call returns or raises, as an :class:`Outcome` (the registry's own
    checks would hide it). ``item`` names what the list should hold, for the error text."""
    try:
        found = call()
    except NoAnswer as exc:
        return Outcome(no_answer=str(exc))
    except Exception as exc:
        log.info("the plugin raised", exc_info=True)  # the traceback with -v only
        return Outcome(error=f"{type(exc).__name__}: {exc}")
    if found is None:
        return Outcome(error="returned None (return a list, or raise NoAnswer)")
    try:
        return Outcome(neighbours=list(found))
    except TypeError:
        return Outcome(error=f"returned {type(found).__name__}, not a list of {item}")


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file the plugin wrote under ``folder``, with size and modification time.

    A rewrite changes the time even when the bytes are the same, so a refit cannot hide.
    """
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file() and p.relative_to(folder).parts[0] not in SHARED_CACHE_FOLDERS
    }


def same_ranking(a: list[Neighbour] | None, b: list[Neighbour] | None) -> bool:
    """Equal rankings, where movies whose scores tie may come in either order.

    Ties at the end of a list may even be cut differently, so the last tied group only has
    to have the same size.
    """
    if a is None or b is None or len(a) != len(b):
        return False
    if not close_lists([n.score for n in a], [n.score for n in b]):
        return False
    start = 0
    while start < len(a):
        stop = start + 1
        while stop < len(a) and abs(a[stop].score - a[start].score) <= SCORE_TOLERANCE:
            stop += 1
        group_a = {n.movie_id for n in a[start:stop]}
        group_b = {n.movie_id for n in b[start:stop]}
        if stop < len(a) and group_a != group_b:
            return False
        start = stop
    return True


def close_lists(a: list[float] | None, b: list[float] | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return len(a) == len(b) and bool(
        np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-5, atol=SCORE_TOLERANCE)
    )
