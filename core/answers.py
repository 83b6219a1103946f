"""What a plugin's list of movies must look like: the one copy of the rules.

The registry holds every answer to them before a front end sees it (and stops at the first
problem, raising :class:`~reelpick.errors.PluginError`); the contract kit lists every problem
of an answer, and with ``thorough`` also what the registry tolerates but a plugin should not
do (more than ``k`` movies, numpy ids, non-finite scores, repeats).
"""

from __future__ import annotations

import math
from collections.abc import Container
from typing import Any

from .catalogue.models import CATALOGUE_ID_BASE
from .errors import PluginError
from .types import Neighbour


def neighbour_problems(
    found: list[Any],
    k: int,
    movies: Container[int] | None,
    exclude: frozenset[int] = frozenset(),
    query: int | None = None,
    *,
    thorough: bool = False,
) -> list[str]:
    """Every way ``found`` breaks the rules, each worded ``"returned ..."``; empty when none.

    ``movies`` are the known movie ids (a :class:`~reelpick.data.Dataset` will do; None skips
    that check), ``exclude`` the movies that must not come back and ``query`` the movie asked
    about (its return is named as such).
    """
    problems = []
    if thorough and len(found) > k:
        problems.append(f"returned {len(found)} neighbours, more than k")
    wrong_type = next((n for n in found if not isinstance(n, Neighbour)), None)
    if wrong_type is not None:  # nothing else can be read from such an answer
        return [*problems, f"returned {type(wrong_type).__name__}, not reelpick.Neighbour"]
    for n in found:
        if thorough and not isinstance(n.movie_id, int):
            problems.append(
                f"returned movie_id {n.movie_id!r} of type {type(n.movie_id).__name__}; "
                "use a plain int (int(...)), numpy ints do not serialise to JSON"
            )
        elif movies is not None and n.movie_id not in movies:
            problems.append(f"returned movie {n.movie_id}, which is not in the dataset")
        if thorough and (not isinstance(n.score, float) or not math.isfinite(n.score)):
            problems.append(
                f"returned score {n.score!r} ({type(n.score).__name__}); use a finite float"
            )
    ids = [n.movie_id for n in found]
    if query is not None and query in ids:
        problems.append("returned the query movie itself")
    excluded = [m for m in ids if m in exclude and m != query]
    if excluded:
        problems.append(f"returned an excluded movie ({excluded[0]})")
    if thorough and len(set(ids)) != len(ids):
        problems.append(f"returned a movie twice: {ids}")
    scores = [float(n.score) for n in found]
    if any(a < b for a, b in zip(scores, scores[1:], strict=False)):
        problems.append(f"returned neighbours not sorted best first: scores {scores}")
    return problems


def checked_neighbours(
    found: Any,
    k: int,
    movies: Container[int] | None,
    exclude: frozenset[int],
    hook: str,
    query: int | None = None,
) -> list[Neighbour]:
    """``found`` trimmed to ``k``, or :class:`~reelpick.errors.PluginError` naming ``hook`` and
    the first rule it breaks (what the registry does with every answer)."""
    if found is None:
        raise PluginError(f"{hook} returned nothing (None)")
    neighbours = list(found)[:k]
    problems = neighbour_problems(neighbours, k, movies, exclude, query)
    if problems:
        raise PluginError(f"{hook} {problems[0]}")
    return neighbours


class RecommendableMovies:
    """The movies a recommendation or a catalogue movie's similar movies may name: the
    dataset's, and catalogue movies (ids from :data:`reelpick.catalogue.CATALOGUE_ID_BASE`
    up), which a plugin ranks from the catalogue."""

    def __init__(self, dataset: Container[int]) -> None:
        self.dataset = dataset

    def __contains__(self, movie_id: object) -> bool:
        return movie_id in self.dataset or (
            isinstance(movie_id, int) and movie_id >= CATALOGUE_ID_BASE
        )


def recommendable(dataset: Container[int] | None) -> RecommendableMovies | None:
    """The movies an answer that may name catalogue movies may name (None: no check)."""
    return None if dataset is None else RecommendableMovies(dataset)
