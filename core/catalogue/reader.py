"""The catalogue as plugins read it: catalogue movies as :class:`~reelpick.types.NewMovie`.

Plugins reach it through the package root (``reelpick.CatalogueReader``): a read-only view
that never creates a catalogue file, and tells in one cheap query whether anything changed.
"""

from __future__ import annotations

from pathlib import Path

from ..config import Config
from ..types import NewMovie
from .models import CATALOGUE_ID_BASE, catalogue_id
from .store import CatalogueStore, new_movie


class CatalogueReader:
    """The catalogue file of ``config`` (``[catalogue] db``), opened on first use."""

    def __init__(self, config: Config) -> None:
        settings = config.settings
        self.path: Path = settings.catalogue.path(settings.data.dir)
        self._store: CatalogueStore | None = None

    def _opened(self) -> CatalogueStore | None:
        if self._store is None and self.path.is_file():  # never create one here
            self._store = CatalogueStore(self.path)
        return self._store

    def signature(self) -> tuple[int, float] | None:
        """(row count, last write), or None while there is no catalogue file: changes
        whenever a movie is added, refreshed or removed."""
        store = self._opened()
        return None if store is None else store.signature()

    def movies(self) -> list[NewMovie]:
        """Every catalogue movie, in movie id order."""
        store = self._opened()
        return [] if store is None else [new_movie(m) for m in store.all()]

    def movie(self, movie_id: int) -> NewMovie | None:
        """The catalogue movie ``movie_id``, or None when the catalogue has no such row."""
        store = self._opened()
        found = None if store is None else store.get(int(movie_id) - CATALOGUE_ID_BASE)
        return None if found is None else new_movie(found)

    def tmdb_ids(self) -> dict[int, int]:
        """TMDB id -> movie id of every catalogue movie (one small query, no rows read)."""
        store = self._opened()
        return {} if store is None else {t: catalogue_id(t) for t in store.ids()}

    def written_after(self, since: float) -> list[NewMovie]:
        """The movies added or refreshed after ``since`` (a signature's last write)."""
        store = self._opened()
        return [] if store is None else [new_movie(m) for m in store.written_after(since)]

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
