"""A canary plugin that remembers everything it was fitted on and asked about, to catch leaks.

:func:`install` adds :class:`Canary` to the built-in plugins (as ``canary``), so every
:class:`~reelpick.registry.Registry` an evaluation or a tuning run makes loads it, fits it
through the normal hooks and asks it for recommendations, like any other plugin. Every
instance appends to :data:`LOG`:

- :class:`Fitted`: the (user, movie) pairs of the ratings and of the tags of the dataset it was
  fitted on, and the parameters it was fitted with;
- :class:`Asked`: each profile it was asked to recommend for (movie -> rating and time);
- :class:`Predicted`: each (user, movie) pair it was asked to predict a rating for.

:func:`held_out` finds what a top-N evaluation tested on from the profiles it asked about (a
test user's test ratings are their ratings that are not in their training profile);
:func:`leaks` says which of those pairs the canary ever saw.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reelpick import Neighbour, PluginInfo, Recommendation, hookimpl
from reelpick.registry import BUILTIN_PLUGINS

NAME = "canary"
Pair = tuple[int, int]


@dataclass(frozen=True)
class Fitted:
    ratings: frozenset[Pair]
    tags: frozenset[Pair]
    tagged_movies: frozenset[int]
    params: dict


@dataclass(frozen=True)
class Asked:
    ratings: dict[int, float]
    rated_at: dict[int, float]
    asked_at: float | None


@dataclass(frozen=True)
class Predicted:
    pairs: frozenset[Pair]


LOG: list[Fitted | Asked | Predicted] = []


def _pairs(frame: pd.DataFrame) -> frozenset[Pair]:
    return frozenset(
        zip(
            frame["userId"].astype(int).tolist(), frame["movieId"].astype(int).tolist(), strict=True
        )
    )


class Canary:
    """Recommends the most rated movies it was fitted on; remembers everything (module doc)."""

    def __init__(self) -> None:
        self.popular: list[int] = []

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            label="Canary",
            description="remembers what it was fitted on",
            params={"depth": 1},  # no effect on answers: something for a tuning grid to vary
        )

    @hookimpl
    def reelpick_fit(self, dataset, params, store) -> None:
        LOG.append(
            Fitted(
                _pairs(dataset.ratings),
                _pairs(dataset.tags),
                frozenset(dataset.tags["movieId"].astype(int).tolist()),
                dict(params),
            )
        )
        counts = dataset.ratings["movieId"].value_counts()
        order = np.lexsort((counts.index.to_numpy(), -counts.to_numpy()))
        self.popular = [int(m) for m in counts.index.to_numpy()[order][:300]]

    @hookimpl
    def reelpick_similar(self, movie_id: int, k: int) -> list[Neighbour]:
        found = [m for m in self.popular if m != movie_id][:k]
        return [Neighbour(m, 1.0 / (i + 1)) for i, m in enumerate(found)]

    @hookimpl
    def reelpick_recommend(self, profile, k: int, exclude: frozenset[int]) -> list[Recommendation]:
        LOG.append(Asked(dict(profile.ratings), dict(profile.rated_at), profile.asked_at))
        found = [m for m in self.popular if m not in exclude and m not in profile.ratings][:k]
        return [Recommendation(m, 1.0 / (i + 1), ()) for i, m in enumerate(found)]

    @hookimpl
    def reelpick_predict(self, user_id: int, movie_ids: list[int]) -> list[float]:
        LOG.append(Predicted(frozenset((int(user_id), int(m)) for m in movie_ids)))
        return [3.5] * len(movie_ids)


def install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``canary`` a built-in plugin for this test, with an empty log."""
    monkeypatch.setitem(BUILTIN_PLUGINS, NAME, f"{__name__}:Canary")
    LOG.clear()


def fits() -> list[Fitted]:
    return [r for r in LOG if isinstance(r, Fitted)]


def asks() -> list[Asked]:
    return [r for r in LOG if isinstance(r, Asked)]


def predicted() -> set[Pair]:
    """Every (user, movie) pair the canary was asked to predict."""
    return set().union(*(r.pairs for r in LOG if isinstance(r, Predicted)))


def owner(ratings: pd.DataFrame, asked: Asked) -> int:
    """The user whose ratings (stars, and times where the profile has them) the profile is."""
    movies = list(asked.ratings)
    rows = ratings[ratings["movieId"].isin(movies)]
    matches = []
    for user, mine in rows.groupby("userId"):
        stars = dict(zip(mine["movieId"].tolist(), mine["rating"].astype(float), strict=True))
        times = dict(zip(mine["movieId"].tolist(), mine["timestamp"].astype(float), strict=True))
        if all(stars.get(m) == r for m, r in asked.ratings.items()) and all(
            times.get(m) == t for m, t in asked.rated_at.items()
        ):
            matches.append(int(user))
    if len(matches) != 1:
        raise AssertionError(f"a profile of {len(movies)} movies matches users {matches}")
    return matches[0]


def held_out(ratings: pd.DataFrame, asked: Iterable[Asked]) -> set[Pair]:
    """The (user, movie) pairs an evaluation tested on: each asked user's ratings that are not
    in their training profile."""
    found: set[Pair] = set()
    for profile in asked:
        user = owner(ratings, profile)
        mine = ratings.loc[ratings["userId"] == user, "movieId"].astype(int).tolist()
        found |= {(user, m) for m in mine if m not in profile.ratings}
    return found


def leaks(ratings: pd.DataFrame, pairs: set[Pair]) -> dict[str, set[Pair]]:
    """Which of ``pairs`` the canary saw: in a fit's ratings, a fit's tags, or an asked profile."""
    seen_in_fits = set().union(*(f.ratings for f in fits())) if fits() else set()
    tagged = set().union(*(f.tags for f in fits())) if fits() else set()
    profiled: set[Pair] = set()
    for profile in asks():
        user = owner(ratings, profile)
        profiled |= {(user, m) for m in profile.ratings}
    return {
        "fitted ratings": pairs & seen_in_fits,
        "fitted tags": pairs & tagged,
        "profiles": pairs & profiled,
        "asked after a held-out rating": asked_too_late(ratings, pairs),
    }


def asked_too_late(ratings: pd.DataFrame, pairs: set[Pair]) -> set[Pair]:
    """The held-out ``pairs`` rated before the moment their user was asked: a question asked
    after a test rating could be told what was rated next."""
    times = {
        (int(u), int(m)): float(t)
        for u, m, t in ratings[["userId", "movieId", "timestamp"]].itertuples(index=False)
    }
    late: set[Pair] = set()
    for profile in asks():
        if profile.asked_at is None:
            continue
        user = owner(ratings, profile)
        late |= {p for p in pairs if p[0] == user and times[p] < profile.asked_at}
    return late


def session_data(folder: Path, users: int = 36, movies: int = 90, seed: int = 0) -> Path:
    """A MovieLens folder whose users rate in three sessions days apart (both top-N protocols
    test someone), and tag some movies they rate, the last session's too."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    genres = ["Drama", "Comedy", "Action|Sci-Fi", "Animation|Children"]
    pd.DataFrame(
        {
            "movieId": range(1, movies + 1),
            "title": [f"Movie {i} ({1980 + i % 40})" for i in range(1, movies + 1)],
            "genres": [genres[i % len(genres)] for i in range(movies)],
        }
    ).to_csv(folder / "movies.csv", index=False)
    popularity = 1.0 / np.arange(1, movies + 1) ** 0.7
    rows, tags = [], []
    for user in range(1, users + 1):
        sizes = (22, 8, 6) if user % 3 else (10, 4, 3)  # every third user: too few for a test
        chosen = rng.choice(movies, sum(sizes), replace=False, p=popularity / popularity.sum())
        start, i = 1_000_000_000 + user * 100, 0
        for session, size in enumerate(sizes):
            for j in range(size):
                movie = int(chosen[i]) + 1
                time = start + session * 5 * 86_400 + j * 60
                rows.append((user, movie, float(rng.integers(1, 11)) / 2, time))
                if rng.random() < 0.3:
                    tags.append((user, movie, f"tag{movie % 7}", time))
                i += 1
    pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"]).to_csv(
        folder / "ratings.csv", index=False
    )
    tagged = pd.DataFrame(tags, columns=["userId", "movieId", "tag", "timestamp"])
    # Tags by people who never rated the movie: a cold movie must lose these too.
    others = pd.DataFrame(
        {"userId": 999, "movieId": range(1, movies + 1), "tag": "x", "timestamp": 1_000_000_000}
    )
    tagged = pd.concat([tagged, others])
    tagged.to_csv(folder / "tags.csv", index=False)
    return folder
