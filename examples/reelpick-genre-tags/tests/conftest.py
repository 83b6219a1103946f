"""Where the tests find reelpick_genre_tags and a real MovieLens dataset."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from reelpick.data import Dataset, load_dataset

HERE = Path(__file__).resolve().parent
try:  # installed (pip install -e .[test]) or not: the tests run either way
    import reelpick_genre_tags  # noqa: F401
except ImportError:
    sys.path.insert(0, str(HERE.parent / "src"))

CANDIDATES = [
    os.environ.get("REELPICK_TEST_DATA", ""),
    # Inside the reelpick repository: the shared test data beside the checkout.
    str(HERE.parents[3] / "shared" / "data" / "ml-latest-small"),
    # Where `reelpick data fetch ml-latest-small` puts it by default.
    "~/.local/share/reelpick/data/ml-latest-small",
]


@pytest.fixture(scope="session")
def movielens() -> Dataset:
    """ml-latest-small: from $REELPICK_TEST_DATA or the usual places."""
    for candidate in CANDIDATES:
        path = Path(candidate).expanduser()
        if candidate and (path / "movies.csv").is_file():
            return load_dataset(path)
    pytest.skip(
        "no MovieLens dataset found: run `reelpick data fetch ml-latest-small` "
        "or set REELPICK_TEST_DATA to a MovieLens folder"
    )
