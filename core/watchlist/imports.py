"""Read the watchlists people already have: Letterboxd ``watchlist.csv`` and IMDb's
watchlist (or list) export, matched to movies the way rating imports are
(:class:`~reelpick.profiles.MovieMatcher`: strict title and year, IMDb ids through links.csv).

* Letterboxd: ``Date, Name, Year, Letterboxd URI``: the columns of ``watched.csv`` too, so a
  file sniffed among uploads is a watchlist only by its name (``watchlist*.csv``); a file
  the caller names as a watchlist (``recommend --watchlist``) needs only the columns;
* IMDb: ``Position, Const, Created, Modified, Description, Title, ..., Year, ...``: told
  apart from the ratings export by ``Position`` / ``Created``.

A file that is not a watchlist is refused whole with one :class:`ProfileImportError`; a row
that does not match is reported with its number and why, as rating imports do.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Literal

from ..data import Dataset
from ..profiles import MAX_BYTES, MAX_ROWS, MovieMatcher, ProfileImportError, Unmatched
from ..profiles.imports import decode, read_capped

WatchlistFormat = Literal["letterboxd", "imdb"]
MAX_CELL = 500
_NOT_FILMS = {"tvepisode", "tvseries", "tvminiseries", "videogame", "podcastepisode"}


@dataclass
class ParsedWatchlist:
    """Matched ``(movie_id, added_at or None)`` pairs, one per movie, in file order."""

    format: WatchlistFormat
    rows: int = 0
    matched: list[tuple[int, float | None]] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _columns(header: list[str]) -> list[str]:
    return [c.strip().lstrip("\ufeff").lower() for c in header]


def watchlist_format(
    filename: str | None, header: list[str], *, named: bool = False
) -> WatchlistFormat | None:
    """Which watchlist a file is, from its name and header row; None: not a watchlist.
    ``named``: the caller says it is a watchlist, so Letterboxd's columns are enough."""
    columns = set(_columns(header))
    if "const" in columns and {"position", "created"} & columns:
        return "imdb"
    by_name = named or PurePath(filename or "").name.lower().startswith("watchlist")
    if by_name and _letterboxd_columns(columns):
        return "letterboxd"
    return None


def _letterboxd_columns(columns: set[str]) -> bool:
    return {"name", "year", "letterboxd uri"} <= columns and "rating" not in columns


def looks_like_watchlist(data: bytes, filename: str | None) -> bool:
    """Whether an upload is a watchlist (cheap: reads the first line only)."""
    head = data[:4096]
    try:
        text, _ = decode(head, filename or "the file", max_bytes=len(head) + 1)
    except ProfileImportError:
        return False
    first = text.splitlines()[0] if text.strip() else ""
    try:
        header = next(csv.reader([first]), [])
    except csv.Error:
        return False
    return watchlist_format(filename, header) is not None


def _date(text: str) -> float | None:
    """Seconds since the epoch of an ISO date (``2024-01-31``, UTC); None if it is not one."""
    try:
        day = dt.date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def _year(text: str) -> int | None:
    text = text.strip()
    if text.isascii() and text.isdigit() and len(text) == 4 and 1850 <= int(text) <= 2100:
        return int(text)
    return None


def read_watchlist(
    data: bytes | Path,
    matcher: MovieMatcher | Dataset,
    *,
    filename: str | None = None,
    named: bool = False,
    max_bytes: int = MAX_BYTES,
    max_rows: int = MAX_ROWS,
) -> ParsedWatchlist:
    """Parse and match a watchlist file; raises :class:`ProfileImportError` to refuse it.

    A path is read as rating imports read one: only a regular file, never past
    ``max_bytes``. ``named``: the caller says the file is a watchlist (its name need not
    start with ``watchlist``)."""
    if isinstance(data, Path):
        filename = filename or data.name
        data = read_capped(data, max_bytes)
    name = PurePath(filename).name if filename else "the file"
    if not isinstance(matcher, MovieMatcher):
        matcher = MovieMatcher(matcher)
    text, notes = decode(data, name, max_bytes)
    try:
        records = [r for r in csv.reader(text.splitlines()) if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise ProfileImportError(f"{name} is not valid CSV ({exc})") from None
    if not records:
        raise ProfileImportError(f"{name} is empty")
    header, rows = _columns(records[0]), records[1:]
    chosen = watchlist_format(filename, records[0], named=named)
    if chosen is None and _letterboxd_columns(set(header)):
        raise ProfileImportError(
            f"{name} is not a watchlist by its name: Letterboxd's watched.csv has the same "
            "columns, so a Letterboxd watchlist must be named watchlist*.csv, as Letterboxd "
            "names it"
        )
    if chosen is None:
        raise ProfileImportError(
            f"{name} is not a watchlist: expected Letterboxd's watchlist.csv (Date, Name, "
            "Year, Letterboxd URI) or an IMDb watchlist export (Position, Const, Created, ...)"
        )
    if not rows:
        raise ProfileImportError(f"{name} has a header but no rows below it")
    if len(rows) > max_rows:
        raise ProfileImportError(
            f"{name} has more than {max_rows:,} rows; an import takes at most {max_rows:,}"
        )
    parsed = ParsedWatchlist(chosen, rows=len(rows), notes=notes)
    seen: set[int] = set()
    for number, cells in enumerate(rows, start=2):
        row = {c: cells[i].strip() for i, c in enumerate(header) if i < len(cells)}
        if any(len(v) > MAX_CELL for v in row.values()):
            parsed.unmatched.append(Unmatched(number, "(long row)", "a cell is too long"))
            continue
        movie_id, text_, problem = (
            _match_imdb(row, matcher) if chosen == "imdb" else _match_letterboxd(row, matcher)
        )
        if movie_id is None:
            parsed.unmatched.append(Unmatched(number, text_[:200], problem[:300]))
            continue
        if movie_id in seen:
            continue
        seen.add(movie_id)
        added = _date(row.get("created", "") if chosen == "imdb" else row.get("date", ""))
        parsed.matched.append((movie_id, added))
    return parsed


def _label(title: str, year: str) -> str:
    return f"{title} ({year})" if year else title or "(empty)"


def _match_letterboxd(row: dict[str, str], matcher: MovieMatcher) -> tuple[int | None, str, str]:
    title, year_text = row.get("name", ""), row.get("year", "")
    label = _label(title, year_text)
    if not title:
        return None, label, "no film name"
    own = row.get("movieid", "").strip()  # reelpick's own export names each movie by id too
    if own.isascii() and own.isdigit() and len(own) <= 10 and matcher.knows(int(own)):
        return int(own), label, ""
    year = _year(year_text)
    if year_text and year is None:
        return None, label, f"year {year_text[:40]!r} is not a year"
    movie_id, problem = matcher.by_title(title, year)
    return movie_id, label, problem


def _match_imdb(row: dict[str, str], matcher: MovieMatcher) -> tuple[int | None, str, str]:
    const, title, year_text = row.get("const", ""), row.get("title", ""), row.get("year", "")
    label = " ".join(filter(None, (_label(title, year_text) if title else "", const))) or "(empty)"
    movie_id = matcher.by_imdb(const) if const else None
    if movie_id is not None:
        return movie_id, label, ""
    kind = row.get("title type", "").replace(" ", "").lower()
    if kind in _NOT_FILMS:
        return None, label, f"{(const or title)[:40]} is a {row.get('title type')}, not a film"
    if not title:
        return None, label, "not in the catalogue and no title"
    year = _year(year_text)
    movie_id, problem = matcher.by_title(title, year)
    original = row.get("original title", "")
    if movie_id is None and original and original != title:
        by_original, _ = matcher.by_title(original, year)
        if by_original is not None:
            return by_original, label, ""
    return movie_id, label, problem
