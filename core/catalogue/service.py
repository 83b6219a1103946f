"""The catalogue as the app uses it: cards, online candidates, adding a TMDB movie, providers,
titles, and the title lookup that weighs local matches against TMDB's.

Without TMDB credentials everything here still answers from the dataset and the stored
catalogue: cards carry the dataset's fields, there are no online candidates.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import DataError, ReelpickError
from ..posters.tmdb import TMDBClient, TMDBError
from ..types import NewMovie
from .documents import parse_details, where_to_watch, year_of
from .models import (
    CATALOGUE_ID_BASE,
    Candidate,
    MovieCard,
    catalogue_id,
    is_catalogue_id,
)
from .store import CatalogueStore, StoredMovie, new_movie
from .titles import CatalogueTitles, Match, SearchResult, TitleRow, confident, index_over

if TYPE_CHECKING:
    from ..config import Config
    from ..data.movielens import Dataset
    from ..data.search import TitleIndex

log = logging.getLogger(__name__)

RECENT_TITLES = 2000  # rows in the small title index before the whole one is built again


class NoTMDB(ReelpickError):
    """Something that needs TMDB was asked without TMDB credentials."""


@dataclass(frozen=True)
class Lookup:
    """A typed title, matched locally (dataset and catalogue) and, when that is not clearly
    enough, on TMDB.

    ``movie_id``: the movie meant, when there is no doubt (a local id, or an online candidate
    already stored). ``prefer_online``: TMDB's best candidate matches the query better than
    every local title (then ``local`` should not be offered first). ``online_best``: that
    candidate when it is clearly the one meant (add it with ``app.add_from_tmdb``).
    """

    query: str
    local: SearchResult
    online: tuple[Candidate, ...]
    movie_id: int | None
    prefer_online: bool
    online_best: Candidate | None

    @property
    def ambiguous(self) -> bool:
        return self.movie_id is None and self.online_best is None


class Catalogue:
    """TMDB client (None without credentials) + catalogue store + the dataset's links."""

    def __init__(self, config: Config, dataset: Dataset, client: TMDBClient | None) -> None:
        self.config = config
        self.settings = config.settings.catalogue
        self.tmdb_settings = config.settings.tmdb
        self.poster_size = config.settings.posters.size
        self.dataset = dataset
        self.client = client
        self.path = self.settings.path(config.settings.data.dir)
        self._lock = threading.Lock()
        self._titles: CatalogueTitles | None = None
        self._titles_mark: tuple[int, float] = (0, 0.0)  # the store's signature :attr:`titles` saw
        self._rebuilding = False

    @property
    def available(self) -> bool:
        return self.client is not None

    @cached_property
    def store(self) -> CatalogueStore:
        return CatalogueStore(self.path)

    @cached_property
    def dataset_by_tmdb(self) -> dict[int, int]:
        """TMDB id -> dataset movieId, from links.csv."""
        column = self.dataset.movies["tmdb_id"]
        known = column[column.notna()]
        return {int(t): int(m) for m, t in zip(known.index, known, strict=True)}

    @property
    def titles(self) -> CatalogueTitles:
        """The catalogue's title index, built on first use."""
        titles = self._titles
        if titles is None:
            mark = self.store.signature()
            built = CatalogueTitles(title_row(m) for m in self.store.all())
            with self._lock:
                if self._titles is None:
                    self._titles, self._titles_mark = built, mark
                titles = self._titles
        return titles

    def current_titles(self) -> CatalogueTitles:
        """:attr:`titles`, caught up with rows another process wrote since (a `catalogue
        sync`, the CLI's `info`): one cheap query per search. A few new rows join the small
        index at once; after many, one thread builds the whole index again (seconds for tens
        of thousands of rows) while the other searches go on with the one they had."""
        titles = self.titles
        mark = self.store.signature()
        with self._lock:
            if mark == self._titles_mark or self._rebuilding:
                return titles
            written = self.store.written_after(self._titles_mark[1])
            if mark[0] >= self._titles_mark[0] and titles.recent + len(written) <= RECENT_TITLES:
                titles.add_all([title_row(m) for m in written])
                self._titles_mark = mark
                return titles
            self._rebuilding = True
        try:
            built = CatalogueTitles(title_row(m) for m in self.store.all())
            with self._lock:
                self._titles, self._titles_mark = built, mark
        finally:
            self._rebuilding = False
        return built

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
        if self.client is not None:
            self.client.close()

    # -- ids and titles -----------------------------------------------------------------

    def local_id(self, tmdb_id: int) -> int | None:
        """The movie id of a TMDB movie already here (dataset first), or None."""
        found = self.dataset_by_tmdb.get(int(tmdb_id))
        if found is not None:
            return found
        return catalogue_id(tmdb_id) if int(tmdb_id) in self.store else None

    def held(self, movie_id: int) -> StoredMovie | None:
        """A catalogue movie's row if this file holds it, else None: never asks TMDB (ids
        from buttons and files may be made up) and never fails on an id out of TMDB's
        32-bit range."""
        tmdb_id = int(movie_id) - CATALOGUE_ID_BASE
        return self.store.get(tmdb_id) if 0 < tmdb_id < 2**31 else None

    def stored(self, movie_id: int) -> StoredMovie:
        """A catalogue movie's row. One missing from the file (a catalogue deleted or moved:
        it is data, not people's data) is fetched again from TMDB when a key is set, so ids
        kept in people's watchlists and nights stay good."""
        movie = None
        if is_catalogue_id(movie_id):
            tmdb_id = int(movie_id) - CATALOGUE_ID_BASE
            movie = self.store.get(tmdb_id)
            if movie is None and self.client is not None and tmdb_id not in self.dataset_by_tmdb:
                try:
                    self.add(tmdb_id)
                except TMDBError as exc:
                    log.warning("catalogue movie %d is not stored: %s", movie_id, exc)
                movie = self.store.get(tmdb_id)
        if movie is None:
            raise DataError(f"movie {movie_id} is neither in the dataset nor in the catalogue")
        return movie

    def new_movie(self, movie_id: int) -> NewMovie:
        """A catalogue movie as plugins that place movies by content see it."""
        movie = self.stored(movie_id)
        return new_movie(movie)

    def genres(self, movie_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
        """The stored genres (the dataset's names) of those catalogue movies this file holds;
        read from the file only, never from TMDB."""
        held = {int(m): self.held(m) for m in movie_ids}
        return {m: movie.genres for m, movie in held.items() if movie is not None}

    def movie_title(self, movie_id: int) -> str:
        if not is_catalogue_id(movie_id) and movie_id in self.dataset:
            return self.dataset.label(movie_id)
        return self.stored(movie_id).label

    # -- TMDB ---------------------------------------------------------------------------

    def _client(self) -> TMDBClient:
        if self.client is None:
            raise NoTMDB("this needs TMDB: set TMDB_API_KEY or TMDB_READ_TOKEN")
        return self.client

    def online_candidates(
        self, query: str, *, language: str | None = None, limit: int = 5
    ) -> list[Candidate]:
        """TMDB's search results for ``query`` ([] without credentials or when TMDB fails)."""
        if self.client is None or not query.strip():
            return []
        try:
            found = self.client.search_movies(query.strip()[:200], language=language)
        except TMDBError as exc:
            log.warning("TMDB search failed: %s", exc)
            return []
        out = []
        for result in found.get("results") or []:
            if not isinstance(result, dict) or not isinstance(result.get("id"), int):
                continue
            out.append(
                Candidate(
                    tmdb_id=int(result["id"]),
                    title=str(result.get("title") or result.get("original_title") or "?"),
                    year=year_of(result.get("release_date")),
                    overview=result.get("overview") or None,
                    movie_id=self.local_id(int(result["id"])),
                )
            )
            if len(out) >= limit:
                break
        return out

    def add(self, tmdb_id: int) -> int:
        """Store a TMDB movie (once) and return its movie id; a dataset movie keeps its own."""
        known = self.local_id(tmdb_id)
        if known is not None:
            return known
        details, _ = self._client().details(tmdb_id, language="")
        movie = parse_details(details, self.tmdb_settings.cast)
        self.store.put([movie])
        self.titles.add(title_row(movie))
        log.info("catalogue: added %s (TMDB %d)", movie.label, movie.tmdb_id)
        return movie.movie_id

    def providers(self, region: str) -> list[str]:
        """The streaming services TMDB lists for ``region`` ([] without credentials)."""
        if self.client is None:
            return []
        region = region.upper()
        found = self.client.provider_list(region).get("results") or []
        rows = [p for p in found if isinstance(p, dict) and p.get("provider_name")]
        rows.sort(
            key=lambda p: (
                (p.get("display_priorities") or {}).get(region, p.get("display_priority", 999)),
                str(p["provider_name"]),
            )
        )
        return list(dict.fromkeys(str(p["provider_name"]) for p in rows))

    def poster_url(self, poster_path: str | None) -> str | None:
        if not poster_path or self.client is None:
            return None
        try:
            base = self.client.configuration()["images"]["secure_base_url"]
        except TMDBError as exc:
            log.warning("no poster URL: %s", exc)
            return None
        return f"{str(base).rstrip('/')}/{self.poster_size}/{poster_path.lstrip('/')}"

    # -- cards --------------------------------------------------------------------------

    def card(
        self, movie_id: int, *, region: str | None = None, language: str | None = None
    ) -> MovieCard:
        """What is known of a movie: dataset or stored fields, completed by TMDB when it can."""
        region = (region or self.tmdb_settings.region).upper()
        if is_catalogue_id(movie_id):
            movie = self.stored(movie_id)
            base = MovieCard(
                id=int(movie_id),
                title=movie.title,
                year=movie.year,
                tmdb_id=movie.tmdb_id,
                imdb_id=movie.imdb_id,
                overview=movie.overview,
                runtime=movie.runtime,
                genres=movie.genres,
                directors=movie.directors,
                cast=movie.cast,
                rating=movie.vote_average,
                trailer_url=movie.trailer_url,
                poster_url=None,
                source="catalogue",
                where_to_watch=None,
            )
            poster = movie.poster_path
        else:
            if movie_id not in self.dataset:
                raise DataError(f"movie {movie_id} is neither in the dataset nor in the catalogue")
            row = self.dataset.movie(movie_id)
            base = MovieCard(
                id=int(movie_id),
                title=str(row["name"]),
                year=int(row["year"]) if pd.notna(row["year"]) else None,
                tmdb_id=int(row["tmdb_id"]) if pd.notna(row["tmdb_id"]) else None,
                imdb_id=int(row["imdb_id"]) if pd.notna(row["imdb_id"]) else None,
                overview=None,
                runtime=None,
                genres=self.dataset.genres(movie_id),
                directors=(),
                cast=(),
                rating=None,
                trailer_url=None,
                poster_url=None,
                source="dataset",
                where_to_watch=None,
            )
            poster = None
        if self.client is None or base.tmdb_id is None:
            return base
        try:
            return self._with_tmdb(base, region, language)
        except TMDBError as exc:
            log.warning("card of %s without TMDB's part: %s", base.label, exc)
            return _replace(base, poster_url=self.poster_url(poster))

    def _with_tmdb(self, base: MovieCard, region: str, language: str | None) -> MovieCard:
        client = self._client()
        assert base.tmdb_id is not None
        details, fetched_at = client.details(base.tmdb_id, language=language)
        parsed = parse_details(details, self.tmdb_settings.cast)
        localised = bool(language or self.tmdb_settings.language)
        title = parsed.title if (localised or base.source == "catalogue") else base.title
        genres = base.genres if base.source == "dataset" or not parsed.genres else parsed.genres
        overview = parsed.overview or base.overview
        if not overview and localised:  # TMDB has no overview in that language: its default
            overview = parse_details(client.details(base.tmdb_id, language="")[0], 0).overview
        providers = details.get("watch/providers")
        if not isinstance(providers, dict) or (time.time() - fetched_at > client.ttl["providers"]):
            providers = client.watch_providers(base.tmdb_id)
        return _replace(
            base,
            title=title,
            year=base.year or parsed.year,
            imdb_id=base.imdb_id or parsed.imdb_id,
            overview=overview,
            runtime=parsed.runtime or base.runtime,
            genres=genres,
            directors=parsed.directors or base.directors,
            cast=parsed.cast or base.cast,
            rating=parsed.vote_average if parsed.vote_average is not None else base.rating,
            trailer_url=parsed.trailer_url or base.trailer_url,
            poster_url=self.poster_url(parsed.poster_path),
            where_to_watch=where_to_watch(providers, region),
        )

    # -- title lookup -------------------------------------------------------------------

    def search(self, dataset_titles: TitleIndex, query: str, limit: int = 5) -> SearchResult:
        """Dataset and catalogue titles for ``query``, best first (same scores as the dataset
        index; on a tie the dataset's movie first)."""
        local = dataset_titles.search(query, limit).candidates
        titles = self.current_titles()
        extra = titles.search(query, limit) if len(titles) else []
        counts = self.dataset.rating_counts
        ranked = sorted(
            [(m.score, int(counts.get(m.movie_id, 0)), m.movie_id, 0, m) for m in local]
            + [(m.score, 0, m.movie_id, 1, m) for m in extra],
            key=lambda r: (-r[0], r[3], -r[1], r[2]),
        )[:limit]
        return SearchResult(
            query, [r[4] for r in ranked], confident([(r[0], r[1], r[2]) for r in ranked])
        )

    def lookup(
        self, dataset_titles: TitleIndex, query: str, *, language: str | None = None
    ) -> Lookup:
        """Local matches first; TMDB asked only when no local title is a sure match, and its
        best candidate preferred when it matches the query ``online_margin`` points better
        than the best local one ("Dune Part Two" is not "Che: Part Two")."""
        limit = self.settings.candidates
        local = self.search(dataset_titles, query, limit)
        top = local.candidates[0].score if local.candidates else 0.0
        if local.confident and top >= self.settings.sure_score:
            return Lookup(query, local, (), local.candidates[0].movie_id, False, None)
        online = self.online_candidates(query, language=language, limit=limit)
        ranked = rank_candidates(query, online)
        online_top = ranked[0][0] if ranked else 0.0
        prefer = bool(ranked) and online_top >= top + self.settings.online_margin
        ordered = tuple(c for _, c in ranked)
        if not prefer:
            chosen = local.candidates[0].movie_id if local.confident else None
            return Lookup(query, local, ordered, chosen, False, None)
        sure = confident([(s, 0, i) for i, (s, _) in enumerate(ranked)])
        best = ordered[0] if sure else None
        return Lookup(query, local, ordered, best.movie_id if best else None, True, best)


# -- titles ------------------------------------------------------------------------------


def rank_candidates(query: str, online: list[Candidate]) -> list[tuple[float, Candidate]]:
    """TMDB's candidates scored against ``query`` by the dataset index's rules (TMDB's own
    order breaks ties), best first; a candidate matching no word of the query scores 0."""
    if not online:
        return []
    rows = [TitleRow(i, c.title, c.year) for i, c in enumerate(online)]
    index = index_over(rows)
    assert index is not None
    scores = {m.movie_id: m.score for m in index.search(query, len(rows)).candidates}
    ranked = [(scores.get(i, 0.0), i, c) for i, c in enumerate(online)]
    ranked.sort(key=lambda r: (-r[0], r[1]))
    return [(s, c) for s, _, c in ranked]


def title_row(movie: StoredMovie) -> TitleRow:
    aliases = tuple(a for a in (movie.original_title, *movie.alt_titles) if a)
    return TitleRow(movie.movie_id, movie.title, movie.year, aliases)


def _replace(card: MovieCard, **changes: Any) -> MovieCard:
    import dataclasses

    return dataclasses.replace(card, **changes)


__all__ = [
    "Catalogue",
    "Lookup",
    "Match",
    "NoTMDB",
    "rank_candidates",
]
