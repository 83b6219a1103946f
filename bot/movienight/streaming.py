"""Where a night's movies stream, and the members' watchlists.

* Where a movie streams in the chat's region (``/settings`` region, else ``[tmdb] region``)
  from TMDB's watch providers through :meth:`Reelpick.card` (cached by the TMDB client);
  nothing without TMDB.
* A chat that chose "movie nights: only our services" in /settings gets only options that
  stream on one of its services (when TMDB knows where they stream).
* Movies on the watchlists of at least :data:`SHARED_WATCHLISTS` joined members are strong
  candidates: they lead the prior and are sure of a place in the poll.

Every call that may ask TMDB runs in a thread (the callers use ``asyncio.to_thread``).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable, Sequence

from reelpick.catalogue import WhereToWatch
from reelpick.errors import ReelpickError

from ..i18n import Translator
from ..rating_buttons import owner_of
from ..services import BotServices

log = logging.getLogger(__name__)

SHARED_WATCHLISTS = 2  # members whose watchlists name a movie for it to be a strong candidate
STRONG_MAX = 3  # strong candidates sure of a place in one poll


class Streaming:
    def __init__(self, services: BotServices) -> None:
        self.services = services

    def region(self, chat_id: int) -> str:
        chosen = self.services.settings.get(chat_id, []).region
        return chosen or self.services.config.settings.tmdb.region.upper()

    def limited_to(self, chat_id: int) -> tuple[str, ...]:
        """The chat's services when its nights keep to them (and TMDB can tell), else ()."""
        chosen = self.services.settings.get(chat_id, [])
        if not chosen.night_services or not chosen.services:
            return ()
        return chosen.services if self.services.reelpick.tmdb_available else ()

    def where_to_watch(self, chat_id: int, movie_id: int) -> WhereToWatch | None:
        """``movie_id``'s offers in the chat's region; None without TMDB or when unknown."""
        app = self.services.reelpick
        if not app.tmdb_available:
            return None
        try:
            return app.card(movie_id, region=self.region(chat_id)).where_to_watch
        except ReelpickError as exc:
            log.info("where movie %s streams is unknown: %s", movie_id, exc)
            return None

    def streams_on(self, chat_id: int, movie_id: int) -> tuple[str, ...] | None:
        """Services streaming ``movie_id`` in the chat's region (flat rate); None: unknown."""
        where = self.where_to_watch(chat_id, movie_id)
        return None if where is None else where.flatrate

    def notes(self, chat_id: int, movie_ids: Sequence[int]) -> dict[int, str]:
        """``{movie: "Netflix, Max"}`` for the movies that stream somewhere (runs TMDB calls)."""
        found = {}
        for movie_id in movie_ids:
            names = self.streams_on(chat_id, movie_id)
            if names:
                found[movie_id] = ", ".join(names[:2]) + (" +" if len(names) > 2 else "")
        return found

    def keep_streaming(self, chat_id: int, movie_ids: Iterable[int]) -> list[int]:
        """``movie_ids`` narrowed to those on the chat's services when its nights keep to them
        (order kept; a movie whose offers are unknown is left out)."""
        services = set(self.limited_to(chat_id))
        ids = list(dict.fromkeys(movie_ids))
        if not services:
            return ids
        return [m for m in ids if services & set(self.streams_on(chat_id, m) or ())]

    def shared_watchlist(self, user_ids: Iterable[int], exclude: set[int]) -> list[tuple[int, int]]:
        """``(movie, members)`` for movies on at least :data:`SHARED_WATCHLISTS` members'
        watchlists, most members first, not in ``exclude``."""
        counts = self.services.watchlist.shared(owner_of(u) for u in user_ids)
        ranked = sorted(
            ((m, n) for m, n in counts.items() if n >= SHARED_WATCHLISTS and m not in exclude),
            key=lambda item: (-item[1], item[0]),
        )
        return [(m, n) for m, n in ranked if self.services.knows(m)]

    def winner_line(self, chat_id: int, movie_id: int, _: Translator) -> str | None:
        """Where to watch the winner in the chat's region, with the attribution TMDB asks
        for (HTML); None without TMDB."""
        where = self.where_to_watch(chat_id, movie_id)
        if where is None:
            return None
        offers = where.flatrate or where.rent or where.buy
        if not offers:
            return _("📺 Not offered in {region} right now.", region=where.region)
        kind = _("Stream") if where.flatrate else _("Rent") if where.rent else _("Buy")
        line = _("📺 Where to watch in {region}:", region=where.region)
        names = html.escape(", ".join(offers[:4]))
        return f"{line} {kind}: {names} ({html.escape(where.attribution)})"
