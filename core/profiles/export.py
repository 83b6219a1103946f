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
from collections.abc import Iterable
from datetime import UTC, datetime

import pandas as pd

from ..data import Dataset
from .model import Entry

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


def export_csv(entries: Iterable[Entry], dataset: Dataset | None = None) -> bytes:
    """UTF-8 CSV bytes (no BOM: pandas and MovieLens tools read the header as is).

    Titles and years come from ``dataset``; a movie it does not know (the catalogue changed
    since the rating) keeps its row with empty title and year, so nothing is lost.
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in sorted(entries, key=lambda e: e.movie_id):
        title, year = "", ""
        if dataset is not None and entry.movie_id in dataset:
            row = dataset.movie(entry.movie_id)
            title = str(row["name"])
            year = str(int(row["year"])) if pd.notna(row["year"]) else ""
        writer.writerow(
            (
                entry.movie_id,
                title,
                year,
                entry.kind,
                f"{entry.stars:g}" if entry.stars is not None else "",
                _timestamp(entry.updated_at),
            )
        )
    return out.getvalue().encode("utf-8")


def export_letterboxd(entries: Iterable[Entry], dataset: Dataset | None = None) -> bytes:
    """UTF-8 CSV bytes in Letterboxd's import format, every entry kept (see the module)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LETTERBOXD_COLUMNS)
    for entry in sorted(entries, key=lambda e: e.movie_id):
        title = year = imdb = tmdb = ""
        if dataset is not None and entry.movie_id in dataset:
            row = dataset.movie(entry.movie_id)
            title = str(row["name"])
            year = str(int(row["year"])) if pd.notna(row["year"]) else ""
            imdb = f"tt{int(row['imdb_id']):07d}" if pd.notna(row["imdb_id"]) else ""
            tmdb = str(int(row["tmdb_id"])) if pd.notna(row["tmdb_id"]) else ""
        writer.writerow(
            (
                title,
                year,
                imdb,
                tmdb,
                f"{entry.stars:g}" if entry.stars is not None else "",
                "not-interested" if entry.kind == "not_interested" else "",
                entry.movie_id,
                entry.kind,
                _timestamp(entry.updated_at),
            )
        )
    return out.getvalue().encode("utf-8")


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
