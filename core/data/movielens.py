"""MovieLens data: load a folder or the official zip, check it, and build the rating matrix.

Every file is hashed as it is read; the combined hash (``Dataset.fingerprint``) keys every
cache, so a changed file can never be answered from an old fit.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import DataError
from . import parsed

log = logging.getLogger(__name__)

# Expected header -> dtype of each MovieLens file. Required files first.
SCHEMAS: dict[str, dict[str, str]] = {
    "movies.csv": {"movieId": "int64", "title": "str", "genres": "str"},
    "ratings.csv": {
        "userId": "int64",
        "movieId": "int64",
        "rating": "float32",
        "timestamp": "int64",
    },
    "links.csv": {"movieId": "int64", "imdbId": "Int64", "tmdbId": "Int64"},
    "tags.csv": {"userId": "int64", "movieId": "int64", "tag": "str", "timestamp": "int64"},
}
REQUIRED = ("movies.csv", "ratings.csv")
NO_GENRES = "(no genres listed)"

_YEAR = re.compile(r"\s*\((\d{4})(?:[-–]\d{0,4})?\)\s*$")
TRAILING_ARTICLE = re.compile(
    r"^(?P<body>.+), (?P<article>The|A|An|Les|La|Le|L'|Il|El|Los|Las|Das|Der|Die|Det|Den|De|I|Gli|O|Os)$"
)


@dataclass
class RatingMatrix:
    """Ratings as a users x movies CSR matrix (float32) with the ids of its rows and columns.

    Columns cover every movie in movies.csv, in movieId order, rated or not.
    """

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    movie_ids: np.ndarray

    def column(self, movie_id: int) -> int | None:
        """Column of ``movie_id``, or None if the movie is unknown."""
        pos = int(np.searchsorted(self.movie_ids, movie_id))
        if pos < len(self.movie_ids) and self.movie_ids[pos] == movie_id:
            return pos
        return None

    def row(self, user_id: int) -> int | None:
        pos = int(np.searchsorted(self.user_ids, user_id))
        if pos < len(self.user_ids) and self.user_ids[pos] == user_id:
            return pos
        return None


@dataclass
class Dataset:
    """One MovieLens dataset.

    ``movies`` is indexed by movieId with columns title (as in movies.csv), name (display
    form: "The Matrix"), year (nullable), genres (tuple of str), imdb_id, tmdb_id (nullable).
    ``ratings`` has userId, movieId, rating (float32), timestamp; ``tags`` may be empty.
    """

    movies: pd.DataFrame
    ratings: pd.DataFrame
    tags: pd.DataFrame
    fingerprint: str
    source: str

    @cached_property
    def matrix(self) -> RatingMatrix:
        movie_ids = self.movies.index.to_numpy(dtype=np.int64)
        user_ids, rows = _codes(self.ratings["userId"].to_numpy(dtype=np.int64))
        cols = self._columns
        # A copy: the column may be mapped read-only from the cache, and the matrix is the
        # plugins' to scale or centre in place.
        values = self.ratings["rating"].to_numpy(dtype=np.float32, copy=True)
        # Straight to CSR (each (user, movie) pair is given once: checked on loading).
        order = np.argsort(rows, kind="stable") if np.any(rows[1:] < rows[:-1]) else None
        if order is not None:
            rows, cols, values = rows[order], cols[order], values[order]
        indptr = np.zeros(len(user_ids) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(user_ids)), out=indptr[1:])
        matrix = sp.csr_matrix(
            (values, cols.astype(np.int32), indptr),
            shape=(len(user_ids), len(movie_ids)),
            dtype=np.float32,
        )
        matrix.sort_indices()
        return RatingMatrix(matrix=matrix, user_ids=user_ids, movie_ids=movie_ids)

    @cached_property
    def _columns(self) -> np.ndarray:
        """Each rating's movie as a position in ``movies`` (movieId order)."""
        return _positions(
            self.movies.index.to_numpy(dtype=np.int64),
            self.ratings["movieId"].to_numpy(dtype=np.int64),
        )

    @cached_property
    def rating_counts(self) -> pd.Series:
        """Number of ratings per movieId (0 for unrated movies)."""
        counts = np.bincount(self._columns, minlength=len(self.movies))
        return pd.Series(counts.astype(np.int64), index=self.movies.index, name="count")

    def with_ratings(self, ratings: pd.DataFrame, label: str) -> Dataset:
        """The same movies with other ratings (a training split, say), under a new fingerprint.

        ``label`` names the subset (e.g. "train seed=0 fold=1") and enters the fingerprint,
        so caches fitted on a split never mix with the full data's. A tag of a rating left out
        goes too (it would tell a plugin who watched what a split holds out).
        """
        tags = self.tags[~_pairs_left_out(self.tags, self.ratings, ratings)]
        digest = hashlib.sha256(f"{self.fingerprint}|{label}|{len(ratings)}|{len(tags)}".encode())
        digest.update(
            pd.util.hash_pandas_object(ratings[["userId", "movieId", "rating"]], index=False)
            .to_numpy()
            .tobytes()
        )
        return Dataset(
            movies=self.movies,
            ratings=ratings.reset_index(drop=True),
            tags=tags.reset_index(drop=True),
            fingerprint=digest.hexdigest()[:20],
            source=f"{self.source} [{label}]",
        )

    def __contains__(self, movie_id: object) -> bool:
        return movie_id in self.movies.index

    def movie(self, movie_id: int) -> pd.Series[Any]:
        """The row of :attr:`movies` for ``movie_id`` (KeyError for an unknown one)."""
        row = self.movies.loc[movie_id]
        if isinstance(row, pd.DataFrame):  # the index holds each movieId once (_build_movies)
            raise DataError(f"movieId {movie_id} appears {len(row)} times in movies.csv")
        return row

    def genres(self, movie_id: int) -> tuple[str, ...]:
        """The movie's genres (empty when movies.csv lists none)."""
        return tuple(str(g) for g in self.movie(movie_id)["genres"])

    def label(self, movie_id: int) -> str:
        """``"The Matrix (1999)"``: display name with year, for captions and tables."""
        row = self.movie(movie_id)
        name = str(row["name"])
        return f"{name} ({row['year']})" if pd.notna(row["year"]) else name

    def links(self, movie_id: int) -> dict[str, str]:
        """IMDb and TMDB pages of a movie, where links.csv knows them."""
        row = self.movie(movie_id)
        found = {}
        if pd.notna(row["imdb_id"]):
            found["IMDb"] = f"https://www.imdb.com/title/tt{int(row['imdb_id']):07d}/"
        if pd.notna(row["tmdb_id"]):
            found["TMDB"] = f"https://www.themoviedb.org/movie/{int(row['tmdb_id'])}"
        return found


def _pairs_left_out(tags: pd.DataFrame, before: pd.DataFrame, after: pd.DataFrame) -> np.ndarray:
    """Which tags' (user, movie) pairs are rated in ``before`` but not in ``after``."""
    if not len(tags):
        return np.zeros(0, dtype=bool)
    frames = (tags, before, after)
    width = 1 + max(int(f["movieId"].max()) for f in frames if len(f))

    def keys(frame: pd.DataFrame) -> np.ndarray:
        users = frame["userId"].to_numpy(dtype=np.int64)
        key: np.ndarray = users * width + frame["movieId"].to_numpy(dtype=np.int64)
        return key

    wanted = keys(tags)
    return np.isin(wanted, keys(before)) & ~np.isin(wanted, keys(after))


def load_dataset(source: str | Path, cache_dir: Path | None = None) -> Dataset:
    """Load a MovieLens folder or zip. Raises :class:`DataError` naming the file and line.

    With ``cache_dir``, ratings.csv is parsed once and its columns kept there, keyed by the
    file's hash (:mod:`reelpick.data.parsed`): a later load only hashes the file.
    """
    source = Path(source)
    files = _open_source(source)
    digest = hashlib.sha256()
    frames: dict[str, pd.DataFrame] = {}
    parsed_now: dict[str, bytes] = {}  # files parsed here (not loaded) and their hashes
    for name, schema in SCHEMAS.items():
        file = files.get(name)
        if file is None:
            if name in REQUIRED:
                raise DataError(
                    f"{source / name}: file not found (a MovieLens dataset needs {name})"
                )
            log.warning("%s: file not found; continuing without it", source / name)
            frames[name] = pd.DataFrame({c: pd.Series(dtype=t) for c, t in schema.items()})
            continue
        kept = cache_dir is not None and parsed.keeps(schema)
        frame = None
        if kept and cache_dir is not None:
            file_hash = file.sha256()
            frame = parsed.load(cache_dir, name, file_hash.hex(), schema)
        if frame is None:
            raw = file.read()
            # The hash of the very bytes parsed: the file may have changed since it was hashed.
            file_hash = hashlib.sha256(raw).digest()
            frame = _parse_csv(raw, source / name, schema)
            del raw
            parsed_now[name] = file_hash
        digest.update(name.encode() + b"\0" + file_hash)
        frames[name] = frame
    movies = _build_movies(frames["movies.csv"], frames["links.csv"], source)
    ratings = frames["ratings.csv"]
    # A kept copy passed the checks of the ratings alone when it was parsed; whether its
    # movies are in movies.csv depends on that file, checked every time.
    _check_ratings(ratings, movies, source / "ratings.csv", alone="ratings.csv" in parsed_now)
    if cache_dir is not None:
        for name, file_hash in parsed_now.items():
            if parsed.keeps(SCHEMAS[name]):
                parsed.save(cache_dir, name, file_hash.hex(), frames[name])
    return Dataset(
        movies=movies,
        ratings=ratings,
        tags=frames["tags.csv"],
        fingerprint=digest.hexdigest()[:20],
        source=str(source),
    )


def split_title(title: str) -> tuple[str, int | None]:
    """``"Matrix, The (1999)"`` -> ``("The Matrix", 1999)``; alternative titles are kept."""
    match = _YEAR.search(title)
    year = int(match.group(1)) if match else None
    body = title[: match.start()] if match else title.strip()
    primary, paren, rest = body.partition(" (")
    return move_article(primary) + (paren + rest if paren else ""), year


def move_article(name: str) -> str:
    """``"Matrix, The"`` -> ``"The Matrix"``; ``"Cité des enfants perdus, La"`` -> ``"La Cité..."``."""
    match = TRAILING_ARTICLE.match(name.strip())
    if not match:
        return name.strip()
    article = match.group("article")
    sep = "" if article.endswith("'") else " "
    return f"{article}{sep}{match.group('body')}"


@dataclass
class _SourceFile:
    """One file of a dataset: a folder's file, read when asked, or a zip member's bytes."""

    path: Path
    data: bytes | None = None

    def read(self) -> bytes:
        return self.data if self.data is not None else self.path.read_bytes()

    def sha256(self) -> bytes:
        """The hash of the file's bytes, without holding them all at once."""
        if self.data is not None:
            return hashlib.sha256(self.data).digest()
        hasher = hashlib.sha256()
        with self.path.open("rb") as stream:
            while block := stream.read(1 << 22):
                hasher.update(block)
        return hasher.digest()


def _open_source(source: Path) -> dict[str, _SourceFile]:
    if source.is_dir():
        return {p.name: _SourceFile(p) for p in source.iterdir() if p.name in SCHEMAS}
    if source.is_file() and zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            found: dict[str, str] = {}
            for member in archive.namelist():
                name = member.rsplit("/", 1)[-1]
                # The official zips hold one folder; take the shallowest copy of each file.
                if name in SCHEMAS and (
                    name not in found or member.count("/") < found[name].count("/")
                ):
                    found[name] = member
            try:
                return {
                    name: _SourceFile(source / member, archive.read(member))
                    for name, member in found.items()
                }
            except (zipfile.BadZipFile, OSError) as exc:
                raise DataError(f"{source}: damaged zip ({exc})") from None
    if source.exists():
        raise DataError(f"{source}: neither a MovieLens folder nor a zip file")
    raise DataError(f"{source}: not found (expected a MovieLens folder or zip)")


def _parse_csv(raw: bytes, path: Path, schema: dict[str, str]) -> pd.DataFrame:
    header = raw.split(b"\n", 1)[0].decode("utf-8", "replace").strip().lstrip("\ufeff")
    expected = ",".join(schema)
    if header.split(",") != list(schema):
        raise DataError(f"{path}: line 1: header is {header!r}, expected {expected!r}")
    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype=schema, keep_default_na=False, na_values=[""])
    except (ValueError, OverflowError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(_locate_bad_row(raw, path, schema, exc)) from None
    required = [c for c, t in schema.items() if t != "Int64"]
    missing = frame[required].isna().any(axis=1).to_numpy().nonzero()[0]
    if len(missing):
        row = int(missing[0])
        raise DataError(f"{path}: line {row + 2}: empty value in a required column")
    return frame


def _locate_bad_row(raw: bytes, path: Path, schema: dict[str, str], exc: Exception) -> str:
    """Find the first line that does not parse, to name it in the error.

    pandas' own messages are not used for the line: it reads in chunks, so the position in
    a UnicodeDecodeError is relative to a chunk, and a short row surfaces as a missing value.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as undecodable:
        line = raw[: undecodable.start].count(b"\n") + 1
        return f"{path}: line {line}: not valid UTF-8 (byte {raw[undecodable.start]:#04x})"
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    for row in reader:
        if row and len(row) != len(schema):
            return (
                f"{path}: line {reader.line_num}: wrong number of fields "
                f"({len(row)}, expected {len(schema)})"
            )
    frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    for column, dtype in schema.items():
        if dtype == "str":
            continue
        values = frame[column].str.strip()
        parsed = pd.to_numeric(values, errors="coerce")
        bad = (parsed.isna() & (values != "")).to_numpy().nonzero()[0]
        huge = np.array([], dtype=int)
        if dtype.lower().startswith("int"):
            fractional = ((parsed % 1) != 0) & parsed.notna()
            bad = np.union1d(bad, fractional.to_numpy().nonzero()[0]).astype(int)
            # int64 holds up to 2**63 - 1; a longer id would overflow while parsing.
            huge = (parsed.abs() >= 2.0**63).to_numpy().nonzero()[0]
        for rows, problem in ((bad, "expected a number"), (huge, "out of range")):
            if len(rows):
                first = int(rows[0])
                value = str(frame[column].iloc[first])
                shown = value if len(value) <= 40 else value[:40] + "..."
                return f"{path}: line {first + 2}: {column} is {shown!r}, {problem}"
    return f"{path}: could not be parsed ({type(exc).__name__}: {exc})"


def _build_movies(movies: pd.DataFrame, links: pd.DataFrame, source: Path) -> pd.DataFrame:
    duplicated = movies["movieId"].duplicated().to_numpy().nonzero()[0]
    if len(duplicated):
        row = int(duplicated[0])
        raise DataError(
            f"{source / 'movies.csv'}: line {row + 2}: movieId {movies['movieId'].iloc[row]} repeats"
        )
    names, years = (
        zip(*(split_title(t) for t in movies["title"]), strict=True) if len(movies) else ((), ())
    )
    frame = pd.DataFrame(
        {
            "title": movies["title"].to_numpy(dtype=object),
            "name": list(names),
            "year": pd.array(years, dtype="Int64"),
            "genres": [() if g == NO_GENRES else tuple(g.split("|")) for g in movies["genres"]],
        },
        index=pd.Index(movies["movieId"].to_numpy(dtype=np.int64), name="movieId"),
    ).sort_index()
    links = links.drop_duplicates("movieId").set_index("movieId")
    frame["imdb_id"] = links["imdbId"].reindex(frame.index).astype("Int64")
    frame["tmdb_id"] = links["tmdbId"].reindex(frame.index).astype("Int64")
    return frame


def _check_ratings(ratings: pd.DataFrame, movies: pd.DataFrame, path: Path, alone: bool) -> None:
    """Every rating is of a known movie; with ``alone``, also in range and given once."""
    checks: list[tuple[Callable[[], pd.Series], str]] = [
        (lambda: ~ratings["movieId"].isin(movies.index), "movieId {movieId} is not in movies.csv"),
    ]
    if alone:
        checks += [
            (lambda: ~ratings["rating"].between(0.5, 5.0), "rating {rating} is outside 0.5-5.0"),
            (lambda: _repeated_pairs(ratings), "user {userId} rated movie {movieId} twice"),
        ]
    for check, message in checks:
        rows = check().to_numpy().nonzero()[0]
        if len(rows):
            first = int(rows[0])
            values = {column: ratings[column].iloc[first] for column in ratings.columns}
            raise DataError(f"{path}: line {first + 2}: " + message.format(**values))


def _repeated_pairs(ratings: pd.DataFrame) -> pd.Series:
    """True on each (user, movie) row that an earlier row already has (like ``duplicated``,
    which takes seconds on tens of millions of rows). MovieLens files are sorted by user and
    movie, so strictly increasing keys settle it in one pass; otherwise one stable sort."""
    users = ratings["userId"].to_numpy(dtype=np.int64)
    movies = ratings["movieId"].to_numpy(dtype=np.int64)
    repeated = np.zeros(len(users), dtype=bool)
    if len(users) > 1:
        span = int(movies.max()) - int(movies.min()) + 1
        if (int(users.max()) - int(users.min()) + 1) * span >= 2**62:  # ids too far apart
            return ratings.duplicated(["userId", "movieId"])
        key = (users - users.min()) * span + (movies - movies.min())
        if not np.all(key[1:] > key[:-1]):
            order = np.argsort(key, kind="stable")
            ordered = key[order]
            repeated[order[1:][ordered[1:] == ordered[:-1]]] = True
    return pd.Series(repeated, index=ratings.index)


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)``, in one pass for ids that are small
    non-negative integers (a table as long as the largest id; a sort otherwise)."""
    if len(values) and values.min() >= 0 and values.max() < 4 * len(values) + 1024:
        present = np.zeros(int(values.max()) + 1, dtype=bool)
        present[values] = True
        code = np.cumsum(present) - 1
        return np.flatnonzero(present).astype(values.dtype), code[values]
    ids, inverse = np.unique(values, return_inverse=True)
    return ids, inverse.ravel()


def _positions(sorted_ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Positions of ``values`` (all present) in the sorted ``sorted_ids``: a table lookup for
    small non-negative ids, a binary search otherwise."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    top = int(sorted_ids.max(initial=0))
    if sorted_ids.min(initial=0) >= 0 and top < 4 * (len(values) + len(sorted_ids)) + 1024:
        table = np.zeros(top + 1, dtype=np.int64)
        table[sorted_ids] = np.arange(len(sorted_ids))
        found: np.ndarray = table[values]
        return found
    return np.searchsorted(sorted_ids, values)
