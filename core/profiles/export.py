"""A profile as a CSV document (the bot's ``/myratings``, the CLI's export).

Columns ``movieId,title,year,state,rating,updated``: MovieLens-like, so the file opens in a
spreadsheet and imports back unchanged (the ``movielens`` import format reads ``state``).
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
                datetime.fromtimestamp(entry.updated_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
        )
    return out.getvalue().encode("utf-8")
