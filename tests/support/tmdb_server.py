"""A TMDB-compatible HTTP server on 127.0.0.1, run in a thread, for tests and benchmarks.

It speaks the parts of TMDB API v3 reelpick uses (``/3/configuration``, ``/3/movie/{id}``,
``/3/find/{external_id}``) with JSON shaped like TMDB's, checks the key (``api_key`` query
parameter or ``Authorization: Bearer``) like TMDB does, and serves images under
``/t/p/{size}/{path}`` from the real posters in ``../shared/data/posters``.

Faults can be switched on, for a number of requests or until cleared::

    with TMDBServer() as server:
        server.fault("server_error", times=2)      # the next two API calls answer 500
        server.fault("truncated")                  # every image is cut in half
        server.clear()
"""

from __future__ import annotations

import csv
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
        self.hits: Counter[str] = Counter()
        self.log: list[tuple[str, str, int]] = []
        self._faults: dict[str, int | None] = {}
        self._lock = threading.Lock()
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

    def find_result(self, tmdb_id: int) -> dict:
        movie = self.movie(tmdb_id)
        keys = ("adult", "backdrop_path", "id", "title", "original_title", "overview")
        keys += ("poster_path", "original_language", "popularity", "release_date", "video")
        return {k: movie[k] for k in keys} | {"media_type": "movie", "genre_ids": []}


class _Handler(BaseHTTPRequestHandler):
    tmdb: TMDBServer
    protocol_version = "HTTP/1.1"  # keep-alive, as TMDB's servers
    disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms delayed-ACK stalls

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet (and the request line would carry the key)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
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
        if kind == "movie":
            tmdb_id = path.split("/", 1)[1] if "/" in path else ""
            if fault == "not_found" or not tmdb_id.isdigit() or int(tmdb_id) not in server.movies:
                return self._json(404, ERRORS[404], path)
            return self._json(200, server.movie(int(tmdb_id)), path)
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
