"""A watchlist as Letterboxd's ``watchlist.csv`` (``Date, Name, Year, Letterboxd URI``) plus
``movieId``: Letterboxd imports it, and so does reelpick (:func:`read_watchlist`) when the
file keeps a name starting with ``watchlist``."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..data import Dataset
from ..profiles.export import Describe, app_movies, dataset_movies
from .store import WatchlistEntry

if TYPE_CHECKING:
    from ..app import Reelpick

COLUMNS = ("Date", "Name", "Year", "Letterboxd URI", "movieId")
EXPORT_NAME = "watchlist-reelpick.csv"

NameOf = Callable[[int], tuple[str, int | None] | None]


def dataset_names(dataset: Dataset) -> NameOf:
    """``(name, year)`` of a dataset movie, None for one the dataset does not have."""
    return _names(dataset_movies(dataset))


def app_names(app: Reelpick) -> NameOf:
    """``(name, year)`` of a dataset or catalogue movie (None for neither)."""
    return _names(app_movies(app))


def _names(describe: Describe) -> NameOf:
    def name_of(movie_id: int) -> tuple[str, int | None] | None:
        movie = describe(movie_id)
        return None if movie is None else (movie.title, movie.year)

    return name_of


def export_watchlist(entries: Iterable[WatchlistEntry], name_of: NameOf | Dataset) -> bytes:
    """UTF-8 CSV bytes, oldest first; a movie ``name_of`` does not know keeps its row with
    its id and no name, so nothing is lost."""
    names = dataset_names(name_of) if isinstance(name_of, Dataset) else name_of
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in sorted(entries, key=lambda e: (e.added_at, e.movie_id)):
        name, year = names(entry.movie_id) or ("", None)
        day = datetime.fromtimestamp(entry.added_at, UTC).strftime("%Y-%m-%d")
        writer.writerow((day, name, "" if year is None else year, "", entry.movie_id))
    return out.getvalue().encode("utf-8")
