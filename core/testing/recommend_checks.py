"""The contract kit's checks of ``reelpick_recommend`` (run by :func:`~.contract.check_plugin`
when a plugin implements the hook).

Three profiles are asked about: a real user of the dataset (up to 30 of the ratings of the user
who rated most of its movies, two popular movies seen, one not wanted, and three more popular
movies passed in ``exclude``), an empty profile and a profile of unknown movie ids. Checked:

- the real profile gets a list (NoAnswer there means the plugin cannot use a plain profile);
- answers are :class:`Recommendation` s of dataset movies (plain ``int`` ids, finite ``float``
  scores), sorted best first, at most ``k``, no repeats, none excluded or in the profile;
- ``because`` holds only movies of the profile, no repeats;
- a smaller ``k`` gives a prefix; the registry accepts every answer;
- the empty and the unknown profile get ``NoAnswer`` (with a reason) or a valid list, never
  another exception;
- two fits answer alike, and asking writes nothing to the cache (checked with the similar-movie
  queries, see :mod:`.contract`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..answers import neighbour_problems
from ..data import Dataset
from ..registry import Registry
from ..types import Profile, Recommendation
from .compare import Outcome, outcome_of, same_ranking

HOOK = "reelpick_recommend"
PROFILE_RATINGS = 30


@dataclass(frozen=True)
class Case:
    """One profile to ask about, what else is excluded, and whether a list is required."""

    name: str
    profile: Profile
    exclude: frozenset[int] = frozenset()
    must_answer: bool = False

    @property
    def banned(self) -> frozenset[int]:
        return self.exclude | self.profile.movies


def cases(dataset: Dataset) -> list[Case]:
    """The profiles the kit asks about (see the module docstring); deterministic."""
    unknown = int(dataset.movies.index.max()) + 1_000_003
    found = [
        Case("an empty profile", Profile()),
        Case("a profile of unknown movie ids", Profile(ratings={unknown: 5.0, unknown + 1: 2.0})),
    ]
    ratings = dataset.ratings
    if ratings.empty:
        return found
    counts = ratings["userId"].value_counts()
    user = int(min(counts.index[counts == counts.max()]))
    mine = ratings[ratings["userId"] == user].sort_values("movieId", kind="stable")
    step = max(1, len(mine) // PROFILE_RATINGS)
    mine = mine.iloc[::step].head(PROFILE_RATINGS)
    rated = dict(zip(mine["movieId"].astype(int), mine["rating"].astype(float), strict=True))
    popular = [
        int(m)
        for m in dataset.rating_counts.sort_values(ascending=False, kind="stable").index
        if int(m) not in rated
    ]
    profile = Profile(
        ratings=rated, seen=frozenset(popular[:2]), not_interested=frozenset(popular[2:3])
    )
    where = f"{len(rated)} ratings of user {user}"
    found.insert(0, Case(where, profile, frozenset(popular[3:6]), must_answer=True))
    return found


class RecommendChecks:
    """The recommend half of one contract run; reports through the checker's callbacks."""

    def __init__(
        self,
        dataset: Dataset,
        name: str,
        k: int,
        problem: Callable[[str], None],
        passed: Callable[[str], None],
    ) -> None:
        self.dataset = dataset
        self.name = name
        self.k = k
        self.problem = problem
        self.passed = passed
        self.cases = cases(dataset)
        self.answers: dict[str, Outcome] = {}

    def ask(self, registry: Registry, case: Case, k: int) -> Outcome:
        """Exactly what the hook returns or raises (the registry's checks would hide it)."""
        return outcome_of(
            lambda: registry.call_unchecked(
                self.name, HOOK, profile=case.profile, k=k, exclude=case.banned
            ),
            "Recommendation",
        )

    def ask_all(self, registry: Registry) -> dict[str, Outcome]:
        return {case.name: self.ask(registry, case, self.k) for case in self.cases}

    def check(self, registry: Registry) -> None:
        """Every check on the first fit; keeps the answers for :meth:`compare`."""
        self.answers = self.ask_all(registry)
        for case in self.cases:
            outcome = self.answers[case.name]
            where = f"{HOOK}({case.name}, k={self.k})"
            if outcome.error is not None:
                self.problem(
                    f"{where} raised or returned {outcome.error}; expected a list of "
                    "Recommendation or reelpick.NoAnswer"
                )
            elif outcome.no_answer is not None:
                if not outcome.no_answer.strip():
                    self.problem(f"{where} raised NoAnswer without a reason")
                elif case.must_answer:
                    self.problem(
                        f"{where} raised NoAnswer({outcome.no_answer!r}); a profile of movies "
                        "of the dataset should get recommendations"
                    )
            else:
                for text in self.problems(case, outcome.neighbours or [], self.k):
                    self.problem(f"{where} {text}")
                self._check_smaller_k(registry, case, outcome)
                answer = registry.ask_recommend(self.name, case.profile, self.k, case.exclude)
                if answer.error:
                    self.problem(f"the registry refused {where}: {answer.error}")
        self.passed(
            f"{HOOK}: Recommendations of known movies, none excluded, because from the "
            "profile, sorted, at most k, smaller k a prefix; NoAnswer or a list otherwise"
        )

    def problems(self, case: Case, found: list[Any], k: int) -> list[str]:
        problems = neighbour_problems(found, k, self.dataset, case.banned, thorough=True)
        if any(not isinstance(n, Recommendation) for n in found):
            wrong = next(type(n).__name__ for n in found if not isinstance(n, Recommendation))
            return [*problems, f"returned {wrong}, not reelpick.Recommendation"]
        movies = case.profile.movies
        for n in found:
            because = list(n.because)
            strangers = [m for m in because if m not in movies]
            if strangers:
                problems.append(
                    f"named movie {strangers[0]!r} in the because of {n.movie_id}; because "
                    "may only name movies of the profile"
                )
            elif len(set(because)) != len(because):
                problems.append(f"named a movie twice in the because of {n.movie_id}: {because}")
        return problems

    def _check_smaller_k(self, registry: Registry, case: Case, outcome: Outcome) -> None:
        small = max(1, self.k // 3)
        fewer = self.ask(registry, case, small)
        where = f"{HOOK}({case.name}, k={small})"
        if fewer.neighbours is None:
            self.problem(f"{where} gave {fewer.describe()} but k={self.k} gave a list")
        elif not same_ranking((outcome.neighbours or [])[:small], fewer.neighbours):
            self.problem(
                f"{where} is not the start of the k={self.k} answer: "
                f"{fewer.describe()} vs {outcome.describe()}"
            )

    def compare(self, registry: Registry, how: str) -> None:
        """Answers of another fit (``how``: "from cache", "refitted") against the first's."""
        for case in self.cases:
            want, have = self.answers[case.name], self.ask(registry, case, self.k)
            if want.neighbours is not None and have.neighbours is not None:
                same = same_ranking(want.neighbours, have.neighbours) and _reasons(
                    want
                ) == _reasons(have)
            else:
                same = (want.neighbours is None) == (have.neighbours is None) and (
                    want.error == have.error
                )
            if not same:
                self.problem(
                    f"{HOOK} answers differ when {how} for {case.name}: first fit "
                    f"{want.describe()}, {how} {have.describe()}"
                )


def _reasons(outcome: Outcome) -> dict[int, tuple[int, ...]]:
    return {n.movie_id: tuple(getattr(n, "because", ())) for n in outcome.neighbours or []}
