"""Watchlists: the movies each person wants to see, kept in the state folder.

* :class:`WatchlistStore` adds, removes and lists movies per owner (``tg:<id>``, the
  profile store's keys), with the time each was added;
* :func:`read_watchlist` reads Letterboxd's ``watchlist.csv`` and IMDb watchlist exports,
  matched with :class:`~reelpick.profiles.MovieMatcher`; :func:`looks_like_watchlist` tells
  an upload that is a watchlist from a rating file; :func:`export_watchlist` writes one.
"""

from .export import EXPORT_NAME, app_names, dataset_names, export_watchlist
from .imports import ParsedWatchlist, looks_like_watchlist, read_watchlist, watchlist_format
from .store import FILENAME, WatchlistEntry, WatchlistError, WatchlistStore

__all__ = [
    "EXPORT_NAME",
    "FILENAME",
    "ParsedWatchlist",
    "WatchlistEntry",
    "WatchlistError",
    "WatchlistStore",
    "app_names",
    "dataset_names",
    "export_watchlist",
    "looks_like_watchlist",
    "read_watchlist",
    "watchlist_format",
]
