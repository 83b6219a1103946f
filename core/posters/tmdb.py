"""A small client for The Movie Database (TMDB) API v3: configuration, movies, posters, and
the catalogue's calls (search, details with ``append_to_response``, discover, now playing,
upcoming, changes, recommendations, watch providers), each answer cached on disk for as long
as ``[tmdb]`` says that kind of answer stays true.

Retries (5xx, connection errors, timeouts, 429 with its Retry-After) are urllib3's ``Retry``
mounted on a requests adapter; every request has a timeout. The credentials come from the
environment only (:func:`reelpick.config.secret`) and are scrubbed from every message this
module writes or raises, including urllib3's own log lines, which quote request URLs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ..cache import open_diskcache, read_cached
from ..config import Config, secret
from ..errors import ReelpickError
from ..redact import protect, redact

if TYPE_CHECKING:
    import diskcache
    from urllib3.response import BaseHTTPResponse

log = logging.getLogger(__name__)

TMDB_ATTRIBUTION = "This product uses the TMDB API but is not endorsed or certified by TMDB."

RETRY_STATUSES = (429, 500, 502, 503, 504)
BACKOFF_FACTOR = 0.5  # urllib3 waits 0, 1, 2, 4 ... seconds between retries (capped below)
MAX_RETRY_AFTER = 30.0  # never sleep longer than this on a 429/503 Retry-After
STALE_RETRY = 600.0  # seconds before retrying a /configuration refresh that failed
# TMDB's JSON answers are a few kilobytes; a body (decompressed) past this is refused,
# so that a gzip bomb cannot take the memory (0.29 MB of gzip once inflated to 874 MiB).
MAX_JSON_BYTES = 2_000_000
CHUNK_BYTES = 16 << 10  # small reads: each inflates to at most ~16 MB of a bomb
# Everything a card and the catalogue need, in one request per movie.
APPEND = "credits,keywords,videos,watch/providers,alternative_titles,translations,external_ids"


# A JSON object as TMDB sends it: each field is checked where it is read.
JSONObject = dict[str, Any]


class TMDBError(ReelpickError):
    """TMDB could not give what was asked. Messages never contain the credentials."""

    outage = False  # True when TMDB as a whole seems unavailable, not just this request


class AuthError(TMDBError):
    """TMDB refused the key or token (HTTP 401)."""


class TMDBNotFound(TMDBError):
    """TMDB answered that there is no such movie or no poster: worth remembering."""


class TMDBUnavailable(TMDBError):
    """Timeouts, connection errors, 5xx, or 429 after all retries: try again later."""

    outage = True


class ImageError(TMDBError):
    """The image server sent something that is not an acceptable image."""


@dataclass(frozen=True)
class ImageData:
    data: bytes
    content_type: str


# -- keeping the credentials out of logs and errors --------------------------------------

# -- HTTP machinery ----------------------------------------------------------------------


class CappedRetry(Retry):
    """urllib3 Retry whose Retry-After waits are capped, so a 429 cannot stall us for hours."""

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, MAX_RETRY_AFTER)


class RateLimit:
    """At most ``per_second`` request starts per second across threads (0 = no limit)."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.next_slot = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            slot = max(now, self.next_slot)
            self.next_slot = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


class TMDBClient:
    """TMDB API v3 over requests. Thread-safe: each thread gets its own session."""

    def __init__(
        self,
        config: Config,
        api_key: str | None = None,
        read_token: str | None = None,
    ) -> None:
        if not api_key and not read_token:
            raise ValueError("TMDBClient needs an API key or a read access token")
        settings = config.section("posters")
        self.api_url = str(settings["api_url"]).rstrip("/")
        self.timeout = float(settings["timeout"])
        self.retries = int(settings["retries"])
        self.max_bytes = int(settings["max_bytes"])
        self.max_age = float(settings["configuration_max_age_days"]) * 86400
        self.pool_size = max(1, int(settings["concurrency"]))
        self.rate = RateLimit(float(settings["requests_per_second"]))
        self.cache_dir = config.cache_dir / "tmdb"
        # The token goes in a header (never in a URL); the key has to be a query parameter.
        self._params = {} if read_token else {"api_key": api_key}
        self._headers = {"Authorization": f"Bearer {read_token}"} if read_token else {}
        for value in (api_key, read_token):
            if value:
                protect(value)
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self._configuration: tuple[JSONObject, float] | None = None  # (value, fetched at)
        self._config_lock = threading.Lock()
        self._cache: diskcache.Cache | None = None
        tmdb = config.section("tmdb")
        self.language = str(tmdb["language"])
        self.ttl = {
            "search": float(tmdb["search_ttl_hours"]) * 3600,
            "providers": float(tmdb["providers_ttl_hours"]) * 3600,
            "metadata": float(tmdb["metadata_ttl_days"]) * 86400,
            "lists": float(tmdb["lists_ttl_hours"]) * 3600,
            "recommendations": float(tmdb["recommendations_ttl_days"]) * 86400,
        }

    @classmethod
    def from_config(cls, config: Config) -> TMDBClient | None:
        """A client using TMDB_READ_TOKEN or TMDB_API_KEY from the environment; None if unset."""
        api_key, token = secret("TMDB_API_KEY"), secret("TMDB_READ_TOKEN")
        if not api_key and not token:
            return None
        return cls(config, api_key=api_key, read_token=token)

    # -- API ----------------------------------------------------------------------------

    def configuration(self) -> JSONObject:
        """``/configuration`` (image base URL and sizes), cached on disk for a few days.

        A stale copy is used, with a warning, when refreshing it fails.
        """
        with self._config_lock:  # one fetch, even when many threads start at once
            return self._load_configuration()

    def _load_configuration(self) -> JSONObject:
        now = time.time()
        if self._configuration is not None and now - self._configuration[1] < self.max_age:
            return self._configuration[0]
        key = f"configuration {self.api_url}"  # no credentials in cache keys
        entry = read_cached(self._disk_cache(), key, _is_configuration_entry)
        cached: tuple[JSONObject, float] | None = (
            None if entry is None else (entry["value"], entry["at"])
        )
        if cached is not None and now - cached[1] < self.max_age:
            self._configuration = cached
            return cached[0]
        try:
            value = self._get_json("configuration")
            images = value.get("images") if isinstance(value, dict) else None
            if not isinstance(images, dict) or not images.get("secure_base_url"):
                raise TMDBUnavailable("TMDB /configuration has no images.secure_base_url")
        except TMDBError as exc:
            if cached is None or isinstance(exc, AuthError):
                raise
            log.warning("could not refresh TMDB /configuration (%s); using the old copy", exc)
            # Try again in ten minutes, not on every request of an outage.
            self._configuration = (cached[0], now - self.max_age + STALE_RETRY)
            return cached[0]
        self._disk_cache().set(key, {"value": value, "at": now})
        self._configuration = (value, now)
        return value

    def poster_sizes(self) -> list[str]:
        return list(self.configuration()["images"].get("poster_sizes") or [])

    def movie(self, tmdb_id: int) -> JSONObject:
        """``/movie/{tmdb_id}``; raises :class:`TMDBNotFound` for an unknown id."""
        return self._get_json(f"movie/{int(tmdb_id)}")

    def find_imdb(self, imdb_id: int) -> JSONObject | None:
        """The TMDB movie for an IMDb id (``/find/tt0114709?external_source=imdb_id``)."""
        found = self._get_json(f"find/tt{int(imdb_id):07d}", external_source="imdb_id")
        results = found.get("movie_results") or []
        return results[0] if results else None

    def poster_path(self, tmdb_id: int | None, imdb_id: int | None) -> str:
        """The movie's ``poster_path`` ("/abc.jpg"). Falls back to /find when links.csv has no
        tmdbId or TMDB no longer knows it. Raises :class:`TMDBNotFound` when there is none."""
        if tmdb_id is not None:
            try:
                movie = self.movie(tmdb_id)
            except TMDBNotFound:
                if imdb_id is None:
                    raise
            else:
                if movie.get("poster_path"):
                    return str(movie["poster_path"])
                raise TMDBNotFound(f"TMDB movie {tmdb_id} has no poster")
        if imdb_id is not None:
            found = self.find_imdb(imdb_id)
            if found is None:
                raise TMDBNotFound(f"IMDb id tt{imdb_id:07d} is not on TMDB")
            if found.get("poster_path"):
                return str(found["poster_path"])
            raise TMDBNotFound(f"TMDB movie {found.get('id')} has no poster")
        raise TMDBNotFound("links.csv has neither a TMDB nor an IMDb id")

    def image(self, poster_path: str, size: str) -> ImageData:
        """Download one image (no credentials are sent to the image server).

        Refuses a non-image content type and bodies over ``posters.max_bytes`` (stopping the
        download there). Decoding is checked by the caller.
        """
        sizes = self.poster_sizes()
        if size not in sizes:
            raise ImageError(f"unknown poster size {size!r} (TMDB offers {', '.join(sizes)})")
        base = self.configuration()["images"]["secure_base_url"]
        url = f"{base.rstrip('/')}/{size}/{poster_path.lstrip('/')}"
        try:
            with self._session().get(url, timeout=self.timeout, stream=True) as response:
                if response.status_code != 200:
                    kind = TMDBUnavailable if response.status_code >= 429 else ImageError
                    raise kind(f"image {size}{poster_path}: HTTP {response.status_code}")
                content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
                if not content_type.startswith("image/"):
                    raise ImageError(
                        f"image {size}{poster_path}: content type {content_type or 'missing'!r}"
                    )
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise ImageError(
                        f"image {size}{poster_path}: {int(declared):,} bytes is over the limit"
                    )
                body = bytearray()
                for chunk in response.iter_content(65536):
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise ImageError(
                            f"image {size}{poster_path}: over {self.max_bytes:,} bytes"
                        )
        except requests.RequestException as exc:
            raise TMDBUnavailable(
                f"image {size}{poster_path}: {type(exc).__name__}: {_short(exc)}"
            ) from None
        return ImageData(bytes(body), content_type)

    # -- the catalogue's calls (cached) -------------------------------------------------

    def search_movies(
        self, query: str, *, language: str | None = None, page: int = 1, year: int | None = None
    ) -> JSONObject:
        """``/search/movie``: a page of ``results`` ({id, title, original_title, release_date,
        overview, poster_path, genre_ids, popularity, ...})."""
        params = {"query": query, "page": str(page), "include_adult": "false"}
        if year is not None:
            params["year"] = str(year)
        return self.cached("search", "search/movie", language=language, params=params)[0]

    def details(
        self, tmdb_id: int, *, language: str | None = None, refresh: bool = False
    ) -> tuple[JSONObject, float]:
        """``/movie/{id}`` with credits, keywords, videos, watch/providers, alternative titles,
        translations and external ids appended; and when it was fetched (epoch seconds).
        ``refresh``: ask TMDB even when the cache has it (TMDB says the movie changed)."""
        return self.cached(
            "metadata",
            f"movie/{int(tmdb_id)}",
            language=language,
            refresh=refresh,
            append_to_response=APPEND,
        )

    def watch_providers(self, tmdb_id: int) -> JSONObject:
        """``/movie/{id}/watch/providers``: ``results`` by region ({link, flatrate, rent, buy})."""
        return self.cached("providers", f"movie/{int(tmdb_id)}/watch/providers", language="")[0]

    def recommendations(
        self, tmdb_id: int, *, page: int = 1, language: str | None = None
    ) -> JSONObject:
        """``/movie/{id}/recommendations``: a page of movies people also liked."""
        path = f"movie/{int(tmdb_id)}/recommendations"
        return self.cached("recommendations", path, language=language, page=str(page))[0]

    def movie_list(self, name: str, *, page: int = 1, region: str | None = None) -> JSONObject:
        """``/movie/now_playing`` or ``/movie/upcoming``: a page of movies."""
        if name not in ("now_playing", "upcoming"):
            raise ValueError(f"unknown movie list {name!r}")
        params = {"page": str(page)} | ({"region": region} if region else {})
        return self.cached("lists", f"movie/{name}", language="", params=params)[0]

    def discover(self, *, page: int = 1, since: str, until: str | None = None) -> JSONObject:
        """``/discover/movie`` released on or after ``since`` (YYYY-MM-DD), most popular first."""
        params = {
            "page": str(page),
            "sort_by": "popularity.desc",
            "include_adult": "false",
            "primary_release_date.gte": since,
        }
        if until:
            params["primary_release_date.lte"] = until
        return self.cached("lists", "discover/movie", language="", params=params)[0]

    def changes(self, *, page: int = 1, start_date: str, end_date: str) -> JSONObject:
        """``/movie/changes``: ids of movies changed between two dates (at most 14 days apart)."""
        return self.cached(
            "lists",
            "movie/changes",
            language=None,
            page=str(page),
            start_date=start_date,
            end_date=end_date,
        )[0]

    def provider_list(self, region: str, *, language: str | None = None) -> JSONObject:
        """``/watch/providers/movie``: the streaming services TMDB lists for ``region``."""
        return self.cached(
            "providers", "watch/providers/movie", language=language, watch_region=region
        )[0]

    def cached(
        self,
        kind: str,
        path: str,
        *,
        language: str | None,
        refresh: bool = False,
        params: dict[str, str] | None = None,
        **more: str,
    ) -> tuple[JSONObject, float]:
        """GET ``path`` through the disk cache, kept ``[tmdb]``'s lifetime for ``kind`` (search,
        providers, metadata, lists, recommendations); returns the answer and when it was fetched.

        ``language`` None means ``[tmdb] language``; "" sends none.
        """
        params = {**(params or {}), **more}
        chosen = self.language if language is None else language
        if chosen:
            params = {**params, "language": chosen}
        # No credentials in cache keys: the path and the parameters only.
        key = f"api {self.api_url}/{path}?" + "&".join(f"{k}={params[k]}" for k in sorted(params))
        entry = None if refresh else read_cached(self._disk_cache(), key, _is_api_entry)
        if entry is not None:
            if entry["value"].get(_MISSING):
                raise TMDBNotFound(f"TMDB /{path}: not found on TMDB (remembered)")
            return entry["value"], entry["at"]
        now = time.time()
        try:
            value = self._get_json(path, **params)
        except TMDBNotFound:
            # Remembered as long as a search: a card of a movie TMDB lacks costs no round trip.
            missing = {"value": {_MISSING: True}, "at": now}
            self._disk_cache().set(key, missing, expire=min(self.ttl[kind], self.ttl["search"]))
            raise
        self._disk_cache().set(key, {"value": value, "at": now}, expire=self.ttl[kind])
        return value, now

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
        if self._cache is not None:
            self._cache.close()

    # -- plumbing -----------------------------------------------------------------------

    def _get_json(self, path: str, **params: str) -> JSONObject:
        """GET an API path; TMDB's error bodies become the matching :class:`TMDBError`."""
        self.rate.wait()
        where = f"TMDB /{path}"
        try:
            with self._session().get(
                f"{self.api_url}/{path}",
                params={**params, **self._params},
                headers=self._headers,
                timeout=self.timeout,
                stream=True,
            ) as response:
                status = response.status_code
                raw = _read_capped(response, MAX_JSON_BYTES, where)
        except requests.RequestException as exc:
            # requests' messages quote the URL, query string (and key) included: redact.
            raise TMDBUnavailable(f"{where}: {type(exc).__name__}: {_short(exc)}") from None
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        message = body.get("status_message") if isinstance(body, dict) else None
        detail = f" ({redact(message)})" if message else ""
        if status == 200 and isinstance(body, dict):
            return body
        if status == 200:
            raise TMDBUnavailable(f"{where}: the answer is not a JSON object")
        if status == 401:
            raise AuthError(f"{where}: TMDB refused the credentials (HTTP 401){detail}")
        if status == 404:
            raise TMDBNotFound(f"{where}: not found on TMDB{detail}")
        if status == 429:
            raise TMDBUnavailable(f"{where}: rate limited (HTTP 429) after {self.retries} retries")
        raise TMDBUnavailable(f"{where}: HTTP {status}{detail}")

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            retry = CappedRetry(
                total=self.retries,
                connect=self.retries,
                read=self.retries,
                status=self.retries,
                backoff_factor=BACKOFF_FACTOR,
                backoff_max=MAX_RETRY_AFTER,
                status_forcelist=RETRY_STATUSES,
                allowed_methods=frozenset({"GET"}),
                respect_retry_after_header=True,
                raise_on_status=False,  # hand back the last response so its status is reported
            )
            adapter = HTTPAdapter(max_retries=retry, pool_connections=2, pool_maxsize=2)
            session = requests.Session()
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["User-Agent"] = "reelpick (+TMDB API v3)"
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def _disk_cache(self) -> diskcache.Cache:
        with self._lock:
            if self._cache is None:
                self._cache = open_diskcache(self.cache_dir)
            return self._cache


def _read_capped(response: requests.Response, limit: int, where: str) -> bytes:
    """The decompressed body, read chunk by chunk and abandoned once past ``limit`` bytes."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TMDBUnavailable(f"{where}: answer of {int(declared):,} bytes is over the limit")
    body = bytearray()
    for chunk in response.iter_content(CHUNK_BYTES):
        body += chunk
        if len(body) > limit:
            raise TMDBUnavailable(f"{where}: answer is over {limit:,} bytes once decompressed")
    return bytes(body)


def _is_configuration_entry(entry: object) -> bool:
    """A /configuration answer as :meth:`TMDBClient.configuration` stores it."""
    if not isinstance(entry, dict) or not isinstance(entry.get("at"), int | float):
        return False
    images = entry.get("value", {}).get("images") if isinstance(entry.get("value"), dict) else None
    return isinstance(images, dict) and bool(images.get("secure_base_url"))


_MISSING = "__reelpick_not_found__"  # a cached 404 (TMDB's answers never have this key)


def _is_api_entry(entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("value"), dict)
        and isinstance(entry.get("at"), int | float)
    )


def _short(exc: BaseException, limit: int = 300) -> str:
    text = redact(exc)
    return text if len(text) <= limit else text[:limit] + "..."
