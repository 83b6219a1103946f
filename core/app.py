"""One object that holds what a front end needs: settings, data, titles and plugins.

The CLI and the bot both start from :meth:`Reelpick.open`; neither imports a plugin.
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path

from .config import Config
from .data.fetch import fetch_dataset
from .data.movielens import Dataset, load_dataset
from .data.search import SearchResult, TitleIndex
from .engine import EngineSettings, engine_for
from .errors import DataError
from .registry import Registry
from .types import PluginAnswer, Profile

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
    settings = EngineSettings.from_config(config)
    if settings.name != "spark" or not settings.ratings:
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
    """Settings + dataset + registry + title index, opened once per process."""

    def __init__(self, config: Config, dataset: Dataset, registry: Registry) -> None:
        self.config = config
        self.dataset = dataset
        self.registry = registry

    @classmethod
    def open(cls, config: Config, plugins: list[str] | None = None, fit: bool = True) -> Reelpick:
        dataset = with_engine_ratings(config, load_dataset(data_path(config)))
        registry = Registry(config)
        app = cls(config, dataset, registry)
        if fit:
            for name, error in registry.fit(dataset, plugins).items():
                if error:
                    log.error("plugin %s is unavailable: %s", name, error)
        return app

    @cached_property
    def titles(self) -> TitleIndex:
        return TitleIndex(self.dataset)

    def search(self, query: str, limit: int = 5) -> SearchResult:
        return self.titles.search(query, limit)

    def similar(
        self, movie_id: int, k: int, plugins: list[str] | None = None
    ) -> list[PluginAnswer]:
        return self.registry.similar(movie_id, k, plugins)

    def recommend(
        self, profile: Profile, k: int, plugins: list[str] | None = None
    ) -> list[PluginAnswer]:
        """Each recommending plugin's ``k`` picks for ``profile`` (none of its movies come back).

        A lookup or fold-in per plugin, never a refit: the bot and the CLI call it while a
        person waits.
        """
        return self.registry.recommend(profile, k, plugins)
