"""Test plugins that recommend for a profile (``reelpick_recommend``), and a launcher.

:class:`GenreFan` is small and deterministic, so tests can say what /forme must show:
for each of the person's two best-liked movies in turn, the most-rated movies sharing its
first genre, each with ``because`` naming the liked movie(s) that brought it.

Run as a script, this module is ``reelpick`` with GenreFan installed as if it were built in
(``genre-fan``), for tests and benchmarks that start the bot as a real process::

    python tests/support/profile_plugins.py -v bot
"""

from __future__ import annotations

import sys
import time

from reelpick import Neighbour, NoAnswer, PluginInfo, Recommendation, hookimpl

PER_GENRE = 200  # candidates kept per genre


class FixedList:
    """Recommends :attr:`movies` in this order to everybody, minus the excluded ones, each
    pick's ``because`` being :attr:`because`. Subclass it to change either."""

    movies: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    because: tuple[int, ...] = ()

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(label=type(self).__name__, description="a fixed list")

    @hookimpl
    def reelpick_fit(self, dataset, params, store) -> None:
        pass

    @hookimpl
    def reelpick_similar(self, movie_id, k):
        return []

    @hookimpl
    def reelpick_recommend(self, profile, k, exclude):
        found = [m for m in self.movies if m not in exclude][:k]
        return [Recommendation(m, float(-i), self.because) for i, m in enumerate(found)]


class GenreFan:
    """Most-rated movies of the genres a person's favourite movies open with."""

    label = "Genre fan"

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(label=self.label, description="most-rated movies of your genres")

    @hookimpl
    def reelpick_fit(self, dataset, params, store) -> None:
        counts = dict(zip(dataset.movies.index, dataset.rating_counts, strict=True))
        self.first_genre = {
            int(m): (list(g) or [""])[0]
            for m, g in zip(dataset.movies.index, dataset.movies["genres"], strict=True)
        }
        self.by_genre: dict[str, list[int]] = {}
        for movie_id in sorted(self.first_genre, key=lambda m: (-int(counts[m]), m)):
            self.by_genre.setdefault(self.first_genre[movie_id], []).append(movie_id)
        self.by_genre = {g: ids[:PER_GENRE] for g, ids in self.by_genre.items()}

    def _first_genre(self, movie_id: int) -> str:
        return self.first_genre.get(int(movie_id), "")

    @hookimpl
    def reelpick_similar(self, movie_id: int, k: int) -> list[Neighbour]:
        ids = [m for m in self.by_genre.get(self._first_genre(movie_id), []) if m != movie_id]
        return [Neighbour(m, 1.0 - i / 1000) for i, m in enumerate(ids[:k])]

    @hookimpl
    def reelpick_recommend(self, profile, k: int, exclude: frozenset[int]) -> list[Recommendation]:
        liked = sorted(profile.liked().items(), key=lambda item: (-item[1], item[0]))[:2]
        if not liked:
            raise NoAnswer("you have not liked anything yet")
        # Each liked movie's genre in turn, so that every liked movie brings some picks.
        lists = [
            [m for m in self.by_genre.get(self._first_genre(movie_id), []) if m not in exclude]
            for movie_id, _ in liked
        ]
        because: dict[int, list[int]] = {}
        for rank in range(PER_GENRE):
            for (movie_id, _), candidates in zip(liked, lists, strict=True):
                if rank < len(candidates):
                    because.setdefault(candidates[rank], []).append(movie_id)
        ranked = list(because)[:k]
        return [Recommendation(m, 1.0 - i / 1000, tuple(because[m])) for i, m in enumerate(ranked)]


class Grumpy(GenreFan):
    label = "Grumpy"

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(label=self.label, description="always fails")

    @hookimpl
    def reelpick_recommend(self, profile, k: int, exclude: frozenset[int]):
        raise RuntimeError("secret internals: recommend exploded")


class Clueless(GenreFan):
    label = "Clueless"

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(label=self.label, description="never knows")

    @hookimpl
    def reelpick_recommend(self, profile, k: int, exclude: frozenset[int]):
        raise NoAnswer("none of your movies are in my index")


class Sleepy(GenreFan):
    label = "Sleepy"

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(label=self.label, description="takes too long")

    @hookimpl
    def reelpick_recommend(self, profile, k: int, exclude: frozenset[int]):
        time.sleep(2)
        return []


def main() -> int:
    from reelpick import registry
    from reelpick.cli import main as reelpick_main

    registry.BUILTIN_PLUGINS["genre-fan"] = "profile_plugins:GenreFan"
    return reelpick_main()


if __name__ == "__main__":
    sys.exit(main())
