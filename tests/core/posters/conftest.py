"""Fixtures of the poster tests: the TMDB test server."""

from __future__ import annotations

import pytest

from tests.support.tmdb_server import TMDBServer


@pytest.fixture
def server():
    """The TMDB test server; its 429s ask for a one-second wait and its slow faults take one
    second."""
    with TMDBServer(retry_after=1, delay=1.0) as running:
        yield running
