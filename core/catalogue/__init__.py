"""Movies beyond the rating data: TMDB metadata for cards, and a local catalogue of movies
TMDB knows and the dataset does not (ids ``CATALOGUE_ID_BASE + tmdb_id``).

This package's top level holds only the plain types; the store, the TMDB-backed service and
the sync are in :mod:`.store`, :mod:`.service` and :mod:`.sync` (reached through
:class:`reelpick.app.Reelpick`).
"""

from .models import (
    CATALOGUE_ID_BASE,
    JUSTWATCH_ATTRIBUTION,
    WITHOUT_TMDB,
    Candidate,
    MovieCard,
    WhereToWatch,
    catalogue_id,
    is_catalogue_id,
)
from .settings import CatalogueSettings, TMDBSettings

__all__ = [
    "CATALOGUE_ID_BASE",
    "JUSTWATCH_ATTRIBUTION",
    "WITHOUT_TMDB",
    "Candidate",
    "CatalogueSettings",
    "MovieCard",
    "TMDBSettings",
    "WhereToWatch",
    "catalogue_id",
    "is_catalogue_id",
]
