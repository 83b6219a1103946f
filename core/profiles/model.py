"""Value types of the profile layer: what a store holds, and what an import reports."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Literal

from .errors import ProfileError

Kind = Literal["rating", "seen", "not_interested"]
KINDS: tuple[Kind, ...] = ("rating", "seen", "not_interested")
# The export files an import reads.
ImportFormat = Literal["letterboxd", "imdb", "movielens"]
FORMATS: tuple[ImportFormat, ...] = ("letterboxd", "imdb", "movielens")
MIN_STARS, MAX_STARS = 0.5, 5.0

# "tg:<telegram user id>" for Telegram users, "local:<name>" for the command line.
_OWNER = re.compile(r"^(?:tg:-?\d{1,20}|local:[^\s\x00-\x1f\x7f]{1,64})$")


@dataclass(frozen=True)
class Entry:
    """One movie of one person's profile, as stored (``stars`` only for a rating)."""

    movie_id: int
    kind: Kind
    stars: float | None
    updated_at: float  # seconds since the epoch
    rated_at: float | None = None  # when the person rated or watched it (imports: the file's date)


@dataclass(frozen=True)
class ImportRow:
    """A matched row of an import file: what it says about one movie."""

    row: int  # 1-based row in the file, the header being row 1 (as a spreadsheet shows it)
    movie_id: int
    kind: Kind
    stars: float | None = None
    rated_at: float | None = None  # seconds since the epoch, from the file's date column


@dataclass(frozen=True)
class Unmatched:
    """A row of an import file that was not stored, and why."""

    row: int
    text: str  # the row as the person would recognise it: "Heat (1995)", "tt0113277"
    reason: str


@dataclass
class ParsedImport:
    """An import file read and matched against the catalogue, not stored yet."""

    format: ImportFormat
    rows: int  # data rows in the file (blank lines not counted)
    matched_rows: int = 0  # rows that found their movie
    # One row per movie (a movie listed twice keeps its rating, the later one if several).
    matched: list[ImportRow] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    """What an import did. ``changed`` counts movies whose stored state changed, so a second
    import of the same file reports 0."""

    format: ImportFormat
    rows: int
    matched: int
    changed: int
    unmatched: list[Unmatched] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """``{"rows", "matched", "changed", "format", "notes", "unmatched": [{"row", "reason"}]}``.

        Unmatched rows carry their number and reason only; ``text`` stays out of reports
        that may be logged or shown elsewhere.
        """
        return {
            "rows": self.rows,
            "matched": self.matched,
            "changed": self.changed,
            "format": self.format,
            "notes": list(self.notes),
            "unmatched": [{"row": u.row, "reason": u.reason} for u in self.unmatched],
        }


def check_owner(owner: object) -> str:
    """The owner key itself, or :class:`ProfileError` if it is not ``tg:<id>``/``local:<name>``."""
    if not isinstance(owner, str) or not _OWNER.match(owner):
        shown = repr(owner)[:40]
        raise ProfileError(
            f"{shown} is not a profile owner (expected 'tg:<telegram user id>' or 'local:<name>')"
        )
    return owner


def check_stars(stars: object) -> float:
    """``stars`` as a float on the 0.5-5 half-star scale, or :class:`ProfileError` saying why."""
    if isinstance(stars, bool) or not isinstance(stars, Real):
        raise ProfileError(f"rating {stars!r} is not a number")
    value = float(stars)
    if not MIN_STARS <= value <= MAX_STARS:
        raise ProfileError(f"rating {value:g} is outside 0.5–5")
    if value * 2 != int(value * 2):
        raise ProfileError(f"rating {value:g} is not a whole or half star")
    return value


def check_movie_id(movie_id: object) -> int:
    # numpy integers count too: ids often come out of a DataFrame.
    if isinstance(movie_id, bool) or not isinstance(movie_id, Integral) or movie_id <= 0:
        raise ProfileError(f"{movie_id!r} is not a movie id")
    return int(movie_id)
