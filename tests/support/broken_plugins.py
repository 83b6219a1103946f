"""Deliberately broken plugins for the command line's tests, and a launcher.

Run as a script, this module is ``reelpick`` with these installed as if they were built in::

    python tests/support/broken_plugins.py similar "Movie 1 (1991)"
"""

from __future__ import annotations

import sys

import numpy as np

from reelpick import ConfigError, Neighbour, PluginInfo, hookimpl


class Crashes:
    """Fits, then fails on every question with an exception of its own."""

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(label="Crashes", description="fails on every question")

    @hookimpl
    def reelpick_fit(self, dataset, params, store) -> None:
        self.movies = [int(m) for m in dataset.movies.index]

    @hookimpl
    def reelpick_similar(self, movie_id, k):
        raise RuntimeError("the crashes plugin crashed\non two lines")


class RefusesItsSettings(Crashes):
    """Judges its own parameter wrong, as docs/writing-plugins.md says to."""

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(label="Refuses", description="a bad setting", params={"size": -1})

    @hookimpl
    def reelpick_fit(self, dataset, params, store) -> None:
        raise ConfigError(f"[plugins.refuses] size must be 1 or more, got {params['size']}")


class Sloppy(Crashes):
    """Answers with numpy ids, the query movie first and a KeyError for unknown ids."""

    @hookimpl
    def reelpick_similar(self, movie_id, k):
        others = [m for m in self.movies if m != movie_id][: k - 1]
        scores = np.linspace(1.0, 0.5, len(others) + 1)
        ids = np.array([movie_id, *others], dtype=np.int64)
        if movie_id not in self.movies:
            raise KeyError(movie_id)
        return [Neighbour(m, float(s)) for m, s in zip(ids, scores, strict=True)]


PLUGINS = {
    "crashes": "broken_plugins:Crashes",
    "refuses": "broken_plugins:RefusesItsSettings",
    "sloppy": "broken_plugins:Sloppy",
}


def main() -> int:
    from reelpick import registry
    from reelpick.cli import main as reelpick_main

    registry.BUILTIN_PLUGINS.update(PLUGINS)
    return reelpick_main()


if __name__ == "__main__":
    sys.exit(main())
