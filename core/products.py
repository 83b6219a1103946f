"""What one plugin's fit hands to another: the names of the products and the shape of each.

A plugin that needs another's work declares it in :class:`~reelpick.types.PluginInfo`
(``needs=(Need(POSTER_FEATURES),)``); a plugin that can hand it over lists the name in
``provides`` and answers ``reelpick_provide``. The registry fits the provider first and passes
its product to the dependant's ``reelpick_fit`` as ``needs[name]``, so neither plugin imports
the other. Each product name has a protocol here that every provider's object satisfies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from .types import NewMovie

POSTER_FEATURES = "poster features"


@runtime_checkable
class PosterFeatures(Protocol):
    """The product named :data:`POSTER_FEATURES`: one feature vector per real poster.

    ``id`` names everything that decides the vectors apart from the posters (model, weights,
    precision): a plugin that needs them puts it in its cache keys, so that features of another model are
    never mixed with stored ones. ``content_hashes`` maps each movie with features to the
    content hash of its poster (placeholders never appear); ``vector`` is that movie's feature
    vector, the same length for every movie, or None when it cannot be read.
    """

    @property
    def id(self) -> str: ...

    def content_hashes(self) -> Mapping[int, str]: ...

    def vector(self, movie_id: int) -> np.ndarray | None: ...


@runtime_checkable
class NewPosterFeatures(PosterFeatures, Protocol):
    """Poster features that also reach movies outside the data (catalogue movies).

    ``new_vector(movie, compute)`` is the feature vector of ``movie``'s poster, in the form
    and length of :meth:`PosterFeatures.vector`, or None when it has no real poster. With
    ``compute`` the provider may fetch the poster and compute its features on first sight
    (seconds); without, it only reads what is already stored (no network). Optional: a
    dependent checks ``isinstance(features, NewPosterFeatures)`` and does without otherwise.
    """

    def new_vector(self, movie: NewMovie, compute: bool = True) -> np.ndarray | None: ...
