"""Test helpers: where the shared real data is, and writers of small config and data files.

Tests import these (``from tests.support.fixtures import ML_SMALL``); conftest.py holds only
fixtures, since pytest advises never importing from a conftest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import numpy as np
import pandas as pd
import pytest

from reelpick.config import Config, load_config

if TYPE_CHECKING:
    from tests.support.tmdb_server import TMDBServer

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("REELPICK_SHARED", REPO.parent / "shared"))
ML_SMALL = SHARED / "data" / "ml-latest-small"
ML_SMALL_2016 = SHARED / "data" / "ml-latest-small-2016"
POSTERS = SHARED / "data" / "posters"
VGG16_WEIGHTS = SHARED / "models" / "vgg16_imagenet_notop.weights.h5"


def write_config(path: Path, text: str = "", **env_like: str) -> Config:
    """Write a config.toml under ``path`` and load it."""
    file = path / "config.toml"
    file.write_text(text)
    return load_config(file)


def write_movielens(
    folder: Path,
    n_users: int = 40,
    n_movies: int = 30,
    density: float = 0.3,
    seed: int = 0,
) -> Path:
    """A small, valid MovieLens folder: two taste groups so that similarity has structure."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    genres = ["Action|Thriller", "Animation|Children|Comedy", "Drama", "Comedy|Romance"]
    movies = pd.DataFrame(
        {
            "movieId": np.arange(1, n_movies + 1),
            "title": [f"Movie {i} ({1990 + i % 30})" for i in range(1, n_movies + 1)],
            "genres": [genres[i % len(genres)] for i in range(n_movies)],
        }
    )
    rows = []
    for user in range(1, n_users + 1):
        group = user % 2
        for movie in range(1, n_movies + 1):
            if rng.random() < density:
                liked = (movie % 2) == group
                rating = np.clip(np.round((4.2 if liked else 2.0) + rng.normal(0, 0.6)), 1, 5)
                rows.append((user, movie, float(rating), 1_000_000_000 + len(rows)))
    ratings = pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])
    links = pd.DataFrame(
        {
            "movieId": movies.movieId,
            "imdbId": [f"{100000 + i:07d}" for i in movies.movieId],
            "tmdbId": 1000 + movies.movieId,
        }
    )
    movies.to_csv(folder / "movies.csv", index=False)
    ratings.to_csv(folder / "ratings.csv", index=False)
    links.to_csv(folder / "links.csv", index=False)
    pd.DataFrame(columns=["userId", "movieId", "tag", "timestamp"]).to_csv(
        folder / "tags.csv", index=False
    )
    return folder


# -- Spark (tests/core/test_spark.py, tests/plugins/test_als.py) -----------------------------

# The hybrid small and quick, without posters: enough to place new films in a test (the SGD
# fit underneath is what costs). As a [plugins.hybrid] table: hybrid_table().
FAST_HYBRID = {
    "sgd_factors": 8,
    "sgd_epochs": 8,
    "sgd_ensemble": 1,
    "mlp_epochs": 8,
    "mlp_hidden": 32,
    "tag_terms": 50,
    "neighbours": 20,
    "posters": False,
}


def hybrid_table(**more: object) -> str:
    """:data:`FAST_HYBRID` (and ``more``) as the lines of a ``[plugins.hybrid]`` table."""
    return "".join(f"{k} = {json.dumps(v)}\n" for k, v in {**FAST_HYBRID, **more}.items())


SPARK_TEST_CONF = {
    # Loopback only, no web UI: tests never open a port to the network.
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
}


def in_ci() -> bool:
    """Whether this is a CI run: ``CI`` set to any non-empty value (``true``, ``1``, ``yes``...,
    as CI services set it). A CI run skips nothing for a missing fixture or tool: it fails."""
    return bool(os.environ.get("CI", "").strip())


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test for ``reason``, or fail it under CI (a skip there would pass unnoticed)."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set: a missing fixture is a failure, not a skip)")
    pytest.skip(reason)


def require_spark() -> None:
    """Skip without Java or pyspark, except under CI (:func:`in_ci`), where that is a failure."""
    import importlib.util

    from reelpick.engine.spark import java_available

    missing = [
        what
        for what, ok in (
            ("pyspark", importlib.util.find_spec("pyspark") is not None),
            ("Java", java_available()),
        )
        if not ok
    ]
    if missing:
        skip_or_fail(f"Spark tests need {' and '.join(missing)} (pip install -e '.[spark]')")


def stand_in_config(
    root: Path,
    server: TMDBServer,
    monkeypatch: pytest.MonkeyPatch,
    *,
    key: bool = True,
    timeout: float = 2.0,
    text: str = "",
) -> Config:
    """A config over ml-latest-small whose TMDB is ``server``, its data, catalogue and cache
    folders under ``root`` (a second config over the same ``root`` is a restart), with the
    stand-in's key in the environment (or none), and ``text`` appended."""
    root.mkdir(parents=True, exist_ok=True)
    if key:
        monkeypatch.setenv("TMDB_API_KEY", server.api_key)
    else:
        monkeypatch.delenv("TMDB_API_KEY", raising=False)
    return write_config(
        root,
        f'[data]\nsource = "{ML_SMALL}"\ndir = "{root / "data"}"\n'
        f'[cache]\ndir = "{root / "cache"}"\n'
        f'[posters]\napi_url = "{server.api_url}"\ntimeout = {timeout}\nretries = 1\n'
        "requests_per_second = 0\n" + text,
    )
