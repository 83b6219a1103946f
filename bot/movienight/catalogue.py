"""The movies a movie night can name: the current recommender's catalogue.

``/reload`` replaces ``BotServices.reelpick``, so :class:`Catalogue` reads it on every call
rather than keeping the app it started with.
"""

from __future__ import annotations

from reelpick.app import Reelpick
from reelpick.errors import ReelpickError

from ..services import BotServices


class Catalogue:
    """Labels and checks of movie ids against the bot's current :class:`Reelpick`."""

    def __init__(self, services: BotServices) -> None:
        self._services = services
        self._popular: tuple[object, list[int]] | None = None

    @property
    def app(self) -> Reelpick:
        """The current recommender (``/reload`` swaps it in the bot's services)."""
        return self._services.reelpick

    @property
    def services(self) -> BotServices:
        return self._services

    def label(self, movie_id: int) -> str:
        """``"Heat (1995)"`` (dataset and catalogue movies); ``"movie 123"`` for an id
        neither has any more."""
        try:
            return self._services.label(movie_id)
        except (KeyError, ValueError, ReelpickError):
            return f"movie {movie_id}"

    def knows(self, movie_id: int) -> bool:
        """Whether ``movie_id`` is a dataset or catalogue movie (any int, however large)."""
        return self._services.knows(movie_id)

    def popular(self, exclude: set[int], depth: int) -> list[int]:
        """The ``depth`` most rated movies not in ``exclude`` (kept per dataset)."""
        dataset = self.app.dataset
        cached = self._popular
        if cached is None or cached[0] is not dataset:
            counts = dataset.ratings["movieId"].value_counts()
            cached = self._popular = (dataset, [int(m) for m in counts.index[: depth * 20]])
        return [m for m in cached[1] if m not in exclude][:depth]
