"""A TMDB-compatible HTTP server on 127.0.0.1, run in a thread, for tests and benchmarks.

It speaks the parts of TMDB API v3 reelpick uses (``/3/configuration``, ``/3/movie/{id}``
with ``append_to_response``, ``/3/find/{external_id}``, ``/3/search/movie``,
``/3/discover/movie``, ``/3/movie/now_playing``, ``/3/movie/upcoming``, ``/3/movie/changes``,
``/3/movie/{id}/recommendations``, ``/3/movie/{id}/watch/providers``,
``/3/watch/providers/movie``) with JSON shaped like TMDB's, checks the key (``api_key`` query
parameter or ``Authorization: Bearer``) like TMDB does, and serves images under
``/t/p/{size}/{path}`` from the real posters in ``../shared/data/posters``.

Besides the dataset's movies (those with a poster in the shared folder) it knows movies the
dataset does not: :data:`EXTRA_MOVIES` (a made-up 2025 film that exists only here, and
"Dune: Part Two"), and any number of synthetic recent releases (:meth:`TMDBServer.add_synthetic`)
for the catalogue sync. With ``max_per_second`` it answers 429 past that rate, like TMDB.

Faults can be switched on, for a number of requests or until cleared::

    with TMDBServer() as server:
        server.fault("server_error", times=2)      # the next two API calls answer 500
        server.fault("truncated")                  # every image is cut in half
        server.clear()
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import os
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

REPO = Path(__file__).resolve().parents[2]
POSTERS = Path(os.environ.get("REELPICK_SHARED", REPO.parent / "shared")) / "data" / "posters"

API_KEY = "0123456789abcdef0123456789abcdef"  # 32 hex digits, like a real v3 key
READ_TOKEN = "eyJhbGciOiJIUzI1NiJ9.test-read-token.c2lnbmF0dXJl"

POSTER_SIZES = ["w92", "w154", "w185", "w342", "w500", "w780", "original"]

# TMDB's real error bodies.
ERRORS = {
    401: {
        "status_code": 7,
        "status_message": "Invalid API key: You must be granted a valid key.",
        "success": False,
    },
    404: {
        "success": False,
        "status_code": 34,
        "status_message": "The resource you requested could not be found.",
    },
    429: {
        "status_code": 25,
        "status_message": "Your request count (41) is over the allowed limit of (40).",
        "success": False,
    },
    500: {
        "status_code": 11,
        "status_message": "Internal error: Something went wrong, contact TMDB.",
        "success": False,
    },
}

PAGE_SIZE = 20  # TMDB's page size for every list
MAX_PAGES = 500  # TMDB never serves a page past 500

# TMDB genre ids -> names (a subset of /genre/movie/list).
GENRES = {
    28: "Action", 12: "Adventure", 16: "Animation", 35: "Comedy", 80: "Crime",
    18: "Drama", 10751: "Family", 14: "Fantasy", 27: "Horror", 10402: "Music",
    9648: "Mystery", 10749: "Romance", 878: "Science Fiction", 53: "Thriller",
    36: "History", 10752: "War", 37: "Western", 99: "Documentary",
}  # fmt: skip

# Streaming services per region, in TMDB's display order.
PROVIDERS = {
    "US": ["Netflix", "Amazon Prime Video", "Max", "Disney Plus", "Apple TV", "Google Play Movies"],
    "DE": ["Netflix", "Amazon Prime Video", "Disney Plus", "WOW", "Apple TV"],
    "FR": ["Netflix", "Canal+", "Disney Plus", "Apple TV"],
}

MADE_UP_ID = 1_299_001  # "Saltwater Atlas" (2025): a film that exists only on this server
DUNE_PART_TWO = 693134

# Movies the dataset does not have: (id, title, original title, date, genre ids, directors,
# cast, overview, poster of this dataset tmdb id, German title)
EXTRA_MOVIES = [
    (
        MADE_UP_ID, "Saltwater Atlas", "Saltwater Atlas", "2025-03-14", [18, 878],
        ["Mira Okafor"], ["Lena Vasquez", "Tomas Reyes", "Ada Lindqvist", "Kenji Mori"],
        "A cartographer maps a coastline that redraws itself every night.", 603,
        "Salzwasser-Atlas",
    ),
    (
        DUNE_PART_TWO, "Dune: Part Two", "Dune: Part Two", "2024-02-27", [878, 12],
        ["Denis Villeneuve"], ["Timothée Chalamet", "Zendaya", "Rebecca Ferguson"],
        "Paul Atreides unites with Chani and the Fremen.", 841, "Dune: Teil Zwei",
    ),
]  # fmt: skip

API_FAULTS = {"bad_key", "not_found", "rate_limit", "server_error", "slow", "gzip_bomb"}
IMAGE_FAULTS = {"truncated", "not_image", "garbage", "huge", "slow_image"}


def poster_path(tmdb_id: int) -> str:
    """A stable TMDB-looking poster path: "/" + 27 letters and digits + ".jpg"."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    number = int.from_bytes(hashlib.sha256(str(tmdb_id).encode()).digest(), "big")
    chars = []
    for _ in range(27):
        number, digit = divmod(number, 62)
        chars.append(alphabet[digit])
    return "/" + "".join(chars) + ".jpg"


_huge_png: bytes | None = None


def gzip_bomb() -> bytes:
    """A gzip body of ~20 kB that inflates to 20 MB of JSON (one long string)."""
    global _gzip_bomb
    if _gzip_bomb is None:
        import gzip

        inflated = b'{"padding": "' + b" " * (20 << 20) + b'"}'
        _gzip_bomb = gzip.compress(inflated, compresslevel=9)
    return _gzip_bomb


_gzip_bomb: bytes | None = None


def huge_png() -> bytes:
    """A valid 12000x12000 PNG of a few kilobytes: a decompression bomb (144 Mpixels)."""
    global _huge_png
    if _huge_png is None:
        from PIL import Image

        out = io.BytesIO()
        Image.new("1", (12000, 12000)).save(out, format="PNG")
        _huge_png = out.getvalue()
    return _huge_png


class _QuietServer(ThreadingHTTPServer):
    request_queue_size = 1024  # socketserver's 5 resets a burst of new connections, TMDB does not

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gave up on a slow response (the timeout tests) resets its connection.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class TMDBServer:
    """The server and its switches. ``hits`` counts requests by kind (configuration, movie,
    find, image, and ``unauthorized``); ``log`` keeps (method, path, status)."""

    def __init__(
        self,
        posters: Path = POSTERS,
        api_key: str = API_KEY,
        read_token: str = READ_TOKEN,
        retry_after: int = 1,
        delay: float = 1.0,
        today: datetime.date | None = None,
        max_per_second: float = 0.0,
    ) -> None:
        self.posters = Path(posters)
        self.api_key = api_key
        self.read_token = read_token
        self.retry_after = retry_after
        self.delay = delay  # how long "slow" faults sleep
        self.movies: dict[int, dict] = {}
        self.by_imdb: dict[str, int] = {}
        self.by_path: dict[str, Path] = {}
        self.without_poster: set[int] = set()  # tmdb ids answered with poster_path null
        with open(self.posters / "posters.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                tmdb_id = int(row["tmdbId"])
                path = poster_path(tmdb_id)
                self.movies[tmdb_id] = {**row, "poster_path": path}
                self.by_imdb[f"tt{row['imdbId']}"] = tmdb_id
                self.by_path[path] = self.posters / row["file"]
        # Full documents of the movies the dataset lacks, and when each last changed.
        self.today = today or datetime.date.today()
        self.extra: dict[int, dict] = {}
        self.changed: dict[int, str] = {}
        self.max_per_second = max_per_second
        self.latency = 0.0  # seconds added to every API answer (a far-away TMDB)
        self._window: list[float] = []
        for entry in EXTRA_MOVIES:
            self.add_movie(*entry)
        self.hits: Counter[str] = Counter()
        self.log: list[tuple[str, str, int]] = []
        self._faults: dict[str, int | None] = {}
        self._lock = threading.Lock()
        self._answering = 0  # requests being answered now (a "slow" one sleeps first)
        self._idle = threading.Condition(self._lock)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- switches -----------------------------------------------------------------------

    def fault(self, kind: str, times: int | None = None) -> None:
        """Switch a fault on for the next ``times`` matching requests (None: until cleared)."""
        if kind not in API_FAULTS | IMAGE_FAULTS:
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            self._faults[kind] = times

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take_fault(self, kinds: set[str]) -> str | None:
        """The active fault among ``kinds`` (using up one of its ``times``), or None."""
        with self._lock:
            for kind in kinds:
                if kind in self._faults:
                    left = self._faults[kind]
                    if left is not None:
                        if left <= 1:
                            del self._faults[kind]
                        else:
                            self._faults[kind] = left - 1
                    return kind
        return None

    def count(self, kind: str) -> int:
        with self._lock:
            return self.hits[kind]

    def reset_counts(self) -> None:
        with self._lock:
            self.hits.clear()
            self.log.clear()

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Return once no request is being answered (a client that gave up on a slow answer
        leaves it running here, to be counted when it ends), so that what follows counts
        only its own requests."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._answering == 0, timeout):
                raise TimeoutError(f"the TMDB stand-in is still answering after {timeout} s")

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/3"

    def start(self, port: int = 0) -> TMDBServer:
        handler = type("Handler", (_Handler,), {"tmdb": self})
        self._httpd = _QuietServer(("127.0.0.1", port), handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> TMDBServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- TMDB-shaped documents ----------------------------------------------------------

    def configuration(self) -> dict:
        base = f"{self.url}/t/p/"
        return {
            "change_keys": ["adult", "air_date", "also_known_as", "biography", "poster_path"],
            "images": {
                "base_url": base,
                "secure_base_url": base,
                "backdrop_sizes": ["w300", "w780", "w1280", "original"],
                "logo_sizes": ["w45", "w92", "w154", "w185", "w300", "w500", "original"],
                "poster_sizes": POSTER_SIZES,
                "profile_sizes": ["w45", "w185", "h632", "original"],
                "still_sizes": ["w92", "w185", "w300", "original"],
            },
        }

    def movie(self, tmdb_id: int) -> dict:
        row = self.movies[tmdb_id]
        title = row["title"]
        year = title[-5:-1] if title.endswith(")") and title[-5:-1].isdigit() else "1900"
        name = title[:-7] if title.endswith(")") else title
        return {
            "adult": False,
            "backdrop_path": None,
            "belongs_to_collection": None,
            "budget": 0,
            "genres": [],
            "homepage": "",
            "id": tmdb_id,
            "imdb_id": f"tt{row['imdbId']}",
            "origin_country": ["US"],
            "original_language": "en",
            "original_title": name,
            "overview": "",
            "popularity": 10.5,
            "poster_path": None if tmdb_id in self.without_poster else row["poster_path"],
            "production_companies": [],
            "production_countries": [],
            "release_date": f"{year}-01-01",
            "revenue": 0,
            "runtime": 100,
            "spoken_languages": [],
            "status": "Released",
            "tagline": "",
            "title": name,
            "video": False,
            "vote_average": 7.0,
            "vote_count": 1000,
        }

    # -- movies the dataset lacks --------------------------------------------------------

    def add_movie(
        self,
        tmdb_id: int,
        title: str,
        original: str,
        date: str,
        genre_ids: list[int],
        directors: list[str],
        cast: list[str],
        overview: str,
        poster_of: int | None = None,
        german: str | None = None,
        popularity: float = 50.0,
    ) -> None:
        """A movie that only this server knows; its poster is the real poster of dataset
        movie ``poster_of`` (a TMDB id with a file in the shared posters) when given."""
        path = poster_path(tmdb_id)
        if poster_of in self.movies:
            self.by_path[path] = self.by_path[self.movies[poster_of]["poster_path"]]
        translations = [
            {
                "iso_3166_1": "US", "iso_639_1": "en", "name": "English",
                "english_name": "English",
                "data": {"title": "", "overview": overview, "runtime": 0, "tagline": ""},
            }
        ]  # fmt: skip
        if german:
            translations.append(
                {
                    "iso_3166_1": "DE", "iso_639_1": "de", "name": "Deutsch",
                    "english_name": "German",
                    "data": {"title": german, "overview": f"(de) {overview}", "runtime": 0},
                }
            )  # fmt: skip
        self.extra[tmdb_id] = {
            "id": tmdb_id,
            "title": title,
            "original_title": original,
            "release_date": date,
            "genres": [{"id": g, "name": GENRES[g]} for g in genre_ids],
            "overview": overview,
            "poster_path": path if poster_of in self.movies else None,
            "popularity": popularity,
            "runtime": 90 + tmdb_id % 70,
            "vote_average": round(5 + (tmdb_id % 40) / 10, 1),
            "vote_count": 100 + tmdb_id % 900,
            "imdb_id": f"tt{30_000_000 + tmdb_id % 1_000_000:08d}",
            "directors": directors,
            "cast": cast,
            "keywords": [w for w in overview.lower().strip(".").split() if len(w) > 5][:5],
            "translations": translations,
            "alternative_titles": [{"iso_3166_1": "DE", "title": german, "type": ""}]
            if german
            else [],
        }
        self.changed[tmdb_id] = date

    def add_synthetic(self, n: int, start_id: int = 5_000_000, seed: int = 0) -> list[int]:
        """``n`` made-up releases spread over the 60 days before and after :attr:`today`."""
        import random

        rng = random.Random(seed)
        ids = []
        ids_genres = list(GENRES)
        for i in range(n):
            tmdb_id = start_id + i
            day = self.today + datetime.timedelta(days=rng.randint(-60, 60))
            words = rng.sample(_WORDS, 2)
            self.add_movie(
                tmdb_id,
                f"{words[0].title()} {words[1].title()} {i}",
                f"{words[0].title()} {words[1].title()} {i}",
                day.isoformat(),
                rng.sample(ids_genres, 2),
                [f"Director {i % 97}"],
                [f"Actor {(i + j) % 211}" for j in range(4)],
                f"A {words[0]} story about {words[1]} number {i}.",
                popularity=round(rng.uniform(1, 100), 3),
            )
            ids.append(tmdb_id)
        return ids

    def details(self, tmdb_id: int, language: str | None, append: list[str]) -> dict:
        """``/movie/{id}`` with ``append_to_response`` parts, in ``language`` where known."""
        if tmdb_id not in self.extra:
            doc = self.movie(tmdb_id)
            extra = {"directors": [], "cast": [], "keywords": [], "translations": []}
            extra |= {"alternative_titles": []}
        else:
            extra = self.extra[tmdb_id]
            doc = {
                k: extra[k]
                for k in (
                    "id", "title", "original_title", "release_date", "genres", "overview",
                    "poster_path", "popularity", "runtime", "vote_average", "vote_count",
                    "imdb_id",
                )
            }  # fmt: skip
            doc |= {"adult": False, "status": "Released", "original_language": "en"}
        if language and not language.startswith("en"):
            for t in extra["translations"]:
                if t["iso_639_1"] == language[:2]:
                    doc["title"] = t["data"]["title"] or doc["title"]
                    doc["overview"] = t["data"]["overview"]
                    break
            else:
                doc["overview"] = ""  # TMDB: no overview in that language
        parts = {
            "credits": lambda: {
                "id": tmdb_id,
                "cast": [
                    {"id": 100 + i, "name": n, "character": f"Role {i}", "order": i}
                    for i, n in reversed(list(enumerate(extra["cast"])))
                ],
                "crew": [
                    {"id": 900 + i, "name": n, "job": "Director", "department": "Directing"}
                    for i, n in enumerate(extra["directors"])
                ]
                + [{"id": 999, "name": "Someone Else", "job": "Producer"}],
            },
            "keywords": lambda: {
                "id": tmdb_id,
                "keywords": [{"id": i, "name": k} for i, k in enumerate(extra["keywords"])],
            },
            "videos": lambda: {
                "id": tmdb_id,
                "results": [
                    {"site": "YouTube", "type": "Teaser", "key": f"teaser{tmdb_id}"},
                    {
                        "site": "YouTube",
                        "type": "Trailer",
                        "key": f"trailer{tmdb_id}",
                        "official": True,
                    },
                ],  # fmt: skip
            },
            "watch/providers": lambda: self.watch_providers(tmdb_id),
            "alternative_titles": lambda: {"id": tmdb_id, "titles": extra["alternative_titles"]},
            "translations": lambda: {"id": tmdb_id, "translations": extra["translations"]},
            "external_ids": lambda: {"id": tmdb_id, "imdb_id": doc.get("imdb_id")},
        }
        for name in append:
            if name in parts:
                doc[name] = parts[name]()
        return doc

    def watch_providers(self, tmdb_id: int) -> dict:
        """Stream/rent/buy offers per region, fixed per movie."""
        results = {}
        for region, names in PROVIDERS.items():
            stream = names[tmdb_id % 3]
            results[region] = {
                "link": f"https://www.themoviedb.org/movie/{tmdb_id}/watch?locale={region}",
                "flatrate": [_provider(stream, names)],
                "rent": [_provider("Apple TV", names)],
                "buy": [_provider("Apple TV", names), _provider("Google Play Movies", names)],
            }
        return {"id": tmdb_id, "results": results}

    def listing(self, tmdb_id: int) -> dict:
        """A movie as lists and searches give it (``genre_ids``, no appended parts)."""
        doc = self.details(tmdb_id, None, []) if tmdb_id in self.extra else self.movie(tmdb_id)
        out = {k: doc[k] for k in ("id", "title", "original_title", "overview", "poster_path")}
        out |= {k: doc[k] for k in ("release_date", "popularity", "vote_average")}
        return out | {"genre_ids": [g["id"] for g in doc["genres"]], "adult": False}

    def every_id(self) -> list[int]:
        return [*self.movies, *self.extra]

    def search(self, query: str) -> list[int]:
        """Ids whose title holds every word of ``query`` (punctuation ignored), most popular
        first, like TMDB's search."""
        words = _norm(query).split()
        found = []
        for tmdb_id in self.every_id():
            if tmdb_id in self.extra:
                doc = self.extra[tmdb_id]
                names = {doc["title"], doc["original_title"]}
                names |= {t["title"] for t in doc["alternative_titles"]}
                popularity = doc["popularity"]
            else:
                names, popularity = {self.movie(tmdb_id)["title"]}, 10.5
            if words and any(all(w in _norm(n).split() for w in words) for n in names):
                found.append((-popularity, tmdb_id))
        return [i for _, i in sorted(found)]

    def released_between(self, start: str | None, end: str | None) -> list[int]:
        """Extra movies released in [start, end], most popular first."""
        chosen = [
            (-doc["popularity"], tmdb_id)
            for tmdb_id, doc in self.extra.items()
            if (not start or doc["release_date"] >= start)
            and (not end or doc["release_date"] <= end)
        ]
        return [i for _, i in sorted(chosen)]

    def recommended(self, tmdb_id: int) -> list[int]:
        """The 40 TMDB ids this stand-in recommends for ``tmdb_id``, in its order (two pages):
        a stable shuffle of every other movie, with a new film's fellow new films first, as
        on TMDB."""
        others = [i for i in self.every_id() if i != tmdb_id]
        others.sort(key=lambda i: (tmdb_id in self.extra and i not in self.extra,
                                   (i * 7919 + tmdb_id) % 1009))  # fmt: skip
        return others[:40]

    def page(self, ids: list[int], query: dict[str, list[str]], **more: object) -> dict:
        page = int(query.get("page", ["1"])[0])
        total = min(MAX_PAGES, max(1, -(-len(ids) // PAGE_SIZE)))
        chosen = ids[(page - 1) * PAGE_SIZE : page * PAGE_SIZE] if page <= total else []
        return {
            "page": page,
            "results": [self.listing(i) for i in chosen],
            "total_pages": total,
            "total_results": len(ids),
            **more,
        }

    def over_rate(self) -> bool:
        """True when this request goes past ``max_per_second`` (sliding one-second window)."""
        if not self.max_per_second:
            return False
        with self._lock:
            now = time.monotonic()
            self._window = [t for t in self._window if now - t < 1.0]
            if len(self._window) >= self.max_per_second:
                return True
            self._window.append(now)
            return False

    def find_result(self, tmdb_id: int) -> dict:
        movie = self.movie(tmdb_id)
        keys = ("adult", "backdrop_path", "id", "title", "original_title", "overview")
        keys += ("poster_path", "original_language", "popularity", "release_date", "video")
        return {k: movie[k] for k in keys} | {"media_type": "movie", "genre_ids": []}


_WORDS = [
    "silver",
    "harbor",
    "quiet",
    "engine",
    "paper",
    "winter",
    "orbit",
    "garden",
    "signal",
    "ember",
    "violet",
    "canyon",
    "static",
    "mirror",
    "hollow",
    "river",
    "lantern",
    "summer",
    "copper",
    "desert",
]


def _norm(text: str) -> str:
    import re
    import unicodedata

    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def _provider(name: str, names: list[str], region: str | None = None) -> dict:
    priority = names.index(name) if name in names else len(names)
    found = {
        "provider_id": 8 + sum(map(ord, name)) % 500,
        "provider_name": name,
        "logo_path": poster_path(sum(map(ord, name))),
        "display_priority": priority,
    }
    if region:
        found["display_priorities"] = {region: priority}
    return found


class _Handler(BaseHTTPRequestHandler):
    tmdb: TMDBServer
    protocol_version = "HTTP/1.1"  # keep-alive, as TMDB's servers
    disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms delayed-ACK stalls

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet (and the request line would carry the key)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        with self.tmdb._lock:
            self.tmdb._answering += 1
        try:
            self._get()
        finally:
            with self.tmdb._idle:
                self.tmdb._answering -= 1
                self.tmdb._idle.notify_all()

    def _get(self) -> None:
        url = urlsplit(self.path)
        try:
            if url.path.startswith("/3/"):
                self._api(url.path[3:], parse_qs(url.query))
            elif url.path.startswith("/t/p/"):
                if "api_key" in url.query or "Authorization" in self.headers:
                    self._count("image_with_credentials")  # TMDB's CDN needs none
                self._image(url.path[5:])
            else:
                self._json(404, ERRORS[404])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def _api(self, path: str, query: dict[str, list[str]]) -> None:
        server = self.tmdb
        kind = path.split("/", 1)[0]
        fault = server.take_fault(API_FAULTS)
        if fault == "slow":
            time.sleep(server.delay)
        key = query.get("api_key", [None])[0]
        bearer = self.headers.get("Authorization", "")
        authorised = key == server.api_key or bearer == f"Bearer {server.read_token}"
        if fault == "bad_key" or not authorised:
            self._count("unauthorized")
            return self._json(401, ERRORS[401], path)
        self._count(kind)
        if fault == "rate_limit":
            return self._json(429, ERRORS[429], path, {"Retry-After": str(server.retry_after)})
        if fault == "server_error":
            return self._json(500, ERRORS[500], path)
        if fault == "gzip_bomb":
            headers = {"Content-Encoding": "gzip"}
            return self._send(200, gzip_bomb(), "application/json", path, headers)
        if path == "configuration":
            return self._json(200, server.configuration(), path)
        if server.latency:
            time.sleep(server.latency)
        if server.over_rate():
            self._count("over_rate")
            return self._json(429, ERRORS[429], path, {"Retry-After": str(server.retry_after)})
        language = query.get("language", [None])[0]
        if path == "search/movie":
            found = server.search(query.get("query", [""])[0])
            return self._json(200, server.page(found, query), path)
        if path == "discover/movie":
            found = server.released_between(
                query.get("primary_release_date.gte", [None])[0],
                query.get("primary_release_date.lte", [None])[0],
            )
            return self._json(200, server.page(found, query), path)
        if path in ("movie/now_playing", "movie/upcoming"):
            today = server.today
            if path == "movie/now_playing":
                start, end = today - datetime.timedelta(days=42), today
            else:
                start, end = today + datetime.timedelta(days=1), today + datetime.timedelta(60)
            found = server.released_between(start.isoformat(), end.isoformat())
            dates = {"minimum": start.isoformat(), "maximum": end.isoformat()}
            return self._json(200, server.page(found, query, dates=dates), path)
        if path == "movie/changes":
            start = query.get("start_date", [""])[0]
            end = query.get("end_date", [""])[0]
            changed = [i for i, day in sorted(server.changed.items()) if start <= day <= end]
            body = server.page(changed, query)
            body["results"] = [{"id": r["id"], "adult": False} for r in body["results"]]
            return self._json(200, body, path)
        if path == "watch/providers/movie":
            region = query.get("watch_region", ["US"])[0]
            names = PROVIDERS.get(region, [])
            body = {"results": [_provider(n, names, region) for n in reversed(names)]}
            return self._json(200, body, path)
        if kind == "movie":
            parts = path.split("/")
            tmdb_id = parts[1] if len(parts) > 1 else ""
            known = tmdb_id.isdigit() and (
                int(tmdb_id) in server.movies or int(tmdb_id) in server.extra
            )
            if fault == "not_found" or not known:
                return self._json(404, ERRORS[404], path)
            number = int(tmdb_id)
            if parts[2:] == ["watch", "providers"]:
                return self._json(200, server.watch_providers(number), path)
            if parts[2:] == ["recommendations"]:
                return self._json(200, server.page(server.recommended(number), query), path)
            if len(parts) > 2:
                return self._json(404, ERRORS[404], path)
            append = query.get("append_to_response", [""])[0].split(",")
            if number in server.movies and not any(append) and language is None:
                return self._json(200, server.movie(number), path)
            return self._json(200, server.details(number, language, append), path)
        if kind == "find":
            external = path.split("/", 1)[1] if "/" in path else ""
            if query.get("external_source", [None])[0] != "imdb_id":
                return self._json(400, {"success": False, "status_code": 5}, path)
            found = server.by_imdb.get(external)
            body = {
                "movie_results": [server.find_result(found)] if found else [],
                "person_results": [],
                "tv_results": [],
                "tv_episode_results": [],
                "tv_season_results": [],
            }
            return self._json(200, body, path)
        return self._json(404, ERRORS[404], path)

    def _image(self, path: str) -> None:
        server = self.tmdb
        size, _, name = path.partition("/")
        file = server.by_path.get("/" + name)
        if size not in POSTER_SIZES or file is None:
            return self._send(404, b"Not Found", "text/plain", path)
        self._count("image")
        fault = server.take_fault(IMAGE_FAULTS)
        if fault == "slow_image":
            time.sleep(server.delay)
        data, content_type = file.read_bytes(), "image/jpeg"
        if fault == "truncated":
            data = data[: len(data) // 2]
        elif fault == "not_image":
            data, content_type = b"<html><body>Service Unavailable</body></html>", "text/html"
        elif fault == "garbage":
            data = b"\x00GIF not really " * 64
        elif fault == "huge":
            data, content_type = huge_png(), "image/png"
        self._send(200, data, content_type, path)

    def _count(self, kind: str) -> None:
        with self.tmdb._lock:
            self.tmdb.hits[kind] += 1

    def _json(self, status: int, body: dict, path: str = "", headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self._send(status, data, "application/json;charset=utf-8", path, headers)

    def _send(
        self, status: int, data: bytes, content_type: str, path: str, headers: dict | None = None
    ) -> None:
        with self.tmdb._lock:
            self.tmdb.log.append(("GET", path, status))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    """``python tests/support/tmdb_server.py [PORT]``: serve until interrupted, for trying the CLI by hand."""
    import sys

    server = TMDBServer().start(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(f"REELPICK_TMDB_API_URL={server.api_url} TMDB_API_KEY={server.api_key}", flush=True)
    try:
        assert server._thread is not None
        server._thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        print(f"requests: {dict(server.hits)}", flush=True)
        server.stop()


if __name__ == "__main__":
    main()
