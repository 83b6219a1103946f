"""The Spark engine: the same cosine-CF table as the local kernel, faults in one line, no
half-written cache. One local[2] session for the whole file (fixture ``spark``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from reelpick import topk_cosine_sparse
from reelpick.app import Reelpick
from reelpick.config import load_config
from reelpick.engine import EngineSettings, engine_for
from reelpick.engine.spark import SparkEngine
from reelpick.engine.spark import cosine as spark_cosine
from reelpick.errors import ConfigError, DataError
from reelpick.neighbours import NeighbourTable
from reelpick.testing import save_dataset, small_dataset
from tests.support.fixtures import REPO, require_spark

pytestmark = pytest.mark.usefixtures("spark")


@pytest.fixture(scope="module")
def small(ml_small):
    return small_dataset(ml_small, n_movies=300)


def half_stars(n_users: int = 120, n_items: int = 40, density: float = 0.3, seed: int = 1):
    """Synthetic ratings in half stars, with many equal cosines (ties) to break the same way."""
    rng = np.random.default_rng(seed)
    dense = np.where(
        rng.random((n_users, n_items)) < density, rng.integers(1, 11, (n_users, n_items)) / 2, 0
    )
    dense[:, 5] = dense[:, 3]  # identical columns: exact ties
    dense[:, 7] = 2 * dense[:, 3]  # parallel column: another exact tie, at a higher column
    dense[:, 11] = 0  # an unrated item
    return sp.csr_matrix(dense.astype(np.float32))


def assert_same_table(got, want) -> None:
    (gi, gs), (wi, ws) = got, want
    assert gi.shape == wi.shape
    np.testing.assert_array_equal(gi, wi)  # same ids, same order, same ties
    np.testing.assert_allclose(gs, ws, rtol=0, atol=1e-6)


def spark_engine(**settings) -> SparkEngine:
    return SparkEngine(EngineSettings(name="spark", **settings))


def test_broadcast_plan_equals_local_on_real_slice(small) -> None:
    matrix = small.matrix.matrix
    for k, min_support in ((50, 3), (10, 1)):
        assert_same_table(
            spark_engine().topk_cosine(matrix, k, min_support),
            topk_cosine_sparse(matrix, k, min_support),
        )


def test_self_join_plan_equals_local_with_ties() -> None:
    matrix = half_stars()
    for min_support in (1, 4):
        assert_same_table(
            spark_engine(broadcast_limit_mb=0).topk_cosine(matrix, 8, min_support),
            topk_cosine_sparse(matrix, 8, min_support),
        )


def test_broadcast_plan_equals_local_on_centred_values() -> None:
    # Adjusted cosine: negative values and stored zeros (support counting on).
    matrix = half_stars(seed=2)
    centred = matrix.copy()
    centred.data -= np.float32(3.0)
    assert_same_table(spark_engine().topk_cosine(centred, 8, 2), topk_cosine_sparse(centred, 8, 2))


def _config(tmp_path: Path, dataset, engine: str = "spark", extra: str = ""):
    folder = save_dataset(dataset, tmp_path / "data")
    (tmp_path / "config.toml").write_text(
        f'[data]\nsource = "{folder}"\n[cache]\ndir = "{tmp_path / "cache"}"\n'
        f'[plugins]\nenabled = ["cosine-cf"]\n[engine]\nname = "{engine}"\n{extra}'
    )
    return load_config(tmp_path / "config.toml")


def test_cosine_cf_plugin_stores_the_local_table(tmp_path: Path, small) -> None:
    spark_app = Reelpick.open(_config(tmp_path / "s", small, "spark"))
    local_app = Reelpick.open(_config(tmp_path / "l", small, "local"))
    stores = [app.registry.plugins["cosine-cf"].store for app in (spark_app, local_app)]
    assert stores[0].key == stores[1].key  # one cache entry, whichever engine filled it
    tables = [NeighbourTable.load(store) for store in stores]
    assert_same_table((tables[0].index, tables[0].score), (tables[1].index, tables[1].score))


def test_a_failed_job_leaves_no_store(tmp_path: Path, small, monkeypatch) -> None:
    def always_fail(block: int, attempt: int) -> None:
        raise RuntimeError(f"injected failure in block {block}")

    monkeypatch.setattr(spark_cosine, "task_fault", always_fail)
    app = Reelpick.open(_config(tmp_path, small), fit=False)
    error = app.registry.fit(app.dataset)["cosine-cf"]
    assert error.startswith("EngineError: cosine-CF on Spark (broadcast) failed:")
    assert "\n" not in error
    assert not app.registry.plugins["cosine-cf"].store.path.exists()


def test_a_crashed_worker_is_retried(small, monkeypatch) -> None:
    def crash_first_attempt(block: int, attempt: int) -> None:
        if block == 0 and attempt == 0:
            os._exit(3)  # the Python worker dies mid-task, as when an executor is lost

    monkeypatch.setattr(spark_cosine, "task_fault", crash_first_attempt)
    matrix = small.matrix.matrix
    assert_same_table(spark_engine().topk_cosine(matrix, 20, 3), topk_cosine_sparse(matrix, 20, 3))


def test_ratings_from_parquet_and_csv(tmp_path: Path, small) -> None:
    ratings = small.ratings.sample(frac=1.0, random_state=0)  # order must not matter
    ratings.to_parquet(tmp_path / "ratings.parquet")
    ratings.to_csv(tmp_path / "ratings.csv", index=False)
    fingerprints = set()
    for name in ("ratings.parquet", "ratings.csv"):
        uri = f"file://{tmp_path / name}"
        config = _config(
            tmp_path / f"cfg-{name}", small, extra=f'[engine.spark]\nratings = "{uri}"\n'
        )
        app = Reelpick.open(config, fit=False)
        assert len(app.dataset.ratings) == len(small.ratings)
        fingerprints.add(app.dataset.fingerprint)
    assert len(fingerprints) == 1


def test_a_missing_path_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        spark_engine().read_ratings(f"file://{tmp_path}/nowhere.parquet")
    assert "nowhere.parquet" in str(caught.value) and "\n" not in str(caught.value)


def test_engine_settings_errors_are_one_line(make_config, monkeypatch) -> None:
    with pytest.raises(ConfigError, match=r"\[engine\] name: unknown engine 'hadoop'"):
        engine_for(make_config('[engine]\nname = "hadoop"\n'))
    with pytest.raises(ConfigError, match=r"\[engine.spark.conf\] spark.x: expected a string"):
        engine_for(make_config('[engine.spark.conf]\n"spark.x" = [1]\n'))
    with pytest.raises(ConfigError, match=r"\[engine.spark\] mastr: unknown setting"):
        make_config('[engine.spark]\nmastr = "local[2]"\n')
    monkeypatch.setenv("REELPICK_ENGINE", "spark")
    monkeypatch.setenv("REELPICK_SPARK_MASTER", "spark://10.0.0.1:7077")
    settings = make_config().settings.engine
    assert (settings.name, settings.master) == ("spark", "spark://10.0.0.1:7077")


def _cli(tmp_path: Path, small, env: dict[str, str]) -> subprocess.CompletedProcess:
    config = _config(tmp_path, small, engine="local")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("REELPICK_", "JAVA_HOME"))}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "reelpick",
            "--config",
            str(config.path),
            "fit",
            "--engine",
            "spark",
        ],
        capture_output=True,
        text=True,
        env=base | env,
        cwd=REPO,
        timeout=120,
    )


def test_a_master_that_does_not_answer_is_one_line(tmp_path: Path, small) -> None:
    done = _cli(tmp_path, small, {"REELPICK_SPARK_MASTER": "spark://127.0.0.1:9"})
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("reelpick: Spark master spark://127.0.0.1:9 does not answer")
    )
    assert not (tmp_path / "cache" / "cosine-cf").exists()


def test_java_missing_is_one_line(tmp_path: Path, small) -> None:
    require_spark()
    python_only = str(Path(sys.executable).parent)  # no java on this PATH
    done = _cli(tmp_path, small, {"PATH": python_only})
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "reelpick: Java not found: Spark needs a Java 17+ runtime (set JAVA_HOME or PATH)"
    )
