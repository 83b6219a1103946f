"""Spark MLlib ALS on explicit ratings; the factors come back to the driver as numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from .session import spark_errors

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession


@dataclass
class SparkAlsFactors:
    user_factors: np.ndarray  # n_users x rank (rows of the matrix given)
    item_factors: np.ndarray  # n_items x rank; zero rows for items without ratings


def spark_fit_als(
    spark: SparkSession, ratings: sp.csr_matrix, rank: int, reg: float, max_iter: int, seed: int
) -> SparkAlsFactors:
    import pyarrow as pa
    from pyspark.ml.recommendation import ALS

    coo = sp.coo_matrix(ratings)
    table = pa.table(
        {
            "user": coo.row.astype(np.int32),
            "item": coo.col.astype(np.int32),
            "rating": coo.data.astype(np.float32),
        }
    )
    n_users, n_items = ratings.shape
    with spark_errors("ALS on Spark"):
        # A fixed number of partitions: the data's layout, and so the fit, do not depend on
        # the cluster's size (the same seed gives the same factors).
        frame = spark.createDataFrame(table).repartition(4, "user")
        als = ALS(
            rank=rank,
            regParam=reg,
            maxIter=max_iter,
            seed=seed,
            userCol="user",
            itemCol="item",
            ratingCol="rating",
            implicitPrefs=False,
            nonnegative=False,
            numUserBlocks=4,
            numItemBlocks=4,
        )
        model = als.fit(frame)
        users = model.userFactors.toArrow()
        items = model.itemFactors.toArrow()
    return SparkAlsFactors(
        user_factors=_dense(users, n_users, rank), item_factors=_dense(items, n_items, rank)
    )


def _dense(table: pa.Table, n: int, rank: int) -> np.ndarray:
    factors = np.zeros((n, rank), dtype=np.float32)
    ids = table.column("id").to_numpy()
    if len(ids):
        values = table.column("features").combine_chunks().flatten().to_numpy()
        factors[ids] = values.reshape(len(ids), rank)
    return factors
