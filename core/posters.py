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

import argparse
import colorsys
import hashlib
import io
import logging
import os
import sys
import threading
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from .config import Config, expand
from .data import Dataset

if TYPE_CHECKING:
    import diskcache

    from .tmdb import TMDBClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Poster:
    """Image bytes ready to send, and where they came from."""

    movie_id: int
    data: bytes
    placeholder: bool  # rendered by reelpick: image models must skip it
    source: str  # "folder" | "tmdb" | "placeholder"
    content_hash: str  # sha256 hex of data

    @classmethod
    def of(cls, movie_id: int, data: bytes, source: str) -> Poster:
        return cls(
            movie_id=movie_id,
            data=data,
            placeholder=source == "placeholder",
            source=source,
            content_hash=hashlib.sha256(data).hexdigest(),
        )


class BadImage(ValueError):
    """Image bytes that must not be stored or shown (the message says why)."""


def check_image(data: bytes, max_bytes: int, max_pixels: int) -> tuple[int, int]:
    """Raise :class:`BadImage` unless ``data`` is a whole, decodable, reasonably sized image.

    The pixel count is read from the header before anything is decoded, so a decompression
    bomb (a small file declaring a huge image) is refused without allocating it.
    """
    if len(data) > max_bytes:
        raise BadImage(f"{len(data):,} bytes is over the {max_bytes:,}-byte limit")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise BadImage(f"{width}x{height} is over the {max_pixels:,}-pixel limit")
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
    except BadImage:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise BadImage(f"over the pixel limit, a decompression bomb ({exc})") from None
    except Exception as exc:
        # Pillow raises OSError, SyntaxError, ValueError, ... for broken files.
        raise BadImage(f"not a decodable image ({type(exc).__name__}: {exc})") from None
    return width, height


@dataclass(frozen=True)
class Outcome:
    """Result of one TMDB attempt: ``fetched``, ``missing`` (TMDB has none) or ``failed``."""

    status: str
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
        self._client: TMDBClient | None | bool = False  # False: not looked up yet
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
                    poster = Poster.of(movie_id, data, "folder")
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
        entry = self.cache.get(_key(movie_id, size))
        if entry is not None:
            return Poster.of(movie_id, entry["data"], "tmdb")
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
                import diskcache

                self.cache_path.mkdir(parents=True, exist_ok=True)
                self._cache = diskcache.Cache(str(self.cache_path))
            return self._cache

    @property
    def client(self) -> TMDBClient | None:
        """The TMDB client, or None when no key is set (then only folder and cache are used)."""
        with self._open_lock:
            if self._client is False:
                from .tmdb import TMDBClient

                self._client = TMDBClient.from_config(self.config)
            return self._client

    def placeholder(self, movie_id: int) -> Poster:
        """A rendered stand-in poster: title, year and genres on a genre-coloured card."""
        if movie_id in self.dataset:
            row = self.dataset.movies.loc[movie_id]
            year = int(row["year"]) if pd.notna(row["year"]) else None
            data = render_placeholder(str(row["name"]), year, tuple(row["genres"]))
        else:
            data = render_placeholder(f"Movie {movie_id}", None, ())
        return Poster.of(movie_id, data, "placeholder")

    def has(self, movie_id: int, size: str | None = None) -> bool:
        """A real poster is on disk (folder or cache) for this movie and size."""
        size = size or self.settings["size"]
        if self.folder is not None and (self.folder / f"{int(movie_id)}.jpg").is_file():
            return True
        return _key(movie_id, size) in self.cache

    def known_missing(self, movie_id: int) -> str | None:
        """Why TMDB has no poster for this movie, if that was learnt recently; else None."""
        entry = self.cache.get(_missing_key(movie_id))
        return entry["reason"] if entry else None

    def fetch(self, movie_id: int, size: str | None = None) -> Outcome:
        """Ask TMDB for this movie's poster and store it. Never raises for TMDB trouble."""
        from .tmdb import AuthError, TMDBError, TMDBNotFound

        size = size or self.settings["size"]
        client = self.client
        if client is None:
            return Outcome("failed", "no TMDB key (set TMDB_API_KEY or TMDB_READ_TOKEN)")
        if movie_id not in self.dataset:
            return Outcome("missing", f"movie {movie_id} is not in the dataset")
        reason = self.known_missing(movie_id)
        if reason is not None:
            return Outcome("missing", reason)
        row = self.dataset.movies.loc[movie_id]
        tmdb_id = int(row["tmdb_id"]) if pd.notna(row["tmdb_id"]) else None
        imdb_id = int(row["imdb_id"]) if pd.notna(row["imdb_id"]) else None
        try:
            path = client.poster_path(tmdb_id, imdb_id)
            image = client.image(path, size)
            check_image(image.data, self.settings["max_bytes"], self.settings["max_pixels"])
        except TMDBNotFound as exc:
            self.cache.set(
                _missing_key(movie_id),
                {"reason": str(exc), "at": time.time()},
                expire=self.settings["failure_ttl_hours"] * 3600,
            )
            log.info("movie %s has no TMDB poster: %s", movie_id, exc)
            return Outcome("missing", str(exc))
        except AuthError as exc:
            self._pause(None, exc)
            return Outcome("failed", str(exc), fatal=True)
        except TMDBError as exc:
            self._pause(None if exc.outage else movie_id, exc)
            return Outcome("failed", str(exc))
        except BadImage as exc:
            self._pause(movie_id, f"bad image: {exc}")
            return Outcome("failed", f"bad image: {exc}")
        self.cache.set(
            _key(movie_id, size),
            {"data": image.data, "tmdb_path": path, "fetched_at": time.time()},
        )
        return Outcome("fetched", poster=Poster.of(movie_id, image.data, "tmdb"))

    def entry(self, movie_id: int, size: str | None = None) -> dict | None:
        """The raw cache entry (data, tmdb_path, fetched_at) of a fetched poster."""
        return self.cache.get(_key(movie_id, size or self.settings["size"]))

    def close(self) -> None:
        with self._open_lock:
            if self._cache is not None:
                self._cache.close()
                self._cache = None
            if self._client:
                self._client.close()
            self._client = False

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


def _key(movie_id: int, size: str) -> str:
    return f"{int(movie_id)}/{size}"


def _missing_key(movie_id: int) -> str:
    return f"missing/{int(movie_id)}"


# -- placeholders -----------------------------------------------------------------------

PLACEHOLDER_SIZE = (400, 600)  # 2:3, like a poster

# Hues (0-360) per MovieLens genre; the card blends the movie's first two genres.
GENRE_HUES = {
    "Action": 5,
    "Adventure": 28,
    "Animation": 45,
    "Children": 95,
    "Comedy": 50,
    "Crime": 215,
    "Documentary": 170,
    "Drama": 265,
    "Fantasy": 285,
    "Film-Noir": 230,
    "Horror": 350,
    "IMAX": 195,
    "Musical": 320,
    "Mystery": 250,
    "Romance": 335,
    "Sci-Fi": 190,
    "Thriller": 200,
    "War": 75,
    "Western": 22,
}
FONT_FILES = {
    True: ["DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"],
    False: ["DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"],
}


@lru_cache(maxsize=64)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans where installed, else Pillow's built-in scalable font."""
    for name in FONT_FILES[bold]:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def genre_colours(genres: tuple[str, ...]) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Top and bottom colours of a placeholder: dark enough for white text, hue from genres."""
    hues = [GENRE_HUES[g] for g in genres if g in GENRE_HUES] or [210]
    first = hues[0]
    second = hues[1] if len(hues) > 1 else (first + 25) % 360
    saturation = 0.55 if genres else 0.12

    def rgb(hue: float, lightness: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hls_to_rgb(hue / 360, lightness, saturation)
        return int(r * 255), int(g * 255), int(b * 255)

    return rgb(first, 0.36), rgb(second, 0.16)


def wrap(text: str, face: Any, width: int) -> list[str]:
    """Greedy word wrap to ``width`` pixels; words longer than a line are cut."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        while face.getlength(word) > width:  # a single over-long word
            cut = max(
                1, next(i for i in range(len(word), 0, -1) if face.getlength(word[:i]) <= width)
            )
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:cut])
            word = word[cut:]
        candidate = f"{line} {word}".strip()
        if face.getlength(candidate) <= width:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


@lru_cache(maxsize=512)
def render_placeholder(title: str, year: int | None, genres: tuple[str, ...]) -> bytes:
    """A clean 2:3 card (PNG): title wrapped large, year below, genres at the foot."""
    width, height = PLACEHOLDER_SIZE
    top, bottom = genre_colours(genres)
    # A vertical gradient, built as a 1-pixel-wide strip and stretched.
    strip = Image.new("RGB", (1, height))
    for y in range(height):
        t = y / (height - 1)
        strip.putpixel(
            (0, y), tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        )
    image = strip.resize((width, height))
    draw = ImageDraw.Draw(image)
    margin = 30
    inner = width - 2 * margin
    draw.rectangle(
        (12, 12, width - 13, height - 13), outline=(255, 255, 255, 90), width=2
    )  # a thin frame

    genre_face = font(20)
    genre_lines = wrap("  ·  ".join(genres) if genres else "genre unknown", genre_face, inner)[:3]
    genre_top = height - 50 - 26 * len(genre_lines)

    # MovieLens keeps alternative titles in parentheses: "Porco Rosso (Crimson Pig) (...)".
    main, paren, alternative = title.partition(" (")
    alt_face = font(20)
    alt_lines = wrap(paren.strip() + alternative, alt_face, inner)[:3] if paren else []
    # The largest title size for which title, alternative title and year fit above the genres.
    room = genre_top - 20 - 90 - len(alt_lines) * 25 - (42 if year is not None else 0)
    for size in (46, 42, 38, 34, 30, 27, 24, 21, 18, 16):
        face = font(size, bold=True)
        lines = wrap(main, face, inner)
        if len(lines) * int(size * 1.2) <= room:
            break
    lines = lines[: max(1, room // int(size * 1.2))]
    y = 90
    for line in lines:
        draw.text((margin, y), line, font=face, fill=(255, 255, 255))
        y += int(size * 1.2)
    for line in alt_lines:
        draw.text((margin, y + 4), line, font=alt_face, fill=(225, 225, 225))
        y += 25
    if year is not None:
        y += 14
        draw.text((margin, y), str(year), font=font(28), fill=(235, 235, 235))
    accent = tuple(min(255, c + 120) for c in top)
    draw.line((margin, 70, margin + 60, 70), fill=accent, width=5)

    y = genre_top
    for line in genre_lines:
        draw.text((margin, y), line, font=genre_face, fill=(225, 225, 225))
        y += 26
    draw.text((margin, height - 44), "no poster available", font=font(15), fill=(190, 190, 190))

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


# -- reelpick posters fetch -------------------------------------------------------------


def fetch_cli(config: Config, args: argparse.Namespace) -> int:
    """``reelpick posters fetch [--limit N] [--size S]``: fill the cache, most-rated movies
    first. Resumable: posters already on disk and movies known to have none are skipped."""
    from tqdm import tqdm

    from .app import data_path
    from .data import load_dataset
    from .tmdb import TMDBError

    dataset = load_dataset(data_path(config))
    store = PosterStore(config, dataset)
    client = store.client
    if client is None:
        print(
            "reelpick: posters fetch needs a TMDB key: set TMDB_API_KEY (or TMDB_READ_TOKEN)",
            file=sys.stderr,
        )
        return 1
    size = args.size or store.settings["size"]
    try:
        sizes = client.poster_sizes()
    except TMDBError as exc:
        print(f"reelpick: TMDB is not usable: {exc}", file=sys.stderr)
        return 1
    if size not in sizes:
        print(
            f"reelpick: unknown poster size {size!r}; TMDB offers {', '.join(sizes)}",
            file=sys.stderr,
        )
        return 1
    if args.limit is not None and args.limit < 0:
        print("reelpick: --limit must be 0 or more", file=sys.stderr)
        return 1

    order = dataset.rating_counts.sort_values(ascending=False, kind="stable").index.tolist()
    if args.limit is not None:
        order = order[: args.limit]
    have = {m for m in order if store.has(m, size)}
    known_missing = {m for m in order if m not in have and store.known_missing(m)}
    todo = [m for m in order if m not in have and m not in known_missing]
    counts = {"fetched": 0, "missing": 0, "failed": 0}
    started = time.perf_counter()
    auth_failure: str | None = None

    def summary(prefix: str = "") -> str:
        seconds = time.perf_counter() - started
        rate = counts["fetched"] / seconds if seconds > 0 else 0.0
        return (
            f"{prefix}posters {size}: fetched {counts['fetched']}, missing {counts['missing']}, "
            f"failed {counts['failed']}, already had {len(have)}, "
            f"known missing {len(known_missing)} ({seconds:.1f} s, {rate:.1f} posters/s); "
            f"cache: {store.cache_path}"
        )

    # Bounded concurrency: at most `concurrency` movies in flight, submitted as slots free up
    # so that an interrupt leaves nothing queued.
    workers = max(1, int(store.settings["concurrency"]))
    try:
        with (
            ThreadPoolExecutor(max_workers=workers) as pool,
            tqdm(total=len(todo), unit="poster", desc=f"posters {size}") as bar,
        ):
            pending: set[Future] = set()
            queue = iter(todo)
            try:
                while True:
                    while len(pending) < workers * 2 and auth_failure is None:
                        movie_id = next(queue, None)
                        if movie_id is None:
                            break
                        pending.add(pool.submit(store.fetch, movie_id, size))
                    if not pending:
                        break
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        outcome = future.result()
                        counts[outcome.status] += 1
                        if outcome.fatal and auth_failure is None:
                            auth_failure = outcome.reason
                        bar.update(1)
                        bar.set_postfix(counts, refresh=False)
            except KeyboardInterrupt:
                for future in pending:
                    future.cancel()  # the ones running finish; each stored poster is kept
                raise
    except KeyboardInterrupt:
        print(summary("interrupted, run again to resume: "))
        store.close()
        raise
    print(summary())
    store.close()
    if auth_failure:
        print(f"reelpick: stopped: {auth_failure}", file=sys.stderr)
        return 1
    return 1 if counts["failed"] else 0
