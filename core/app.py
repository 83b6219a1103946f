"""One object that holds what a front end needs: settings, data, titles and plugins, and the
flows built on them: a person's picks and a group's picks.

The CLI, the bot and the evaluation start from a :class:`Reelpick` (:meth:`Reelpick.open`, or
one over a training split) and get picks only through :meth:`Reelpick.picks` and
:meth:`Reelpick.group_picks`; none of them imports a plugin.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .calibration import genres_of
from .catalogue.models import Candidate, MovieCard, is_catalogue_id
from .config import Config
from .data.fetch import fetch_dataset
from .data.movielens import Dataset, load_dataset
from .data.search import SearchResult, TitleIndex
from .engine import EngineName, engine_for
from .errors import DataError
from .groups import GroupPick, GroupSettings, recommend_for_group
from .picks import PickSettings, pick_for
from .registry import Registry
from .settings import Settings
from .types import PluginAnswer, Profile, Recommendation

if TYPE_CHECKING:
    from .catalogue.service import Catalogue, Lookup
    from .profiles import MovieMatcher

Member = TypeVar("Member", bound=Hashable)

log = logging.getLogger(__name__)


def data_path(config: Config, fetch_missing: bool = True) -> Path:
    """Where the configured dataset is: a folder or zip as given, or a named dataset in data.dir.

    A named dataset that is not there yet is downloaded when ``fetch_missing`` is true.
    """
    source = config.data_source
    path = Path(source).expanduser()
    looks_like_path = path.exists() or "/" in source or source.endswith(".zip")
    if looks_like_path:
        if not path.is_absolute() and config.path is not None and not path.exists():
            path = config.path.parent / path
        return path
    folder = config.data_dir / source
    if not folder.exists() and fetch_missing:
        log.warning("dataset %s is not in %s yet; downloading it", source, config.data_dir)
        fetch_dataset(source, config.data_dir)
    return folder


def with_engine_ratings(config: Config, dataset: Dataset) -> Dataset:
    """``dataset`` with its ratings replaced by ``[engine.spark] ratings`` when the Spark engine
    is chosen and that path is set (read by Spark: Parquet or CSV, local or remote)."""
    settings = config.settings.engine
    if settings.name != EngineName.SPARK or not settings.ratings:
        return dataset
    ratings = engine_for(config).read_ratings(settings.ratings)
    unknown = ~ratings["movieId"].isin(dataset.movies.index)
    if unknown.any():
        raise DataError(
            f"{settings.ratings}: movieId {int(ratings['movieId'][unknown].iloc[0])} is not in "
            f"{dataset.source}'s movies.csv"
        )
    # The label leaves the path out: the same ratings read from elsewhere share a cache entry.
    return dataset.with_ratings(ratings, label="ratings from [engine.spark] ratings")


class Reelpick:
    """Settings + dataset + registry + title index, opened once per process.

    ``settings`` are the config's sections checked once (:class:`~reelpick.settings.Settings`);
    front ends read them here rather than parsing ``config`` again.
    """

    def __init__(self, config: Config, dataset: Dataset, registry: Registry) -> None:
        self.config = config
        self.settings: Settings = config.settings
        self.dataset = dataset
        self.registry = registry

    @classmethod
    def open(cls, config: Config, plugins: list[str] | None = None, fit: bool = True) -> Reelpick:
        """Check the settings, load the configured dataset and (``fit``) fit the plugins."""
        _ = config.settings  # a mistake in config.toml stops here, before any loading
        dataset = with_engine_ratings(config, load_dataset(data_path(config), config.cache_dir))
        registry = Registry(config)
        app = cls(config, dataset, registry)
        if fit:
            for name, error in registry.fit(dataset, plugins).items():
                if error:
                    log.error("plugin %s is unavailable: %s", name, error)
        return app

    @cached_property
    def titles(self) -> TitleIndex:
        return TitleIndex(self.dataset, self.settings.search)

    def search(self, query: str, limit: int = 5) -> SearchResult:
        """Dataset and catalogue titles for ``query``, best first; never asks TMDB (see
        :meth:`lookup` for that)."""
        return self.catalogue.search(self.titles, query, limit)

    # -- the catalogue: cards, TMDB candidates, movies beyond the dataset ----------------

    @cached_property
    def catalogue(self) -> Catalogue:
        """TMDB (when credentials are set) + the catalogue file under the data folder."""
        from .catalogue.service import Catalogue
        from .posters.tmdb import TMDBClient

        return Catalogue(self.config, self.dataset, TMDBClient.from_config(self.config))

    @property
    def tmdb_available(self) -> bool:
        """True when TMDB credentials are set (cards, online candidates, sync)."""
        return self.catalogue.available

    def card(
        self, movie_id: int, *, region: str | None = None, language: str | None = None
    ) -> MovieCard:
        """A dataset or catalogue movie's card; without TMDB the dataset's fields only."""
        return self.catalogue.card(movie_id, region=region, language=language)

    def online_candidates(
        self, query: str, *, language: str | None = None, limit: int = 5
    ) -> list[Candidate]:
        """TMDB's search results for ``query`` ([] without a TMDB key)."""
        return self.catalogue.online_candidates(query, language=language, limit=limit)

    def add_from_tmdb(self, tmdb_id: int) -> int:
        """Store a TMDB movie in the catalogue and return its movie id (no refit); a movie
        already in the dataset or the catalogue keeps its id."""
        return self.catalogue.add(tmdb_id)

    def providers(self, region: str) -> list[str]:
        """Names of the streaming services TMDB lists for ``region`` ([] without a key)."""
        return self.catalogue.providers(region)

    def knows(self, movie_id: int) -> bool:
        """Whether ``movie_id`` is a dataset movie or a catalogue movie stored here (the
        catalogue file only: never asks TMDB, so a file of made-up ids costs no request)."""
        if not is_catalogue_id(movie_id):
            return movie_id in self.dataset
        return self.catalogue.held(movie_id) is not None

    def movie_matcher(self) -> MovieMatcher:
        """A matcher of import rows (titles, IMDb ids, movieIds) against the dataset, that
        also takes the stored catalogue movies by movieId; build once, reuse (it caches)."""
        from .profiles import MovieMatcher

        return MovieMatcher(self.dataset, index=self.titles, beyond=self.knows)

    def movie_title(self, movie_id: int) -> str:
        """``"Title (Year)"`` for dataset and catalogue movies."""
        return self.catalogue.movie_title(movie_id)

    def lookup(self, query: str, *, language: str | None = None) -> Lookup:
        """A typed title against dataset + catalogue titles and, unless a local title is a
        sure match, TMDB's search (:class:`reelpick.catalogue.service.Lookup`)."""
        return self.catalogue.lookup(self.titles, query, language=language)

    def similar(
        self, movie_id: int, k: int, plugins: list[str] | None = None
    ) -> list[PluginAnswer]:
        """Each plugin's ``k`` movies similar to ``movie_id`` (:meth:`ask`, plugin by plugin).
        A catalogue id stored nowhere is a :class:`DataError` before any plugin is asked."""
        if is_catalogue_id(movie_id):
            self.catalogue.new_movie(movie_id)
        return [self.ask(name, movie_id, k) for name in self.registry.enabled(plugins)]

    def ask(self, name: str, movie_id: int, k: int) -> PluginAnswer:
        """Plugin ``name``'s ``k`` movies similar to a dataset or catalogue movie.

        A catalogue movie is outside every fitted plugin's data: plugins that place a movie
        by its content answer (``reelpick_similar_new``), the others say "no ratings yet"
        instead of failing. Front ends that ask plugins concurrently (the bot) call this
        once per plugin, so both kinds of movie go the same way everywhere."""
        if not is_catalogue_id(movie_id):
            return self.registry.ask(name, movie_id, k)
        movie = self.catalogue.new_movie(movie_id)  # DataError for an id stored nowhere
        if self.registry.implements(name, "reelpick_similar_new"):
            return self.registry.ask_new(name, movie, k)
        return PluginAnswer(
            name,
            self.registry.plugins[name].info.label,
            no_answer=f"no ratings yet: {self.movie_title(movie_id)} is newer than the rating data",
        )

    def recommend(
        self, profile: Profile, k: int, plugins: list[str] | None = None
    ) -> list[PluginAnswer]:
        """Each recommending plugin's ``k`` picks for ``profile`` (none of its movies come back).

        A lookup or fold-in per plugin, never a refit: the bot and the CLI call it while a
        person waits.
        """
        return self.registry.recommend(profile, k, plugins)

    def picks(
        self,
        profile: Profile,
        k: int,
        *,
        exclude: frozenset[int] | set[int] = frozenset(),
        answers: Sequence[PluginAnswer] | None = None,
        settings: PickSettings | None = None,
    ) -> list[Recommendation]:
        """The ``k`` picks for ``profile``: the recommending plugins' answers fused by rank with
        the ``[picks]`` weights (:func:`reelpick.picks.pick`).

        ``answers``: fuse these instead of asking the fitted plugins (a front end that asks
        each plugin itself, within a time budget, or shows the answers too). ``settings``:
        other weights than the configured ones (the tuner tries a grid of them). Of either,
        the set for the person's situation applies (:meth:`PickSettings.for_profile`).
        """
        chosen = (settings or self.settings.picks).for_profile(profile)
        if answers is None:
            fitted = [n for n in self.registry.enabled() if self.registry.plugins[n].fitted]
            answers = self.registry.recommend(profile, chosen.depth(k), fitted, exclude)
        genres = genres_of(self.dataset)
        if chosen.calibration > 0:  # catalogue movies count by their own genres
            listed = [n.movie_id for a in answers for n in a.neighbours]
            beyond = {m for m in (*listed, *profile.ratings, *profile.seen) if is_catalogue_id(m)}
            if beyond:
                genres = genres.extended(self.catalogue.genres(beyond))
        return pick_for(profile, list(answers), k, chosen, genres)

    def group_picks(
        self,
        member_profiles: Mapping[Member, Profile],
        k: int,
        *,
        prior: Sequence[int] = (),
        exclude: frozenset[int] | set[int] = frozenset(),
        fair: bool = True,
        settings: GroupSettings | None = None,
        personal: Mapping[Member, Sequence[int]] | None = None,
    ) -> list[GroupPick]:
        """One list of ``k`` movies for the members (:func:`reelpick.groups.recommend_for_group`).

        Each member's personal list is their :meth:`picks`, ``settings.depth`` long (a member
        without ratings takes no part); ``personal`` gives those lists already made by
        :meth:`picks` (the evaluation makes each member's once, for many groups). Members weigh
        by the size of their profiles. ``settings``: other ``[groups]`` settings than the
        configured ones (the tuner tries a grid of them).
        """
        chosen = settings or self.settings.groups
        if personal is None:
            personal = {
                member: [r.movie_id for r in self.picks(profile, chosen.depth, exclude=exclude)]
                if profile.ratings
                else []
                for member, profile in member_profiles.items()
            }
        lists = {member: personal.get(member, []) for member in member_profiles}
        sizes = {member: len(profile.ratings) for member, profile in member_profiles.items()}
        return recommend_for_group(
            lists, k, chosen, prior=prior, exclude=exclude, fair=fair, profile_sizes=sizes
        )
