"""The Spark engine: everything that imports pyspark lives in this package.

Loaded only when ``[engine] name = "spark"`` (or by ALS, which always trains on Spark):
``reelpick.engine.engine_for`` imports it inside a function, so the CLI, the bot and the
plugins never import pyspark at import time.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ...errors import DataError
from ..settings import EngineSettings
from .als import SparkAlsFactors, spark_fit_als
from .cosine import spark_topk_cosine
from .session import java_available, local_master, spark_errors, spark_session, stop_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["SparkEngine", "java_available", "local_master", "stop_session"]

log = logging.getLogger(__name__)

RATING_COLUMNS = ("userId", "movieId", "rating")


class SparkEngine:
    """Heavy fits as Spark jobs; every method returns numpy/pandas on the driver."""

    name = "spark"

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings

    @property
    def session(self) -> SparkSession:
        return spark_session(self.settings)

    def topk_cosine(
        self, ratings: sp.csr_matrix, k: int, min_support: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        return spark_topk_cosine(
            self.session, ratings, k, min_support, self.settings.broadcast_limit_mb
        )

    def fit_als(
        self, ratings: sp.csr_matrix, rank: int, reg: float, max_iter: int, seed: int
    ) -> SparkAlsFactors:
        return spark_fit_als(self.session, ratings, rank, reg, max_iter, seed)

    def read_ratings(self, uri: str) -> pd.DataFrame:
        """Ratings from Parquet (a file or folder) or CSV with a header, at any path Spark
        reads (file://, hdfs://, s3a:// through spark.hadoop.* settings)."""
        from pyspark.sql import functions as F

        spark = self.session
        with spark_errors(f"reading ratings from {uri}"):
            if uri.rstrip("/").lower().endswith((".csv", ".csv.gz")):
                frame = spark.read.option("header", "true").option("inferSchema", "true").csv(uri)
            else:
                frame = spark.read.parquet(uri)
            missing = [c for c in RATING_COLUMNS if c not in frame.columns]
            if missing:
                raise DataError(
                    f"{uri}: ratings need columns {', '.join(RATING_COLUMNS)}; "
                    f"missing {', '.join(missing)} (found: {', '.join(frame.columns)})"
                )
            stamp = F.col("timestamp") if "timestamp" in frame.columns else F.lit(0)
            table = frame.select(
                F.col("userId").cast("long"),
                F.col("movieId").cast("long"),
                F.col("rating").cast("float"),
                stamp.cast("long").alias("timestamp"),
            ).toArrow()
        ratings: pd.DataFrame = table.to_pandas()
        # The same ratings give the same fingerprint, whatever order Spark read them in.
        return ratings.sort_values(["userId", "movieId"], kind="stable").reset_index(drop=True)
