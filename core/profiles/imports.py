"""Read the rating files people already have: Letterboxd, IMDb and MovieLens-style CSV.

:func:`read_import` turns a file's bytes into matched rows plus one reason for every row it
could not use; :meth:`ProfileStore.apply` then stores them in one transaction.
:func:`import_profile` does both.

A file is refused as a whole, with one :class:`ProfileImportError` and nothing stored, when
it is not a rating file at all: too large, binary, a zip, no known columns, no data rows.
Once the columns are right, a bad row never refuses the file: it is reported with its row
number (as a spreadsheet numbers rows, the header being row 1) and why.

Formats (detected from the header unless ``format`` is given; each row's date, where the
format has one, becomes ``rated_at``: :mod:`reelpick.profiles.dates`):

* ``letterboxd``: ``ratings.csv`` (Date, Name, Year, Letterboxd URI, Rating 0.5-5),
  ``watched.csv`` (every row "seen"), ``diary.csv``, ``reviews.csv`` (a row without a rating is
  "seen"). Matched by title and year. ``watchlist.csv`` lists films *not* seen: refused.
* ``imdb``: the ratings export (Const, Your Rating 1-10, Title, Year, ...). Matched by the
  IMDb id through links.csv, else by title and year; stars are ``Your Rating / 2``.
* ``movielens``: ``movieId,rating`` (userId and timestamp optional, one user only), also what
  :func:`~reelpick.profiles.export.export_csv` writes (``state``: "seen", "not_interested").
"""

from __future__ import annotations

import csv
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..data import Dataset
from .dates import DATE_COLUMNS, add_times
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
# A cell this program reads (a title, a year, a rating) is never longer; the title search
# reads 200 characters of a query anyway. Longer cells make their row unmatched.
MAX_CELL = 500
# A physical line past this many characters is not a rating export (csv's own field limit
# is 131,072); refusing it bounds the cells one record can hold in memory.
MAX_LINE = 262_144
# Longest piece of a cell quoted back in a reason, so that a reply stays short.
QUOTED = 40
MAX_REASON = 300  # characters of one unmatched row's reason
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
_CONTROL = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))]
_NOT_FILMS = {"tvepisode", "tvseries", "videogame", "podcastepisode", "podcastseries"}
# The columns each format reads; the others (a review, tags) are dropped while streaming.
USED: dict[ImportFormat, frozenset[str]] = {
    "letterboxd": frozenset({"name", "year", "rating", *DATE_COLUMNS["letterboxd"]}),
    "imdb": frozenset({"const", "title", "year", "your rating", "title type", "original title"})
    | frozenset(DATE_COLUMNS["imdb"]),
    "movielens": frozenset({"movieid", "rating", "state", "userid", *DATE_COLUMNS["movielens"]}),
}


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
    """Parse and match an import file. Raises :class:`ProfileImportError` to refuse it whole.

    Every cap holds while the file is read: the bytes (a path is read no further than
    ``max_bytes``), the rows (refused at row ``max_rows + 1``, not after parsing them all),
    the length of a line and of a cell, so a hostile file costs no more memory than an
    honest one at the limit.
    """
    if isinstance(data, Path):
        filename = filename or data.name
        data = read_capped(data, max_bytes)
    name = filename or "the file"
    named = None if format is None else _known_format(format)
    if not isinstance(matcher, MovieMatcher):
        matcher = MovieMatcher(matcher)
    text, notes = decode(data, name, max_bytes)
    del data  # the bytes are not needed once decoded
    records = _records(text, name)
    header = next(records, None)
    if header is None:
        raise ProfileImportError(f"{name} is empty")
    columns = [c.strip().lower() for c in header[1]]
    chosen = named or detect_format(columns)
    if chosen is None or any(c not in columns for c in REQUIRED[chosen]):
        raise ProfileImportError(_wrong_columns(name, header[1], chosen))
    if chosen == "letterboxd" and Path(name).name.lower().startswith("watchlist"):
        raise ProfileImportError(
            f"{name} is a Letterboxd watchlist: films you want to see, not ones you have "
            "seen. Import ratings.csv or watched.csv instead."
        )
    parsed = ParsedImport(format=chosen, rows=0, notes=notes)
    table = _table(records, columns, USED[chosen], parsed, name, max_rows)
    if not parsed.rows:
        raise ProfileImportError(f"{name} has a header but no rows below it")
    _READERS[chosen](table, matcher, parsed, name)
    add_times(((row.number, row.cells) for row in table), parsed)
    parsed.unmatched.sort(key=lambda u: u.row)
    _keep_one_per_movie(parsed)
    return parsed


def _table(
    records: Iterator[tuple[int, list[str]]],
    columns: list[str],
    used: frozenset[str],
    parsed: ParsedImport,
    name: str,
    max_rows: int,
) -> list[_Row]:
    """The data rows, keeping only the ``used`` cells; a row with an overlong cell goes
    straight to ``parsed.unmatched``. Refuses the file at row ``max_rows + 1``."""
    wanted = [(i, c) for i, c in enumerate(columns) if c in used]
    table: list[_Row] = []
    for number, cells in records:
        parsed.rows += 1
        if parsed.rows > max_rows:
            raise ProfileImportError(
                f"{name} has more than {max_rows:,} rows; an import takes at most {max_rows:,}"
            )
        kept = {c: cells[i].strip() for i, c in wanted if i < len(cells)}
        long = next((c for c, cell in kept.items() if len(cell) > MAX_CELL), None)
        if long is not None:
            parsed.unmatched.append(
                Unmatched(
                    number,
                    kept[long][:QUOTED] + "…",
                    f"the {long!r} cell is {len(kept[long]):,} characters long; "
                    f"at most {MAX_CELL:,} are read",
                )
            )
            continue
        table.append(_Row(number, kept))
    return table


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
    if not data or data.isspace():
        raise ProfileImportError(f"{name} is empty")
    if data.startswith(b"PK\x03\x04"):
        raise ProfileImportError(
            f"{name} is a zip archive; unpack it and import the CSV file inside "
            "(ratings.csv for Letterboxd)"
        )
    notes: list[str] = []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's "Unicode text" is UTF-16: full of NUL bytes, yet perfectly good text.
        text = _decode_utf16(data, name)
        notes.append(f"{name} is UTF-16 text; it was read as such")
    elif b"\x00" in data:
        raise ProfileImportError(f"{name} is not a text file (it holds binary data)")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text, encoding = _decode_legacy(data)
            notes.append(f"{name} is not UTF-8; it was read as {encoding}")
    controls = sum(text.count(c) for c in _CONTROL)  # counted without a copy of the text
    if controls > max(8, len(text) // 1000):
        raise ProfileImportError(f"{name} is not a text file (it holds binary data)")
    return text.lstrip("\ufeff"), notes


def _decode_utf16(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-16")
    except UnicodeDecodeError as exc:
        # Name the row where the text breaks, counted as a spreadsheet would.
        row = data[: exc.start].decode("utf-16", errors="replace").count("\n") + 1
        raise ProfileImportError(
            f"{name} is UTF-16 text with invalid bytes in row {row}; "
            "save it again (as UTF-8 CSV) and send it again"
        ) from None


def _decode_legacy(data: bytes) -> tuple[str, str]:
    # Windows spreadsheets save cp1252; latin-1 reads any byte, so it is the last resort.
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "Latin-1"


def read_capped(path: Path, max_bytes: int) -> bytes:
    """A file's bytes, refusing before reading one that is over the cap.

    Only a regular file is read: a FIFO would block the open, and a device such as
    /dev/zero reports size 0 yet never ends. Reading stops at ``max_bytes + 1`` anyway,
    for a file that grows while it is read.
    """
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ProfileImportError(f"{path}: not a regular file (a pipe, device or folder)")
        if info.st_size > max_bytes:
            raise ProfileImportError(
                f"{path.name} is {_size(info.st_size)}; "
                f"the limit for an import is {_size(max_bytes)}"
            )
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ProfileImportError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise ProfileImportError(f"{path.name} is over {_size(max_bytes)}, the limit for an import")
    return data


def _records(text: str, name: str) -> Iterator[tuple[int, list[str]]]:
    """The numbered non-blank records, the header first, parsed one at a time."""
    lines = _capped_lines(text, name)
    reader = csv.reader(lines)
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            if any(cell.strip() for cell in cells):  # not a blank line, nor only commas
                yield number, cells
    except csv.Error as exc:
        raise ProfileImportError(f"{name}: row {number + 1} is not valid CSV ({exc})") from None


def _capped_lines(text: str, name: str) -> Iterator[str]:
    """The lines of ``text``, ends kept, one at a time (a StringIO would copy the whole text
    at four bytes a character)."""
    end_of_line = "\n" if "\n" in text or "\r" not in text else "\r"  # "\r": old Mac files
    start, number = 0, 0
    while start < len(text):
        end = text.find(end_of_line, start)
        end = len(text) if end < 0 else end + 1
        line, start, number = text[start:end], end, number + 1
        if len(line) > MAX_LINE:
            raise ProfileImportError(
                f"{name}: line {number:,} is {len(line):,} characters long; "
                f"a rating file's lines are at most {MAX_LINE:,}"
            )
        yield line


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
def _short(text: str) -> str:
    """``text`` cut to :data:`QUOTED` characters, for a reason."""
    return text if len(text) <= QUOTED else text[:QUOTED] + "…"


def _quoted(text: str) -> str:
    return repr(_short(text))


def _number(text: str, digits: int) -> int | None:
    """An ASCII whole number of at most ``digits`` digits ("²" and "١٩٩٥" are not)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= digits else None


def _stars(text: str, low: float, high: float, scale: float) -> tuple[float | None, str]:
    """Stars from a rating cell on the file's own scale (``scale`` divides it onto 0.5-5)."""
    try:
        if len(text) > 12 or not text.isascii():
            raise ValueError(text)
        value = float(text.replace(",", "."))  # "3,5" from a European spreadsheet
    except ValueError:
        return None, f"rating {_quoted(text)} is not a number"
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
    year = _number(text, 4)
    if year is not None and 1850 <= year <= 2100:
        return year, ""
    return None, f"year {_quoted(text)} is not a year"


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
                kind_name = _short(row.get("title type"))
                problem = f"{_short(const or title)} is a {kind_name}, not a film"
            elif not title:
                problem = f"{_short(const) if const else 'this row'} is not in the catalogue "
                problem += "and has no title"
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
        movie_id = _number(movie_text, 10)
        if movie_id is None or not matcher.knows(movie_id):
            problem = f"movieId {_quoted(movie_text)} is not in the catalogue"
        elif state and state not in KINDS:
            problem = f"state {_quoted(state)} is not one of {', '.join(KINDS)}"
        elif state in ("seen", "not_interested"):
            if rating:
                problem = f"a {state!r} row has a rating ({_quoted(rating)})"
        elif rating:
            stars, problem = _stars(rating, 0.5, 5, 1)
        else:
            problem = "no rating"
        movie_id = movie_id if not problem else None
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
        reason = problem or "not in the catalogue"
        parsed.unmatched.append(Unmatched(number, text[:200], reason[:MAX_REASON]))
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
