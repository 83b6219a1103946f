"""Read the rating files people already have: Letterboxd, IMDb and MovieLens-style CSV.

:func:`read_import` turns a file's bytes into matched rows plus one reason for every row it
could not use; :meth:`ProfileStore.apply` then stores them in one transaction.
:func:`import_profile` does both.

A file is refused as a whole, with one :class:`ProfileImportError` and nothing stored, when
it is not a rating file at all: too large, binary, a zip, no known columns, no data rows.
Once the columns are right, a bad row never refuses the file: it is reported with its row
number (as a spreadsheet numbers rows, the header being row 1) and why.

Formats (detected from the header unless ``format`` is given):

* ``letterboxd``: ``ratings.csv`` (Date, Name, Year, Letterboxd URI, Rating 0.5-5),
  ``watched.csv`` (no Rating: every row is "seen"), ``diary.csv`` and ``reviews.csv`` (a row
  without a rating is "seen"). Matched by title and year. ``watchlist.csv`` has the columns
  of watched.csv but lists films *not* seen yet, so a file of that name is refused.
* ``imdb``: the ratings export (Const, Your Rating 1-10, Title, Year, ...). Matched by the
  IMDb id through links.csv, else by title and year; stars are ``Your Rating / 2``.
* ``movielens``: ``movieId,rating`` (userId and timestamp optional, one user only), which is
  also what :func:`~reelpick.profiles.export.export_csv` writes (its ``state`` column carries
  "seen" and "not_interested").
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..data import Dataset
from .errors import ProfileImportError
from .matching import MovieMatcher
from .model import (
    FORMATS,
    KINDS,
    ImportFormat,
    ImportResult,
    ImportRow,
    Kind,
    ParsedImport,
    Unmatched,
)
from .store import ProfileStore

MAX_BYTES = 10 * 1024 * 1024
# A title lookup costs up to ~2 ms; rows past this cap would tie up a bot worker for
# minutes. Heavy IMDb or Letterboxd users have around 10,000 films.
MAX_ROWS = 20_000
# Columns a format cannot do without (lower case), and how its header is shown in messages.
REQUIRED: dict[ImportFormat, tuple[str, ...]] = {
    "letterboxd": ("name", "year"),
    "imdb": ("const", "your rating"),
    "movielens": ("movieid",),
}
EXPECTED: dict[ImportFormat, str] = {
    "letterboxd": "a Letterboxd export (Date, Name, Year, Letterboxd URI, Rating)",
    "imdb": "an IMDb ratings export (Const, Your Rating, Title, Year, ...)",
    "movielens": "MovieLens ratings (movieId, rating)",
}
# IMDb title types that MovieLens never lists; their titles ("Pilot") would match films.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_NOT_FILMS = {"tvepisode", "tvseries", "videogame", "podcastepisode", "podcastseries"}


@dataclass(frozen=True)
class _Row:
    number: int
    cells: dict[str, str]  # lower-case column name -> stripped cell

    def get(self, column: str) -> str:
        return self.cells.get(column, "")


def import_profile(
    store: ProfileStore,
    owner: str,
    data: bytes | Path,
    matcher: MovieMatcher | Dataset,
    *,
    format: str | None = None,
    filename: str | None = None,
    max_bytes: int = MAX_BYTES,
    max_rows: int = MAX_ROWS,
) -> ImportResult:
    """Read ``data`` and store what matched for ``owner``, all in one transaction."""
    parsed = read_import(
        data, matcher, format=format, filename=filename, max_bytes=max_bytes, max_rows=max_rows
    )
    return store.apply(owner, parsed)


def read_import(
    data: bytes | Path,
    matcher: MovieMatcher | Dataset,
    *,
    format: str | None = None,
    filename: str | None = None,
    max_bytes: int = MAX_BYTES,
    max_rows: int = MAX_ROWS,
) -> ParsedImport:
    """Parse and match an import file. Raises :class:`ProfileImportError` to refuse it whole."""
    if isinstance(data, Path):
        filename = filename or data.name
        data = _read_capped(data, max_bytes)
    name = filename or "the file"
    named = None if format is None else _known_format(format)
    if not isinstance(matcher, MovieMatcher):
        matcher = MovieMatcher(matcher)
    text, notes = decode(data, name, max_bytes)
    header, rows = _records(text, name)
    columns = [c.strip().lower() for c in header]
    chosen = named or detect_format(columns)
    if chosen is None or any(c not in columns for c in REQUIRED[chosen]):
        raise ProfileImportError(_wrong_columns(name, header, chosen))
    if chosen == "letterboxd" and Path(name).name.lower().startswith("watchlist"):
        raise ProfileImportError(
            f"{name} is a Letterboxd watchlist: films you want to see, not ones you have "
            "seen. Import ratings.csv or watched.csv instead."
        )
    table = [
        _Row(number, dict(zip(columns, (cell.strip() for cell in cells), strict=False)))
        for number, cells in rows
    ]
    if not table:
        raise ProfileImportError(f"{name} has a header but no rows below it")
    if len(table) > max_rows:
        raise ProfileImportError(
            f"{name} has {len(table):,} rows; an import takes at most {max_rows:,}"
        )
    parsed = ParsedImport(format=chosen, rows=len(table), notes=notes)
    _READERS[chosen](table, matcher, parsed, name)
    _keep_one_per_movie(parsed)
    return parsed


def _known_format(format: str) -> ImportFormat:
    for known in FORMATS:
        if format == known:
            return known
    raise ProfileImportError(
        f"unknown import format {format!r} (expected one of {', '.join(FORMATS)})"
    )


def detect_format(columns: list[str]) -> ImportFormat | None:
    """The format a header (lower-case column names) belongs to, or None."""
    present = set(columns)
    if {"const", "your rating"} <= present:
        return "imdb"
    if {"name", "year", "letterboxd uri"} <= present:
        return "letterboxd"
    if "movieid" in present and ({"rating", "state"} & present):
        return "movielens"
    return None


def decode(data: bytes, name: str, max_bytes: int = MAX_BYTES) -> tuple[str, list[str]]:
    """The text of an upload and notes on how it was read; refuses what is not CSV text."""
    if len(data) > max_bytes:
        raise ProfileImportError(
            f"{name} is {_size(len(data))}; the limit for an import is {_size(max_bytes)}"
        )
    if not data.strip():
        raise ProfileImportError(f"{name} is empty")
    if data.startswith(b"PK\x03\x04"):
        raise ProfileImportError(
            f"{name} is a zip archive; unpack it and import the CSV file inside "
            "(ratings.csv for Letterboxd)"
        )
    notes: list[str] = []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's "Unicode text" is UTF-16: full of NUL bytes, yet perfectly good text.
        text = data.decode("utf-16")
        notes.append(f"{name} is UTF-16 text; it was read as such")
    elif b"\x00" in data:
        raise ProfileImportError(f"{name} is not a text file (it holds binary data)")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text, encoding = _decode_legacy(data)
            notes.append(f"{name} is not UTF-8; it was read as {encoding}")
    controls = len(_CONTROL.findall(text))
    if controls > max(8, len(text) // 1000):
        raise ProfileImportError(f"{name} is not a text file (it holds binary data)")
    return text.lstrip("\ufeff"), notes


def _decode_legacy(data: bytes) -> tuple[str, str]:
    # Windows spreadsheets save cp1252; latin-1 reads any byte, so it is the last resort.
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "Latin-1"


def _read_capped(path: Path, max_bytes: int) -> bytes:
    """A file's bytes, refusing before reading one that is over the cap."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ProfileImportError(
                f"{path.name} is {_size(size)}; the limit for an import is {_size(max_bytes)}"
            )
        return path.read_bytes()
    except OSError as exc:
        raise ProfileImportError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def _records(text: str, name: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the numbered non-blank records after it."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            if not any(cell.strip() for cell in cells):
                continue  # blank line, or only commas
            if header is None:
                header = cells
            else:
                rows.append((number, cells))
    except csv.Error as exc:
        raise ProfileImportError(f"{name}: row {number + 1} is not valid CSV ({exc})") from None
    if header is None:
        raise ProfileImportError(f"{name} is empty")
    return header, rows


def _wrong_columns(name: str, header: list[str], chosen: ImportFormat | None) -> str:
    shown = [repr(h.strip()[:40]) for h in header[:12]]
    found = ", ".join(shown) + (", ..." if len(header) > 12 else "")
    expected = [EXPECTED[chosen]] if chosen else list(EXPECTED.values())
    return f"{name} has the columns {found}; expected " + (
        ", ".join(expected[:-1]) + " or " + expected[-1] if len(expected) > 1 else expected[0]
    )


def _size(count: int) -> str:
    return f"{count / 1024 / 1024:.1f} MB" if count >= 100 * 1024 else f"{count} bytes"


# -- one reader per format: each row becomes an ImportRow or an Unmatched ----------------
def _stars(text: str, low: float, high: float, scale: float) -> tuple[float | None, str]:
    """Stars from a rating cell on the file's own scale (``scale`` divides it onto 0.5-5)."""
    try:
        value = float(text.replace(",", "."))  # "3,5" from a European spreadsheet
    except ValueError:
        return None, f"rating {text!r} is not a number"
    shown = f"{low:g}–{high:g}"
    if not low <= value <= high:  # also false for NaN
        return None, f"rating {text} is outside {shown}"
    stars = value / scale
    if stars * 2 != int(stars * 2):
        step = "whole numbers" if scale > 1 else "whole or half stars"
        return None, f"rating {text} is not on the {shown} scale ({step})"
    return stars, ""


def _year(text: str) -> tuple[int | None, str]:
    if not text:
        return None, ""
    if text.isdigit() and 1850 <= int(text) <= 2100:
        return int(text), ""
    return None, f"year {text!r} is not a year"


def _title_label(title: str, year: str) -> str:
    return f"{title} ({year})" if year else title


def _read_letterboxd(
    table: list[_Row], matcher: MovieMatcher, parsed: ParsedImport, name: str
) -> None:
    for row in table:
        title, year_text, rating = row.get("name"), row.get("year"), row.get("rating")
        text = _title_label(title, year_text)
        if not title:
            parsed.unmatched.append(Unmatched(row.number, text, "no film name"))
            continue
        stars, problem = _stars(rating, 0.5, 5, 1) if rating else (None, "")
        year, year_problem = _year(year_text)
        problem = problem or year_problem
        movie_id = None
        if not problem:
            movie_id, problem = matcher.by_title(title, year)
        _add(parsed, row.number, text, movie_id, stars, problem)


def _read_imdb(table: list[_Row], matcher: MovieMatcher, parsed: ParsedImport, name: str) -> None:
    for row in table:
        const, title, year_text = row.get("const"), row.get("title"), row.get("year")
        text = " ".join(filter(None, (_title_label(title, year_text), const))) or "(empty)"
        rating = row.get("your rating")
        if not rating:
            parsed.unmatched.append(Unmatched(row.number, text, "no rating in 'Your Rating'"))
            continue
        stars, problem = _stars(rating, 1, 10, 2)
        movie_id = None if problem else matcher.by_imdb(const)
        if movie_id is None and not problem:
            kind = row.get("title type").replace(" ", "").lower()
            year, problem = _year(year_text)
            if kind in _NOT_FILMS:
                problem = f"{const or title} is a {row.get('title type')}, not a film"
            elif not title:
                problem = f"{const or 'this row'} is not in the catalogue and has no title"
            elif not problem:
                movie_id, problem = matcher.by_title(title, year)
                original = row.get("original title")
                if movie_id is None and original and original != title:
                    # The export's Title is localised; the original title may be MovieLens's.
                    by_original, _ = matcher.by_title(original, year)
                    if by_original is not None:
                        movie_id, problem = by_original, ""
        _add(parsed, row.number, text, movie_id, stars, problem)


def _read_movielens(
    table: list[_Row], matcher: MovieMatcher, parsed: ParsedImport, name: str
) -> None:
    users = {row.get("userid") for row in table} - {""}
    if len(users) > 1:
        raise ProfileImportError(
            f"{name} holds the ratings of {len(users)} users; import one person's ratings "
            "(keep the rows of one userId)"
        )
    for row in table:
        movie_text, rating, state = row.get("movieid"), row.get("rating"), row.get("state")
        text = f"movieId {movie_text}"
        problem, stars = "", None
        if not movie_text.isdigit() or not matcher.knows(int(movie_text)):
            problem = f"movieId {movie_text!r} is not in the catalogue"
        elif state and state not in KINDS:
            problem = f"state {state!r} is not one of {', '.join(KINDS)}"
        elif state in ("seen", "not_interested"):
            if rating:
                problem = f"a {state!r} row has a rating ({rating})"
        elif rating:
            stars, problem = _stars(rating, 0.5, 5, 1)
        else:
            problem = "no rating"
        movie_id = int(movie_text) if not problem else None
        kind: Kind | None = "seen" if state == "seen" else None
        if state == "not_interested":
            kind = "not_interested"
        _add(parsed, row.number, text, movie_id, stars, problem, kind)


_READERS: dict[ImportFormat, Callable[[list[_Row], MovieMatcher, ParsedImport, str], None]] = {
    "letterboxd": _read_letterboxd,
    "imdb": _read_imdb,
    "movielens": _read_movielens,
}


def _add(
    parsed: ParsedImport,
    number: int,
    text: str,
    movie_id: int | None,
    stars: float | None,
    problem: str,
    kind: Kind | None = None,
) -> None:
    if problem or movie_id is None:
        parsed.unmatched.append(Unmatched(number, text[:200], problem or "not in the catalogue"))
        return
    parsed.matched_rows += 1
    kind = kind or ("rating" if stars is not None else "seen")
    parsed.matched.append(ImportRow(number, movie_id, kind, stars))


def _keep_one_per_movie(parsed: ParsedImport) -> None:
    """One row per movie: a later row replaces an earlier one, except that "seen" never
    replaces a rating or mark (a diary lists a rewatch without its rating again)."""
    kept: dict[int, ImportRow] = {}
    for row in parsed.matched:
        earlier = kept.get(row.movie_id)
        if earlier is None or row.kind != "seen" or earlier.kind == "seen":
            kept[row.movie_id] = row
    repeated = len(parsed.matched) - len(kept)
    if repeated:
        parsed.notes.append(
            f"{repeated} rows name a movie already named on an earlier row; "
            "the later rating of each movie was kept"
        )
    parsed.matched = sorted(kept.values(), key=lambda r: r.row)
