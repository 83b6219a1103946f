"""Group recommendations: one short list for several people, fair to each of them.

Every member brings a ranked list of personal recommendations (best first; in the bot, the
picks of :meth:`reelpick.app.Reelpick.picks` for their profile). Each list is turned into a
*utility* per movie by rank, so that plugins scoring on different scales mix fairly::

    utility_u(m) = (depth - rank_u(m) + 1) / depth     for the member's top ``depth`` movies
    utility_u(m) = 0                                   for every other movie

(1 for a member's best movie, 1/depth for the last one they were asked for), or, with
``rank_k`` > 0, by the *reciprocal* rank::

    utility_u(m) = (rank_k + 1) / (rank_k + rank_u(m))  for the member's top ``depth`` movies

which follows how often a member's next movie is at each rank of their list: on validation
(ml-latest-small, EASE) the share falls like c / (10 + rank): 0.14 at rank 1, 0.066 at 11-20,
0.040 at 21-50, 0.021 at 51-100, 0.010 at 101-200; the linear utility overrates the middle
of a deep list. A strategy
turns the members' utilities of a movie into one group score (Masthoff's classic rules):

- ``average``: the mean utility over the members: what pleases the group most on the whole.
- ``least_misery``: the smallest utility (ties by the mean): nobody is left unhappy.
- ``average_without_misery``: the mean, but a movie on which any member's utility falls
  below ``misery_threshold`` ranks after every movie that leaves nobody miserable.

Members can weigh differently (``member_weights``; the ``average`` rules take the weighted
mean): with ``size_exponent`` e < 0, a member with a profile of n movies weighs n ** e. On
validation (ml-latest-small) a member's own list predicts their next movies far better when
their profile is small (nDCG@10 0.20 for the quarter with ~19 ratings, 0.05 for the quarter
with ~500): such a list names what they will actually watch, a long profile's list is a
guess among many tastes. Weighing by that confidence fills the shared list with the movies
most likely to be watched; the fairness rule still gives every member one of their own.

The group score is then blended with a *prior*, an outside ranked list (popularity in the
training data, the chat's title seeds), by ``prior_weight``::

    score(m) = (1 - prior_weight) * group(m) + prior_weight * utility_prior(m)

because what people watch next tends to be recent and popular: a pure aggregate of personal
lists misses that, and popularity alone ignores taste (``reelpick evaluate --task groups``).

Fairness (:func:`make_fair`): every member with a list gets at least one movie from their
own top ``fair_depth`` (50 by default, whatever ``depth`` the scores use); when a member has
none, the lowest-scored movie that no other member relies on is swapped for that member's
best movie.

Everything here is a pure function of its arguments; :meth:`reelpick.app.Reelpick.group_picks`
gathers the members' lists and calls :func:`recommend_for_group` for the bot, the CLI and the
evaluation alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Self, TypeVar

from .errors import ConfigError

if TYPE_CHECKING:
    pass

Member = TypeVar("Member", bound=Hashable)


class GroupStrategy(StrEnum):
    """How members' utilities of a movie become one group score (module doc)."""

    AVERAGE = "average"
    LEAST_MISERY = "least_misery"
    AVERAGE_WITHOUT_MISERY = "average_without_misery"


STRATEGIES = tuple(GroupStrategy)
DEFAULT_STRATEGY = GroupStrategy.AVERAGE_WITHOUT_MISERY


@dataclass(frozen=True)
class GroupSettings:
    """The ``[groups]`` section: chosen on validation groups inside the training data
    (``reelpick evaluate --task groups --tune``)."""

    strategy: GroupStrategy = DEFAULT_STRATEGY
    misery_threshold: float = 0.0  # a member's utility below this makes a movie "miserable"
    prior_weight: float = 0.1  # blend of the outside ranked list (popularity, the chat's seeds)
    depth: int = 50  # each member's personal list that the scores use
    rank_k: int = 0  # 0: linear rank utility; > 0: reciprocal (rank_k + 1) / (rank_k + rank)
    size_exponent: float = -0.25  # a member with n profile movies weighs n ** size_exponent
    fair_depth: int = 50  # the fairness rule: everyone gets one of their own top fair_depth

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: Callable[..., str]) -> Self:
        """The ``[groups]`` table checked, each error in one line."""
        strategy = table["strategy"]
        if strategy not in STRATEGIES:
            raise ConfigError(
                f"{where('strategy')}: {strategy!r} is not one of " + ", ".join(STRATEGIES)
            )
        threshold = float(table["misery_threshold"])
        if not 0 <= threshold <= 1:
            raise ConfigError(f"{where('misery_threshold')}: must be 0-1")
        weight = float(table["prior_weight"])
        if not 0 <= weight <= 1:
            raise ConfigError(f"{where('prior_weight')}: must be 0-1")
        depth = table["depth"]
        if not 1 <= depth <= 1000:
            raise ConfigError(f"{where('depth')}: must be 1-1000")
        rank_k = table["rank_k"]
        if not 0 <= rank_k <= 1000:
            raise ConfigError(f"{where('rank_k')}: must be 0-1000")
        exponent = float(table["size_exponent"])
        if not -2 <= exponent <= 2:
            raise ConfigError(f"{where('size_exponent')}: must be -2 to 2")
        fair_depth = table["fair_depth"]
        if not 1 <= fair_depth <= 1000:
            raise ConfigError(f"{where('fair_depth')}: must be 1-1000")
        return cls(
            GroupStrategy(strategy),
            threshold,
            weight,
            int(depth),
            int(rank_k),
            exponent,
            int(fair_depth),
        )

    def member_weights(self, profile_sizes: Mapping[Member, int]) -> dict[Member, float]:
        """Each member's weight from the size of their profile (at least 1 movie)."""
        return {m: max(int(n), 1) ** self.size_exponent for m, n in profile_sizes.items()}


@dataclass(frozen=True)
class GroupPick:
    """A movie for the group: its score and the members whose own top list holds it."""

    movie_id: int
    score: float
    members: tuple[Hashable, ...]  # best-served member first (highest utility)


def utilities(ranked: Sequence[int], depth: int, rank_k: int = 0) -> dict[int, float]:
    """Rank utilities of one ranked list (see the module doc); movies after ``depth`` get none.

    ``rank_k`` 0: linear, (depth - rank + 1) / depth; above 0: (rank_k + 1) / (rank_k + rank).
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    if rank_k < 0:
        raise ValueError(f"rank_k must be >= 0, got {rank_k}")
    found: dict[int, float] = {}
    for rank, movie_id in enumerate(ranked[:depth], 1):
        value = (rank_k + 1) / (rank_k + rank) if rank_k else (depth - rank + 1) / depth
        found.setdefault(int(movie_id), value)
    return found


def group_score(
    values: Sequence[float],
    strategy: GroupStrategy,
    misery_threshold: float = 0.0,
    weights: Sequence[float] | None = None,
) -> float:
    """One movie's group score from its members' utilities under ``strategy``.

    ``weights`` (one per value, default equal) weigh the mean. ``average_without_misery``
    returns the mean minus 1 when a member is miserable, so such a movie ranks after every
    movie without misery (means lie in 0-1) but keeps its order among the miserable ones.
    """
    if not values:
        return 0.0
    if weights is None:
        mean = math.fsum(values) / len(values)
    else:
        total = math.fsum(weights)
        if len(weights) != len(values) or total <= 0 or min(weights) < 0:
            raise ValueError("weights must be one non-negative number per value, not all 0")
        mean = math.fsum(v * w for v, w in zip(values, weights, strict=True)) / total
    if strategy == GroupStrategy.AVERAGE:
        return mean
    if strategy == GroupStrategy.LEAST_MISERY:
        # The mean breaks ties between equal minima (a tiny weight keeps it second).
        return min(values) + 1e-6 * mean
    if strategy == GroupStrategy.AVERAGE_WITHOUT_MISERY:
        return mean - 1.0 if min(values) < misery_threshold else mean
    raise ValueError(f"unknown group strategy {strategy!r} (known: {', '.join(STRATEGIES)})")


def aggregate(
    member_lists: Mapping[Member, Sequence[int]],
    k: int,
    strategy: GroupStrategy = DEFAULT_STRATEGY,
    *,
    misery_threshold: float = 0.0,
    depth: int = 50,
    prior: Sequence[int] = (),
    prior_weight: float = 0.0,
    exclude: frozenset[int] | set[int] = frozenset(),
    rank_k: int = 0,
    member_weights: Mapping[Member, float] | None = None,
) -> list[GroupPick]:
    """The ``k`` best movies for the group (module doc), never one of ``exclude``.

    ``member_lists``: each member's ranked recommendations, best first (an empty list is a
    member without a profile: they take no part in the score). ``member_weights``: how much
    each member counts in the mean (default: equally). ``prior``: an outside ranked
    list blended in by ``prior_weight``; its movies are candidates too. Ties: higher score,
    then the movie named by more members, then the smaller movieId (deterministic).
    """
    members = [m for m, ranked in member_lists.items() if ranked]
    member_utils = {m: utilities(member_lists[m], depth, rank_k) for m in members}
    prior_utils = utilities(prior, depth, rank_k) if prior and prior_weight > 0 else {}
    candidates = set(prior_utils)
    for found in member_utils.values():
        candidates |= found.keys()
    candidates -= set(exclude)
    weights = [member_weights[m] for m in members] if member_weights is not None else None
    picks = []
    for movie_id in candidates:
        values = [member_utils[m].get(movie_id, 0.0) for m in members]
        group = group_score(values, strategy, misery_threshold, weights) if members else 0.0
        score = (1 - prior_weight) * group + prior_weight * prior_utils.get(movie_id, 0.0)
        served = sorted(
            (m for m in members if movie_id in member_utils[m]),
            key=lambda m: -member_utils[m][movie_id],
        )
        picks.append(GroupPick(movie_id, score, tuple(served)))
    picks.sort(key=lambda p: (-p.score, -len(p.members), p.movie_id))
    return picks[:k]


def make_fair(
    picks: Sequence[GroupPick],
    member_lists: Mapping[Member, Sequence[int]],
    *,
    depth: int = 50,
    exclude: frozenset[int] | set[int] = frozenset(),
) -> tuple[list[GroupPick], list[Member]]:
    """``picks`` changed so that every member with a list has a movie of their own top ``depth``.

    For each member without one (in the order of ``member_lists``), the lowest-scored pick
    whose removal leaves no other member without a movie is replaced by the member's best
    movie not already picked nor excluded; it keeps the replaced pick's place and score (the
    poll order stays the group's). Returns the new list and the members who got a swap.
    A member whose whole list is excluded, or who could only be helped by taking another
    member's only movie (more members than picks), is skipped.
    """
    tops = {m: utilities(ranked, depth) for m, ranked in member_lists.items() if ranked}
    chosen = list(picks)
    swapped = []

    def covering(pick: GroupPick) -> list[Member]:
        return [m for m, top in tops.items() if pick.movie_id in top]

    for member, top in tops.items():
        if any(p.movie_id in top for p in chosen):
            continue
        taken = {p.movie_id for p in chosen} | set(exclude)
        best = next((int(m) for m in member_lists[member][:depth] if int(m) not in taken), None)
        if best is None:
            continue
        # The pick to give up: lowest score first, never one another member's only movie.
        for index in sorted(range(len(chosen)), key=lambda i: (chosen[i].score, -i)):
            others = [m for m in covering(chosen[index]) if m != member]
            if all(sum(1 for p in chosen if p.movie_id in tops[m]) > 1 for m in others):
                served = tuple(m for m in tops if best in tops[m])
                served = tuple(sorted(served, key=lambda m: -tops[m][best]))
                chosen[index] = GroupPick(best, chosen[index].score, served)
                swapped.append(member)
                break
    return chosen, swapped


def recommend_for_group(
    member_lists: Mapping[Member, Sequence[int]],
    k: int,
    settings: GroupSettings,
    *,
    prior: Sequence[int] = (),
    exclude: frozenset[int] | set[int] = frozenset(),
    fair: bool = True,
    profile_sizes: Mapping[Member, int] | None = None,
) -> list[GroupPick]:
    """:func:`aggregate` with ``settings``, then (``fair``) :func:`make_fair`.

    ``profile_sizes``: how many movies each member's profile holds, for the member weights
    (``settings.size_exponent``); without them, or with exponent 0, members count equally.
    """
    weights = None
    if profile_sizes is not None and settings.size_exponent != 0:
        missing = [m for m, ranked in member_lists.items() if ranked and m not in profile_sizes]
        if missing:
            raise ValueError(f"no profile size for members {missing}")
        weights = settings.member_weights(profile_sizes)
    picks = aggregate(
        member_lists,
        k,
        settings.strategy,
        misery_threshold=settings.misery_threshold,
        depth=settings.depth,
        prior=prior,
        prior_weight=settings.prior_weight,
        exclude=exclude,
        rank_k=settings.rank_k,
        member_weights=weights,
    )
    if fair:
        picks, _ = make_fair(picks, member_lists, depth=settings.fair_depth, exclude=exclude)
    return picks
