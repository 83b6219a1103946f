"""Movie posters: an offline folder, an on-disk cache filled from TMDB, and rendered placeholders.

:meth:`PosterStore.get` always answers: a real poster when one is at hand or can be fetched,
otherwise a placeholder drawn with Pillow (marked ``placeholder=True`` so that image models
skip it). Network, API and image problems are logged, never raised.

The cache (diskcache, under ``<cache>/posters``) holds one entry per movie and size with the
image bytes, the TMDB path and the fetch time. A movie TMDB has no poster for is remembered
for ``posters.failure_ttl_hours``; transient failures (timeouts, 5xx, 429, a broken image)
are not written to disk, only paused in memory for ``posters.failure_pause_seconds``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..cache import open_diskcache, read_cached
from ..catalogue.models import is_catalogue_id
from ..catalogue.reader import CatalogueReader
from ..config import Config, expand
from ..data import Dataset
from ..types import NewMovie
from .images import BadImage, check_image
from .placeholder import render_placeholder

if TYPE_CHECKING:
    import diskcache

    from .tmdb import TMDBClient

log = logging.getLogger(__name__)


class PosterSource(StrEnum):
    """Where a poster's bytes came from."""

    FOLDER = "folder"  # the offline posters folder
    TMDB = "tmdb"  # downloaded from TMDB (now or earlier, from the disk cache)
    PLACEHOLDER = "placeholder"  # rendered by reelpick


class FetchStatus(StrEnum):
    """How one TMDB attempt ended."""

    FETCHED = "fetched"
    MISSING = "missing"  # TMDB has no poster for the movie
    FAILED = "failed"


@dataclass(frozen=True)
class Poster:
    """Image bytes ready to send, and where they came from."""

    movie_id: int
    data: bytes
    placeholder: bool  # rendered by reelpick: image models must skip it
    source: PosterSource
    content_hash: str  # sha256 hex of data

    @classmethod
    def of(cls, movie_id: int, data: bytes, source: PosterSource) -> Poster:
        return cls(
            movie_id=movie_id,
            data=data,
            placeholder=source == PosterSource.PLACEHOLDER,
            source=source,
            content_hash=hashlib.sha256(data).hexdigest(),
        )


@dataclass(frozen=True)
class Outcome:
    """Result of one TMDB attempt."""

    status: FetchStatus
    reason: str = ""
    poster: Poster | None = None
    fatal: bool = False  # TMDB refused the key: no point asking about other movies


class PosterStore:
    """Posters for one dataset: folder, then disk cache, then TMDB, then a placeholder."""

    def __init__(self, config: Config, dataset: Dataset) -> None:
        self.config = config
        self.dataset = dataset
        self.settings: dict[str, Any] = config.section("posters")
        folder = self.settings.get("dir") or ""
        self.folder: Path | None = expand(folder, config.path) if folder else None
        self.cache_path = config.cache_dir / "posters"
        self._lock = threading.Lock()
        self._open_lock = threading.Lock()
        self._cache: diskcache.Cache | None = None
        self._client: TMDBClient | None = None  # None also when no key is set
        self._client_looked_up = False
        self._catalogue: CatalogueReader | None = None  # catalogue movies' rows, opened on use
        self._paused_until: float = 0.0  # TMDB as a whole (outage, rejected key)
        self._movie_paused_until: dict[int, float] = {}

    # -- public interface ---------------------------------------------------------------

    def local(self, movie_id: int, size: str | None = None) -> Poster | None:
        """A real poster without any network: from posters.dir (<movieId>.jpg) or the disk cache."""
        size = size or self.settings["size"]
        if self.folder is not None:
            file = self.folder / f"{int(movie_id)}.jpg"
            if file.is_file():
                try:
                    data = file.read_bytes()
                    poster = Poster.of(movie_id, data, PosterSource.FOLDER)
                    # Decoding every file on every call is what made a warm VGG16 fit slow:
                    # remember which file contents already passed the check.
                    checked = (
                        "checked",
                        poster.content_hash,
                        self.settings["max_bytes"],
                        self.settings["max_pixels"],
                    )
                    if checked not in self.cache:
                        check_image(data, self.settings["max_bytes"], self.settings["max_pixels"])
                        self.cache.set(checked, True)
                    return poster
                except (OSError, BadImage) as exc:
                    log.warning("poster file %s is unusable: %s", file, exc)
        entry = self.entry(movie_id, size)
        if entry is not None:
            return Poster.of(movie_id, entry["data"], PosterSource.TMDB)
        return None

    def local_ids(self, size: str | None = None) -> set[int]:
        """Movie ids with a real poster on disk (folder or cache): one listing, no decoding.

        Lets a caller skip the movies with no poster without a lookup per movie.
        """
        size = size or self.settings["size"]
        found: set[int] = set()
        if self.folder is not None and self.folder.is_dir():
            for entry in os.scandir(self.folder):
                stem, dot, extension = entry.name.partition(".")
                if dot and extension == "jpg" and stem.isdigit():
                    found.add(int(stem))
        suffix = f"/{size}"
        for key in self.cache.iterkeys():
            if isinstance(key, str) and key.endswith(suffix) and key[: -len(suffix)].isdigit():
                found.add(int(key[: -len(suffix)]))
        return found

    def get(self, movie_id: int, size: str | None = None) -> Poster:
        """Always a Poster: local, else fetched from TMDB (key set, not known missing, not
        paused after a failure), else a rendered placeholder. Never raises for network, API
        or image problems: they are logged."""
        size = size or self.settings["size"]
        try:
            if is_catalogue_id(movie_id):
                return self._catalogue_poster(movie_id, size)
            found = self.local(movie_id, size)
            if found is not None:
                return found
            if self._may_ask_tmdb(movie_id):
                outcome = self.fetch(movie_id, size)
                if outcome.poster is not None:
                    return outcome.poster
        except Exception:  # a poster must never break an answer
            log.exception("poster for movie %s failed; using a placeholder", movie_id)
        return self.placeholder(movie_id)

    # -- the rest -----------------------------------------------------------------------

    @property
    def cache(self) -> diskcache.Cache:
        """The on-disk cache, opened on first use (by whichever thread comes first)."""
        with self._open_lock:
            if self._cache is None:
                self._cache = open_diskcache(self.cache_path)
            return self._cache

    @property
    def client(self) -> TMDBClient | None:
        """The TMDB client, or None when no key is set (then only folder and cache are used)."""
        with self._open_lock:
            if not self._client_looked_up:
                from .tmdb import TMDBClient

                self._client = TMDBClient.from_config(self.config)
                self._client_looked_up = True
            return self._client

    def _catalogue_poster(self, movie_id: int, size: str) -> Poster:
        """A catalogue movie's poster (:meth:`new_movie`), else a placeholder with its title."""
        with self._open_lock:
            if self._catalogue is None:
                self._catalogue = CatalogueReader(self.config)
            movie = self._catalogue.movie(movie_id)
        if movie is None:
            return self.placeholder(movie_id)
        found = self.new_movie(movie, size)
        if found is not None:
            return found
        data = render_placeholder(movie.title, None, movie.genres)  # the title has the year
        return Poster.of(movie_id, data, PosterSource.PLACEHOLDER)

    def placeholder(self, movie_id: int) -> Poster:
        """A rendered stand-in poster: title, year and genres on a genre-coloured card."""
        if movie_id in self.dataset:
            row = self.dataset.movie(movie_id)
            year = int(row["year"]) if pd.notna(row["year"]) else None
            data = render_placeholder(str(row["name"]), year, tuple(row["genres"]))
        else:
            data = render_placeholder(f"Movie {movie_id}", None, ())
        return Poster.of(movie_id, data, PosterSource.PLACEHOLDER)

    def has(self, movie_id: int, size: str | None = None) -> bool:
        """A real poster is on disk (folder or cache) for this movie and size."""
        size = size or self.settings["size"]
        if self.folder is not None and (self.folder / f"{int(movie_id)}.jpg").is_file():
            return True
        return self.entry(movie_id, size) is not None

    def known_missing(self, movie_id: int) -> str | None:
        """Why TMDB has no poster for this movie, if that was learnt recently; else None."""
        entry = read_cached(self.cache, _missing_key(movie_id), _is_missing_entry)
        return entry["reason"] if entry else None

    def fetch(self, movie_id: int, size: str | None = None) -> Outcome:
        """Ask TMDB for this movie's poster and store it. Never raises for TMDB trouble."""
        size = size or self.settings["size"]
        client = self.client
        if client is None:
            return Outcome(FetchStatus.FAILED, "no TMDB key (set TMDB_API_KEY or TMDB_READ_TOKEN)")
        if movie_id not in self.dataset:
            return Outcome(FetchStatus.MISSING, f"movie {movie_id} is not in the dataset")
        reason = self.known_missing(movie_id)
        if reason is not None:
            return Outcome(FetchStatus.MISSING, reason)
        row = self.dataset.movie(movie_id)
        tmdb_id = int(row["tmdb_id"]) if pd.notna(row["tmdb_id"]) else None
        imdb_id = int(row["imdb_id"]) if pd.notna(row["imdb_id"]) else None
        return self._download(movie_id, size, lambda: client.poster_path(tmdb_id, imdb_id))

    def new_movie(
        self, movie: NewMovie, size: str | None = None, *, fetch: bool = True
    ) -> Poster | None:
        """The real poster of a movie outside the dataset (a catalogue movie), or None: from
        the disk cache (keyed by its movie id, which no dataset movie shares), else (with
        ``fetch``) fetched from TMDB by its ``poster_path`` (or its TMDB id) and cached. Never
        a placeholder; never raises for TMDB or image trouble (it is logged)."""
        size = size or self.settings["size"]
        try:
            entry = self.entry(movie.movie_id, size)
            # A poster TMDB has since replaced (a new poster_path) is fetched again.
            fresh = (
                not movie.poster_path
                or entry is None
                or entry.get("tmdb_path")
                in (
                    None,
                    movie.poster_path,
                )
            )
            if entry is not None and fresh:
                return Poster.of(movie.movie_id, entry["data"], PosterSource.TMDB)
            if not fetch:
                return None
            client = self.client
            if client is None or not self._may_ask_tmdb(movie.movie_id):
                return None
            if self.known_missing(movie.movie_id) is not None:
                return None
            path, tmdb_id = movie.poster_path, movie.tmdb_id
            if not path and tmdb_id is None:
                return None
            outcome = self._download(
                movie.movie_id, size, lambda: path or client.poster_path(tmdb_id, None)
            )
            return outcome.poster
        except Exception:  # a poster must never break an answer
            log.exception("poster of catalogue movie %s failed", movie.movie_id)
            return None

    def _download(self, movie_id: int, size: str, find_path: Callable[[], str]) -> Outcome:
        """Find the poster's path, download and check the image, cache it."""
        from .tmdb import AuthError, TMDBError, TMDBNotFound

        client = self.client
        if client is None:
            return Outcome(FetchStatus.FAILED, "no TMDB key (set TMDB_API_KEY or TMDB_READ_TOKEN)")
        try:
            path = find_path()
            image = client.image(path, size)
            check_image(image.data, self.settings["max_bytes"], self.settings["max_pixels"])
        except TMDBNotFound as exc:
            self.cache.set(
                _missing_key(movie_id),
                {"reason": str(exc), "at": time.time()},
                expire=self.settings["failure_ttl_hours"] * 3600,
            )
            log.info("movie %s has no TMDB poster: %s", movie_id, exc)
            return Outcome(FetchStatus.MISSING, str(exc))
        except AuthError as exc:
            self._pause(None, exc)
            return Outcome(FetchStatus.FAILED, str(exc), fatal=True)
        except TMDBError as exc:
            self._pause(None if exc.outage else movie_id, exc)
            return Outcome(FetchStatus.FAILED, str(exc))
        except BadImage as exc:
            self._pause(movie_id, f"bad image: {exc}")
            return Outcome(FetchStatus.FAILED, f"bad image: {exc}")
        self.cache.set(
            _key(movie_id, size),
            {
                "data": image.data,
                "tmdb_path": path,
                "fetched_at": time.time(),
                "sha256": hashlib.sha256(image.data).hexdigest(),
            },
        )
        return Outcome(
            FetchStatus.FETCHED, poster=Poster.of(movie_id, image.data, PosterSource.TMDB)
        )

    def entry(self, movie_id: int, size: str | None = None) -> dict[str, Any] | None:
        """The raw cache entry (data, tmdb_path, fetched_at, sha256) of a fetched poster, or
        None; a damaged entry is deleted and reads as absent, so it is fetched again."""
        return read_cached(
            self.cache, _key(movie_id, size or self.settings["size"]), _is_poster_entry
        )

    def close(self) -> None:
        with self._open_lock:
            if self._cache is not None:
                self._cache.close()
                self._cache = None
            if self._client is not None:
                self._client.close()
            self._client = None
            self._client_looked_up = False
            if self._catalogue is not None:
                self._catalogue.close()
                self._catalogue = None

    def __enter__(self) -> PosterStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _may_ask_tmdb(self, movie_id: int) -> bool:
        if self.client is None:
            return False
        now = time.monotonic()
        with self._lock:
            return now >= self._paused_until and now >= self._movie_paused_until.get(movie_id, 0)

    def _pause(self, movie_id: int | None, exc: object) -> None:
        """After a failure, leave TMDB (or this movie) alone for a while instead of waiting
        on it for every query; nothing is written to disk, so a later try starts afresh."""
        seconds = self.settings["failure_pause_seconds"]
        until = time.monotonic() + seconds
        with self._lock:
            if movie_id is None:
                first = self._paused_until < time.monotonic()
                self._paused_until = until
            else:
                first = True
                self._movie_paused_until[movie_id] = until
        if first:
            what = "TMDB" if movie_id is None else f"TMDB for movie {movie_id}"
            log.warning("%s failed (%s); not asking %s again for %.0f s", what, exc, what, seconds)


def _is_poster_entry(entry: object) -> bool:
    """A fetched poster as :meth:`PosterStore.fetch` writes it (entries written before the
    sha256 field existed are accepted without the check)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("data"), bytes) or not entry["data"]:
        return False
    digest = entry.get("sha256")
    return digest is None or digest == hashlib.sha256(entry["data"]).hexdigest()


def _is_missing_entry(entry: object) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("reason"), str)


def _key(movie_id: int, size: str) -> str:
    return f"{int(movie_id)}/{size}"


def _missing_key(movie_id: int) -> str:
    return f"missing/{int(movie_id)}"
