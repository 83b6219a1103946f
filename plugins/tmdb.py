"""tmdb: "People on TMDB also liked", TMDB's own recommendations for a movie, asked online.

TMDB builds those lists from what its users rate and list together; this plugin translates
them: a dataset movie -> its TMDB id (links.csv) -> TMDB's list -> the dataset movies on it,
in TMDB's order, scored 1 / (1 + TMDB's rank). A catalogue movie (from TMDB, beyond the
rating data) is asked about by its own TMDB id. It learns nothing: the fit only remembers
the dataset's movieId <-> tmdbId links, and the lists come through reelpick's TMDB client,
cached on disk for ``[tmdb] recommendations_ttl_days``.

A dataset movie's list names dataset movies (the registry's rule for similar movies). A
catalogue movie's list also names the movies of the local catalogue TMDB recommends: a new
film's "also liked" are mostly other new films, which the rating data has not. TMDB's movies
in neither are left out. Nothing is written to the plugin's ArtifactStore: it would be
``<cache>/tmdb/``, the folder of the TMDB answers.

It asks a web service while a person waits, so it is marked online (evaluation and tuning
leave it out) and is not enabled by default. Without TMDB credentials (TMDB_API_KEY or
TMDB_READ_TOKEN), or while TMDB cannot be reached, it answers NoAnswer and the other plugins
are unaffected.
"""

from __future__ import annotations

import logging
import threading

from reelpick import (
    CatalogueReader,
    Config,
    ConfigError,
    Dataset,
    Neighbour,
    NewMovie,
    NoAnswer,
    PluginInfo,
    TMDBError,
    TMDBNotFound,
    TMDBRecommendations,
    hookimpl,
)

log = logging.getLogger(__name__)

NO_KEY = TMDBRecommendations.NO_CREDENTIALS


class TMDBAlsoLiked:
    def __init__(self) -> None:
        self.tmdb: TMDBRecommendations | None = None
        self.tmdb_of: dict[int, int] = {}  # dataset movieId -> TMDB id
        self.movie_of: dict[int, int] = {}  # TMDB id -> dataset movieId (the lowest, if shared)
        self.pages = 2
        self.catalogue: CatalogueReader | None = None
        self._catalogue_ids: tuple[tuple[int, float], dict[int, int]] | None = None
        self._lock = threading.Lock()

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            label="People on TMDB also liked",
            description="TMDB's recommendations for the movie, asked online (needs a TMDB key).",
            version="1",
            params={"pages": 2},  # pages of TMDB's list read per movie (20 movies each)
            online=True,
        )

    @hookimpl
    def reelpick_fit(self, dataset: Dataset, params: dict, config: Config) -> None:
        if not isinstance(params["pages"], int) or params["pages"] < 1:
            raise ConfigError(f"{config.where('plugins', 'tmdb', 'pages')}: must be 1 or more")
        self.pages = params["pages"]
        links = dataset.movies["tmdb_id"].dropna()
        self.tmdb_of = dict(zip(links.index.tolist(), links.astype("int64").tolist(), strict=True))
        self.movie_of = {}
        for movie, tmdb in sorted(self.tmdb_of.items()):
            self.movie_of.setdefault(tmdb, movie)
        if self.tmdb is not None:
            self.tmdb.close()
        if self.catalogue is not None:
            self.catalogue.close()
        self.catalogue = CatalogueReader(config)
        self._catalogue_ids = None
        self.tmdb = TMDBRecommendations(config)
        if not self.tmdb.available:
            log.info("tmdb: no TMDB credentials in the environment; it will answer %r", NO_KEY)

    @hookimpl
    def reelpick_similar(self, movie_id: int, k: int) -> list[Neighbour]:
        tmdb_id = self.tmdb_of.get(int(movie_id))
        if tmdb_id is None:
            raise NoAnswer("no TMDB id is known for this movie")
        return self._also_liked(tmdb_id, k, query=int(movie_id))

    @hookimpl
    def reelpick_similar_new(self, movie: NewMovie, k: int) -> list[Neighbour]:
        if movie.tmdb_id is None:
            raise NoAnswer("no TMDB id is known for this movie")
        query = self.movie_of.get(movie.tmdb_id, movie.movie_id)
        return self._also_liked(movie.tmdb_id, k, query, self._catalogue_movies())

    def _catalogue_movies(self) -> dict[int, int]:
        """TMDB id -> movie id of the local catalogue's movies, read again when it changed."""
        if self.catalogue is None:
            return {}
        with self._lock:
            signature = self.catalogue.signature()
            if signature is None:
                return {}
            if self._catalogue_ids is None or self._catalogue_ids[0] != signature:
                self._catalogue_ids = (signature, self.catalogue.tmdb_ids())
            return self._catalogue_ids[1]

    def _also_liked(
        self, tmdb_id: int, k: int, query: int | None, catalogue: dict[int, int] | None = None
    ) -> list[Neighbour]:
        """TMDB's list for ``tmdb_id`` as dataset movies (and ``catalogue`` movies: TMDB id
        -> movie id), best first, ``query`` left out."""
        if k < 1:
            return []
        if self.tmdb is None or not self.tmdb.available:
            raise NoAnswer(NO_KEY)
        try:
            recommended = self.tmdb.recommended(tmdb_id, self.pages)
        except TMDBNotFound:
            raise NoAnswer("TMDB does not know this movie") from None
        except TMDBError as exc:
            if exc.outage:
                raise NoAnswer("TMDB cannot be reached right now") from None
            log.warning("tmdb: TMDB refused the request: %s", exc)
            raise NoAnswer(f"TMDB refused the request ({exc})") from None
        found: dict[int, float] = {}
        for rank, other in enumerate(recommended):
            movie_id = self.movie_of.get(other)
            if movie_id is None and catalogue:
                movie_id = catalogue.get(other)
            if movie_id is not None and movie_id != query and movie_id not in found:
                found[movie_id] = 1.0 / (1.0 + rank)
                if len(found) == k:
                    break
        if not found:
            raise NoAnswer("none of the movies TMDB recommends for it is known here")
        return [Neighbour(movie_id, score) for movie_id, score in found.items()]
