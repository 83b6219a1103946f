"""How vgg16-poster compares posters, and the catalogue's posters among those a photo is
compared with.

:func:`comparable` is the form every comparison uses (the neighbour table, a new movie's
poster, a photo). :class:`CataloguePictures` adds catalogue movies (films newer than the
rating data) to the picture index: those whose poster's features are stored, which
``VGG16Poster.new_features`` does the first time someone asks about the film (in the bot,
in its image worker). Building this index fetches and computes nothing: it reads what is on
disk, and looks again only when the catalogue or the feature pack has changed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np

from reelpick import CatalogueReader, Config, NewMovie

from ._vgg16_store import GRID, FeatureStore, Pooling

log = logging.getLogger(__name__)


def comparable(vector: np.ndarray, pooling: str, mirror: bool) -> np.ndarray:
    """The form in which features are compared by cosine.

    With ``mirror`` the flattened grid is added to its left-right mirror image, so that a
    flipped poster matches its original (an average pooled vector is already flip-blind).
    The mirrored sum repeats columns 0-2 as 6-4, so only columns 0-3 are kept, the repeated
    ones scaled by sqrt(2): the cosine is unchanged and the vector is 14,336 values, not 25,088.
    """
    if not mirror or pooling != Pooling.FLATTEN:
        return vector
    grid = vector.reshape(GRID)
    half = (grid[:, :3] + grid[:, :3:-1]) * np.float32(np.sqrt(2))
    centre = 2 * grid[:, 3:4]
    return np.concatenate([half, centre], axis=1).ravel()


def unit_vector(vector: np.ndarray) -> np.ndarray:
    """``vector`` as float32 of length 1 (zero stays zero)."""
    vector = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def comparable_dim(pooling: str, mirror: bool) -> int:
    if pooling == Pooling.AVG:
        return GRID[2]
    return GRID[0] * 4 * GRID[2] if mirror else int(np.prod(GRID))


class CataloguePictures:
    """Movie ids and unit comparable rows of the catalogue movies whose poster features are
    stored, kept until the catalogue (rows added or refreshed) or the feature pack (features
    appended, by any process) changes."""

    def __init__(
        self,
        config: Config,
        features: FeatureStore,
        mirror: bool,
        stored: Callable[[NewMovie], np.ndarray | None],
    ) -> None:
        """``stored``: a catalogue movie's poster features if they are on disk, else None,
        without fetching or computing anything."""
        self.features = features
        self.mirror = mirror
        self._stored = stored
        self._reader = CatalogueReader(config)
        self._lock = threading.Lock()
        self._seen: object = None
        self._index = _empty(comparable_dim(features.spec.pooling, mirror))

    def index(self) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            mark = (self._reader.signature(), self.features.version())
            if mark != self._seen:
                self._index = self._build()
                self._seen = mark
            return self._index

    def _build(self) -> tuple[np.ndarray, np.ndarray]:
        ids, rows = [], []
        pooling = self.features.spec.pooling
        for movie in self._reader.movies():
            stored = self._stored(movie)
            if stored is not None and stored.any():
                ids.append(movie.movie_id)
                rows.append(unit_vector(comparable(stored, pooling, self.mirror)))
        if not ids:
            return _empty(comparable_dim(pooling, self.mirror))
        log.info("the picture index holds %d catalogue posters", len(ids))
        return np.array(ids, dtype=np.int64), np.vstack(rows)

    def close(self) -> None:
        self._reader.close()


def _empty(dim: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32)
