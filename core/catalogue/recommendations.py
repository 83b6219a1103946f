"""TMDB's "people also liked" lists as plugins read them: the TMDB ids TMDB recommends for a
TMDB movie, best first.

Plugins reach it through the package root (``reelpick.TMDBRecommendations``). The answers
come through :class:`~reelpick.posters.tmdb.TMDBClient`, so they share its disk cache (each
page kept ``[tmdb] recommendations_ttl_days``), rate limit, retries and scrubbing of the
credentials. After an outage (timeouts, 5xx, 429 after the retries) TMDB is left alone for
``[posters] failure_pause_seconds``: a plugin asked while a person waits then fails at once
instead of paying the retries again on every query.
"""

from __future__ import annotations

import logging
import threading
import time

from ..config import Config
from ..posters.tmdb import TMDBClient, TMDBError, TMDBUnavailable

log = logging.getLogger(__name__)


class TMDBRecommendations:
    """TMDB's recommendations for movies, through the TMDB credentials of the environment.

    Thread-safe. Opening it asks TMDB nothing; :attr:`available` tells whether credentials
    are set. :meth:`recommended` raises :class:`reelpick.TMDBError` (its messages never hold
    the credentials): :class:`reelpick.TMDBNotFound` for a movie TMDB does not know, one whose
    ``outage`` is true when TMDB is unreachable or paused after an outage.
    """

    NO_CREDENTIALS = "needs a TMDB key (TMDB_API_KEY)"
    """Why there is no answer without credentials, worded for the person asking."""

    def __init__(self, config: Config, client: TMDBClient | None = None) -> None:
        self._client = client if client is not None else TMDBClient.from_config(config)
        self.pause = float(config.settings.posters.failure_pause_seconds)
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self._outage = ""

    @property
    def available(self) -> bool:
        """True when TMDB credentials (TMDB_API_KEY or TMDB_READ_TOKEN) are set."""
        return self._client is not None

    def recommended(self, tmdb_id: int, pages: int = 1) -> list[int]:
        """The TMDB ids TMDB recommends for movie ``tmdb_id``, best first, without repeats or
        ``tmdb_id`` itself: up to ``pages`` pages of TMDB's list (20 movies each)."""
        if self._client is None:
            raise TMDBError(self.NO_CREDENTIALS)
        with self._lock:
            if time.monotonic() < self._paused_until:
                raise TMDBUnavailable(f"TMDB is paused after an outage ({self._outage})")
        found: dict[int, None] = {}
        page, last = 1, max(1, int(pages))
        while page <= last:
            try:
                answer = self._client.recommendations(int(tmdb_id), page=page)
            except TMDBError as exc:
                if exc.outage:
                    self._paused(str(exc))
                raise
            for movie in answer.get("results") or []:
                movie_id = movie.get("id") if isinstance(movie, dict) else None
                if isinstance(movie_id, int) and movie_id != int(tmdb_id):
                    found.setdefault(movie_id)
            total = answer.get("total_pages")
            last = min(last, total) if isinstance(total, int) else page
            page += 1
        return list(found)

    def _paused(self, reason: str) -> None:
        with self._lock:
            self._paused_until = time.monotonic() + self.pause
            self._outage = reason
        log.warning("TMDB recommendations paused for %.0f s: %s", self.pause, reason)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
