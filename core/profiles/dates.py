"""When a person rated a movie, read from an import file's date column.

Letterboxd writes ``Date`` (ratings.csv: when the rating was logged) and ``Watched Date``
(diary.csv), IMDb ``Date Rated``, both ``YYYY-MM-DD``; MovieLens ``timestamp`` is Unix
seconds; reelpick's own exports write ISO 8601 (``2024-05-01T20:15:00Z``). Dates without a
time are midnight UTC. A cell that is none of these gives None: the row is still imported,
rated "now".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime

from .model import ImportFormat, ParsedImport

# The columns (lower case) each format reads its time from, the preferred one first.
DATE_COLUMNS: dict[ImportFormat, tuple[str, ...]] = {
    "letterboxd": ("watched date", "date"),
    "imdb": ("date rated",),
    "movielens": ("timestamp",),
}
EARLIEST = 0.0
LATEST = 4_102_444_800.0  # 2100-01-01: later "dates" are not real ones


def parse_when(text: str) -> float | None:
    """Seconds since the epoch from a date cell, or None when it holds no usable date."""
    text = text.strip()
    if not text or len(text) > 40 or not text.isascii():
        return None
    try:
        if text.replace(".", "", 1).isdigit():
            seconds = float(text)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            seconds = moment.timestamp()
    except (ValueError, OverflowError):
        return None
    return seconds if EARLIEST < seconds < LATEST else None


def when_of(cells: Mapping[str, str], format: ImportFormat) -> tuple[float | None, bool]:
    """The row's time, and whether it had a date cell that could not be read."""
    for column in DATE_COLUMNS[format]:
        cell = cells.get(column, "")
        if cell:
            when = parse_when(cell)
            return when, when is None
    return None, False


def add_times(rows: Iterable[tuple[int, Mapping[str, str]]], parsed: ParsedImport) -> None:
    """Each matched row's ``rated_at`` from its date cell (``rows``: row number and cells);
    rows without one are stored as rated "now"."""
    times: dict[int, float | None] = {}
    unreadable = 0
    for number, cells in rows:
        times[number], bad = when_of(cells, parsed.format)
        unreadable += bad
    parsed.matched = [replace(r, rated_at=times.get(r.row)) for r in parsed.matched]
    if unreadable:
        parsed.notes.append(
            f"{unreadable} rows have a date that could not be read; they count as rated today"
        )
