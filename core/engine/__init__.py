"""Engines: where a plugin's heavy fit runs. Plugins stay engine-agnostic::

    from reelpick import engine_for

    @hookimpl
    def reelpick_fit(self, dataset, params, store, config):
        index, score = engine_for(config).topk_cosine(matrix, k, min_support)

``LocalEngine`` runs the numba kernels in this process. ``SparkEngine`` (``engine.spark``,
loaded only when ``[engine] name = "spark"``: pyspark is an optional extra and is never
imported otherwise) runs the same work as Spark jobs and returns the same arrays. Either
way the plugin stores numpy arrays in its ArtifactStore, so serving never needs Spark.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
import scipy.sparse as sp

from ..neighbours import topk_cosine_sparse
from .settings import EngineName, EngineSettings

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Config

__all__ = ["AlsFactors", "Engine", "EngineName", "EngineSettings", "LocalEngine", "engine_for"]


class AlsFactors(Protocol):
    """What :meth:`Engine.fit_als` returns: factors indexed by the rows/columns it was given."""

    user_factors: np.ndarray  # n_users x rank, float32
    item_factors: np.ndarray  # n_items x rank, float32 (zero rows for items without ratings)


class Engine(Protocol):
    """The heavy operations a plugin may hand to an engine."""

    name: str

    def topk_cosine(
        self, ratings: sp.csr_matrix, k: int, min_support: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """:func:`reelpick.topk_cosine_sparse`'s table: the same ids, order, ties and scores."""

    def fit_als(
        self,
        ratings: sp.csr_matrix,
        rank: int,
        reg: float,
        max_iter: int,
        seed: int,
    ) -> AlsFactors:
        """Spark MLlib ALS (explicit ratings) on a users x items matrix."""

    def read_ratings(self, uri: str) -> pd.DataFrame:
        """Ratings (userId, movieId, rating, timestamp) from Parquet or CSV at ``uri``."""


class LocalEngine:
    """This machine: numba kernels; ALS through pyspark in local mode (it has no numba twin)."""

    name: str = EngineName.LOCAL

    def __init__(self, settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()

    def topk_cosine(
        self, ratings: sp.csr_matrix, k: int, min_support: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        return topk_cosine_sparse(ratings, k, min_support)

    def fit_als(
        self, ratings: sp.csr_matrix, rank: int, reg: float, max_iter: int, seed: int
    ) -> AlsFactors:
        return self._spark_local().fit_als(ratings, rank, reg, max_iter, seed)

    def read_ratings(self, uri: str) -> pd.DataFrame:
        return self._spark_local().read_ratings(uri)

    def _spark_local(self) -> Engine:
        from .spark import SparkEngine, local_master

        master = self.settings.master
        return SparkEngine(
            EngineSettings(
                name=EngineName.SPARK,
                master=master if master.startswith("local") else local_master(),
                conf=self.settings.conf,
            )
        )


def engine_for(config: Config | None, name: str | None = None) -> Engine:
    """The engine ``config`` selects (``name`` overrides ``[engine] name``)."""
    settings = config.settings.engine if config is not None else EngineSettings()
    if (name or settings.name) == EngineName.SPARK:
        # Imported here, never at module level: pyspark is an optional extra.
        from .spark import SparkEngine

        return SparkEngine(settings)
    return LocalEngine(settings)
