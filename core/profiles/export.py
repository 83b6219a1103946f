"""A profile as a CSV document (the bot's ``/myratings`` and ``/export``, the CLI's export).

:func:`export_csv` writes ``movieId,title,year,state,rating,updated``: MovieLens-like, so the
file opens in a spreadsheet and imports back unchanged (the ``movielens`` import format reads
``state``).

:func:`export_letterboxd` writes the columns Letterboxd's importer reads (``Title``, ``Year``,
``imdbID``, ``tmdbID``, ``Rating``, ``Tags``; it ignores the others) followed by
``movieId,state,updated``, so the same file also imports back into reelpick unchanged.
Letterboxd has no "not interested": those rows carry the tag ``not-interested``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

import pandas as pd

from ..data import Dataset
from ..errors import ReelpickError
from .model import Entry

if TYPE_CHECKING:
    from ..app import Reelpick

COLUMNS = ("movieId", "title", "year", "state", "rating", "updated")
LETTERBOXD_COLUMNS = (
    "Title",
    "Year",
    "imdbID",
    "tmdbID",
    "Rating",
    "Tags",
    "movieId",
    "state",
    "updated",
)


class ExportedMovie(NamedTuple):
    """What an export row says of a movie: name, year and the ids other services match by."""

    title: str
    year: int | None
    imdb_id: int | None
    tmdb_id: int | None


Describe = Callable[[int], ExportedMovie | None]


def dataset_movies(dataset: Dataset) -> Describe:
    """A dataset movie's export facts; None for a movie the dataset does not have."""

    def describe(movie_id: int) -> ExportedMovie | None:
        if movie_id not in dataset:
            return None
        row = dataset.movie(movie_id)
        return ExportedMovie(
            str(row["name"]),
            int(row["year"]) if pd.notna(row["year"]) else None,
            int(row["imdb_id"]) if pd.notna(row["imdb_id"]) else None,
            int(row["tmdb_id"]) if pd.notna(row["tmdb_id"]) else None,
        )

    return describe


def app_movies(app: Reelpick) -> Describe:
    """:func:`dataset_movies`, and catalogue movies (films newer than the rating data) from
    their stored rows."""
    from ..catalogue import is_catalogue_id

    in_dataset = dataset_movies(app.dataset)

    def describe(movie_id: int) -> ExportedMovie | None:
        if not is_catalogue_id(movie_id):
            return in_dataset(movie_id)
        try:
            movie = app.catalogue.stored(movie_id)
        except ReelpickError:
            return None
        return ExportedMovie(movie.title, movie.year, movie.imdb_id, movie.tmdb_id)

    return describe


def export_csv(entries: Iterable[Entry], movies: Describe | Dataset | None = None) -> bytes:
    """UTF-8 CSV bytes (no BOM: pandas and MovieLens tools read the header as is).

    Titles and years come from ``movies`` (:func:`app_movies`, or a dataset); a movie it
    does not know keeps its row with empty title and year, so nothing is lost.
    """
    describe = _describer(movies)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in sorted(entries, key=lambda e: e.movie_id):
        movie = describe(entry.movie_id)
        writer.writerow(
            (
                entry.movie_id,
                movie.title if movie else "",
                _text(movie.year if movie else None),
                entry.kind,
                f"{entry.stars:g}" if entry.stars is not None else "",
                _timestamp(entry.updated_at),
            )
        )
    return out.getvalue().encode("utf-8")


def export_letterboxd(entries: Iterable[Entry], movies: Describe | Dataset | None = None) -> bytes:
    """UTF-8 CSV bytes in Letterboxd's import format, every entry kept (see the module)."""
    describe = _describer(movies)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LETTERBOXD_COLUMNS)
    for entry in sorted(entries, key=lambda e: e.movie_id):
        movie = describe(entry.movie_id)
        imdb = movie.imdb_id if movie else None
        writer.writerow(
            (
                movie.title if movie else "",
                _text(movie.year if movie else None),
                f"tt{imdb:07d}" if imdb is not None else "",
                _text(movie.tmdb_id if movie else None),
                f"{entry.stars:g}" if entry.stars is not None else "",
                "not-interested" if entry.kind == "not_interested" else "",
                entry.movie_id,
                entry.kind,
                _timestamp(entry.updated_at),
            )
        )
    return out.getvalue().encode("utf-8")


def _describer(movies: Describe | Dataset | None) -> Describe:
    if movies is None:
        return lambda _: None
    return dataset_movies(movies) if isinstance(movies, Dataset) else movies


def _text(number: int | None) -> str:
    return str(number) if number is not None else ""


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
