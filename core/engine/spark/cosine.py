"""cosine-CF's top-k table as Spark jobs, equal to the local kernel's.

Two plans, chosen by the size of the rating matrix (both CSR copies the kernel reads):

- **broadcast** (up to ``[engine.spark] broadcast_limit_mb``): the kernel's arrays are saved
  as .npy files and shipped to every executor with ``SparkContext.addFile`` (Spark's file
  broadcast); each task memory-maps them, so the Python workers of one executor share one
  copy in the page cache, and runs the numba kernel on its block of item rows. Blocks take
  items in strides, so every block gets a mix of popular and rare items. Output: exactly
  the local table (the same code computes every row).
- **self-join** (above the limit, when one executor could not hold the matrix): ratings
  joined with themselves on the user, summed per item pair with the support count, filtered
  by min_support, ranked per item with a window. It ranks by the kernel's own key
  (d |d| / |j|^2, ties to the lower column), in float64; with ratings in half stars every
  sum is exact, so the table is the kernel's bit for bit. We do not use
  ``RowMatrix.columnSimilarities``: it has no support count and no top-k (every pair comes
  back to be ranked anyway), and its threshold > 0 variant samples (approximate).

Whatever the plan, the arrays come back to the driver; the caller stores them only then,
so a failed or killed job leaves nothing in the cache.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ...neighbours import cosine_inputs, topk_cosine_prepared
from .session import spark_errors

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# Tests set this to make tasks fail (called in each task with (block, attempt)); it travels
# to the executors inside the task's closure.
task_fault: Callable[[int, int], None] | None = None
BLOCKS_PER_CORE = 4


def matrix_bytes(ratings: sp.csr_matrix) -> int:
    """Bytes of the two CSR copies the kernel reads (values, indices and pointers)."""
    users, items = ratings.shape
    return 2 * ratings.nnz * 8 + 8 * (users + items + 2)


def spark_topk_cosine(
    spark: SparkSession,
    ratings: sp.csr_matrix,
    k: int,
    min_support: int,
    broadcast_limit_mb: int,
) -> tuple[np.ndarray, np.ndarray]:
    size = matrix_bytes(ratings)
    plan = "broadcast" if size <= broadcast_limit_mb * (1 << 20) else "self-join"
    log.info("cosine on Spark: %.0f MiB matrix, %s plan", size / (1 << 20), plan)
    started = time.perf_counter()
    with spark_errors(f"cosine-CF on Spark ({plan})"):
        if plan == "broadcast":
            found = _broadcast(spark, ratings, k, min_support)
        else:
            found = _self_join(spark, ratings, k, min_support)
    log.info("cosine on Spark done in %.1f s", time.perf_counter() - started)
    return found


def _broadcast(
    spark: SparkSession, ratings: sp.csr_matrix, k: int, min_support: int
) -> tuple[np.ndarray, np.ndarray]:
    import pyarrow as pa
    from pyspark import SparkFiles

    sc = spark.sparkContext
    inputs = cosine_inputs(ratings)
    n_items = len(inputs["item_ptr"]) - 1
    k = min(k, max(n_items - 1, 0))
    tag = uuid.uuid4().hex[:12]  # addFile refuses a second, different file under one name
    with tempfile.TemporaryDirectory(prefix="reelpick-spark-") as tmp:
        names = {}
        for key, array in inputs.items():
            path = Path(tmp) / f"{tag}-{key}.npy"
            np.save(path, array)
            sc.addFile(str(path))
            names[key] = path.name
        del inputs
        n_blocks = max(1, min(n_items, sc.defaultParallelism * BLOCKS_PER_CORE))
        fault = task_fault

        def run_blocks(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            import numba
            import numpy as np
            from pyspark import TaskContext

            context = TaskContext.get()
            # One numba thread per core Spark gave this task (the other cores run other tasks).
            cpus = int(context.cpus()) if context else 1
            # numba.config sets its attributes at import, so its types do not list them.
            most = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
            numba.set_num_threads(max(1, min(cpus, most)))
            arrays = {
                key: np.load(SparkFiles.get(name), mmap_mode="r") for key, name in names.items()
            }
            for batch in batches:
                for block in batch.column(0).to_numpy():
                    if fault is not None:
                        fault(int(block), context.attemptNumber() if context else 0)
                    rows = np.arange(block, n_items, n_blocks, dtype=np.int64)
                    index, score = topk_cosine_prepared(arrays, k, min_support, rows)
                    yield pa.RecordBatch.from_arrays(
                        [
                            pa.array(np.repeat(rows.astype(np.int32), k)),
                            pa.array(index.ravel()),
                            pa.array(score.ravel()),
                        ],
                        names=["item", "neighbour", "score"],
                    )

        blocks = spark.range(0, n_blocks, numPartitions=n_blocks).toDF("block")
        table = blocks.mapInArrow(run_blocks, "item int, neighbour int, score float").toArrow()
    return _assemble(table, n_items, k)


def _self_join(
    spark: SparkSession, ratings: sp.csr_matrix, k: int, min_support: int
) -> tuple[np.ndarray, np.ndarray]:
    import pyarrow as pa
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    csr = sp.csr_matrix(ratings, dtype=np.float32)
    if not csr.has_canonical_format:
        csr = csr.copy()
        csr.sum_duplicates()
    coo = csr.tocoo()
    n_items = coo.shape[1]
    k = min(k, max(n_items - 1, 0))
    arrow = pa.table(
        {
            "u": coo.row.astype(np.int32),
            "i": coo.col.astype(np.int32),
            # float32 values widened exactly, as the kernel does before multiplying.
            "v": coo.data.astype(np.float64),
        }
    )
    rated = spark.createDataFrame(arrow)
    norms = rated.groupBy("i").agg(F.sum(F.col("v") * F.col("v")).alias("sq"))
    a, b = rated.alias("a"), rated.alias("b")
    pairs = (
        a.join(b, on=F.col("a.u") == F.col("b.u"))
        .where(F.col("a.i") != F.col("b.i"))
        .groupBy(F.col("a.i").alias("i"), F.col("b.i").alias("j"))
        .agg(F.sum(F.col("a.v") * F.col("b.v")).alias("dot"), F.count("*").alias("support"))
        .where(F.col("support") >= max(int(min_support), 1))
    )
    norms_j = norms.select(F.col("i").alias("j"), F.col("sq").alias("sq_j"))
    keyed = (
        pairs.join(norms_j, "j")
        .join(norms.withColumnRenamed("sq", "sq_i"), "i")
        .where((F.col("sq_j") > 0) & (F.col("sq_i") > 0))
        .withColumn("key", F.col("dot") * F.abs(F.col("dot")) / F.col("sq_j"))
    )
    ranked = keyed.withColumn(
        "rank",
        F.row_number().over(Window.partitionBy("i").orderBy(F.col("key").desc(), F.col("j").asc())),
    ).where(F.col("rank") <= k)
    table = ranked.select(
        F.col("i").alias("item"),
        F.col("rank"),
        F.col("j").alias("neighbour"),
        (F.signum("key") * F.sqrt(F.abs(F.col("key")) / F.col("sq_i")))
        .cast("float")
        .alias("score"),
    ).toArrow()
    index = np.full((n_items, k), -1, dtype=np.int32)
    score = np.zeros((n_items, k), dtype=np.float32)
    if table.num_rows:
        items = table.column("item").to_numpy()
        slots = table.column("rank").to_numpy() - 1
        index[items, slots] = table.column("neighbour").to_numpy()
        score[items, slots] = table.column("score").to_numpy()
    return index, score


def _assemble(table: pa.Table, n_items: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    index = np.full((n_items, k), -1, dtype=np.int32)
    score = np.zeros((n_items, k), dtype=np.float32)
    if k == 0 or table.num_rows == 0:
        return index, score
    items = table.column("item").to_numpy().reshape(-1, k)[:, 0]
    if len(np.unique(items)) != n_items:
        raise RuntimeError(f"Spark returned {len(np.unique(items))} of {n_items} item rows")
    index[items] = table.column("neighbour").to_numpy().reshape(-1, k)
    score[items] = table.column("score").to_numpy().reshape(-1, k)
    return index, score
