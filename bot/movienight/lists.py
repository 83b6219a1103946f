"""Adding a movie to a night's lists: a seed title, or an exclusion (seen or vetoed).

Commands and title-choice buttons both add through :class:`NightLists`, so the seed limit
and the answer when voting started meanwhile are the same from either.
"""

from __future__ import annotations

from telegram import User

from reelpick.settings import MovieNightSettings

from .schema import EntryKind, Night, StoreError, TitleOutcome
from .store import MovieNightStore
from .texts import person


class NightLists:
    """The seeds and exclusions of nights in ``store``, within ``settings.max_seeds``."""

    def __init__(self, store: MovieNightStore, settings: MovieNightSettings) -> None:
        self.store = store
        self.settings = settings

    def add(self, night: Night, movie_id: int, user: User, kind: EntryKind) -> TitleOutcome:
        """Add ``movie_id`` as ``kind`` from ``user``; CLOSED when voting started meanwhile."""
        try:
            if kind == EntryKind.SEED:
                return self.store.add_seed(
                    night.id, movie_id, user.id, person(user), self.settings.max_seeds
                )
            return self.store.add_exclusion(night.id, movie_id, kind, user.id, person(user))
        except StoreError:
            return TitleOutcome.CLOSED
