"""Personal profiles: what each person rated, saw or does not want, on disk.

* :class:`ProfileStore` keeps ratings and marks per owner (``tg:<id>``, ``local:<name>``)
  in SQLite and hands out :class:`~reelpick.types.Profile` objects for plugins;
* :func:`read_import` / :func:`import_profile` read Letterboxd, IMDb and MovieLens files;
* :func:`export_csv` / :func:`export_letterboxd` write a profile back as CSV;
* :func:`next_to_rate` picks the next movie to ask about in a rating session.
"""

from .errors import ProfileError, ProfileImportError, ProfileStoreError
from .export import app_movies, export_csv, export_letterboxd
from .imports import MAX_BYTES, MAX_ROWS, detect_format, import_profile, read_import
from .matching import MovieMatcher
from .model import (
    FORMATS,
    KINDS,
    Entry,
    ImportFormat,
    ImportResult,
    ImportRow,
    Kind,
    ParsedImport,
    Unmatched,
)
from .questions import RatingQuestions, next_to_rate
from .store import FILENAME, ProfileStore, QueuedImport

__all__ = [
    "FILENAME",
    "FORMATS",
    "KINDS",
    "MAX_BYTES",
    "MAX_ROWS",
    "Entry",
    "ImportFormat",
    "ImportResult",
    "ImportRow",
    "Kind",
    "MovieMatcher",
    "ParsedImport",
    "ProfileError",
    "ProfileImportError",
    "ProfileStore",
    "ProfileStoreError",
    "QueuedImport",
    "RatingQuestions",
    "Unmatched",
    "app_movies",
    "detect_format",
    "export_csv",
    "export_letterboxd",
    "import_profile",
    "next_to_rate",
    "read_import",
]
