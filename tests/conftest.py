"""Fixtures for every test (helpers and data paths: tests/support/fixtures.py; each folder's
own in its conftest.py). Real MovieLens files and posters are read from ../shared, never
copied."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reelpick.config import Config
from reelpick.data import Dataset, load_dataset
from tests.support.fixtures import (
    ML_SMALL,
    REPO,
    SPARK_TEST_CONF,
    require_spark,
    skip_or_fail,
    write_config,
    write_movielens,
)


@pytest.fixture(scope="session")
def _run_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default cache folder of this run (of this worker, under pytest-xdist): shared by
    the tests, as a person's cache is by their commands, and never the developer's."""
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture(autouse=True)
def _isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, _run_cache: Path
) -> None:
    """Tests never read or write the developer's config, cache, people's data or secrets."""
    for name in list(os.environ):
        if name.startswith("REELPICK_") or name in (
            "TELEGRAM_BOT_TOKEN",
            "TMDB_API_KEY",
            "TMDB_READ_TOKEN",
        ):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REELPICK_CONFIG", str(REPO / "config.toml"))
    # The default state folder (profiles, movie nights) and data folder (downloads, the
    # catalogue of TMDB movies): each test its own.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(_run_cache))


@pytest.fixture(scope="session")
def require_shared():
    """``require_shared(path, ...)``: skip when a file from ../shared is missing, except under
    CI (``CI`` set to any non-empty value), where a missing fixture fails the test instead of
    passing it unnoticed."""

    def require(*paths: Path) -> None:
        missing = [str(p) for p in paths if not Path(p).exists()]
        if not missing:
            return
        skip_or_fail(f"shared test data not found: {', '.join(missing)}")

    return require


@pytest.fixture(scope="session")
def ml_small() -> Dataset:
    """The real ml-latest-small (2018), loaded once per test session."""
    return load_dataset(ML_SMALL)


@pytest.fixture
def make_config(tmp_path: Path):
    """Build a Config over ``text`` with data and cache pointed at test locations."""

    def make(
        text: str = "", data: Path | str = ML_SMALL, enabled: list[str] | None = None
    ) -> Config:
        header = f'[data]\nsource = "{data}"\n[cache]\ndir = "{tmp_path / "cache"}"\n'
        if enabled is not None:
            header += "[plugins]\nenabled = [" + ", ".join(f'"{n}"' for n in enabled) + "]\n"
        return write_config(tmp_path, header + text)

    return make


@pytest.fixture
def small_movielens(tmp_path: Path) -> Path:
    return write_movielens(tmp_path / "ml-small-generated")


# -- Spark (tests/core/test_spark.py, tests/plugins/test_als.py) -----------------------------


@pytest.fixture(scope="session")
def spark():
    """One local[2] SparkSession for every Spark test (reelpick's engines reuse it)."""
    require_spark()
    from reelpick.engine.settings import EngineSettings
    from reelpick.engine.spark import stop_session
    from reelpick.engine.spark.session import spark_session

    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"  # before the JVM starts
    session = spark_session(EngineSettings(name="spark", master="local[2]", conf=SPARK_TEST_CONF))
    yield session
    stop_session()
