"""Fixtures of the catalogue tests: the TMDB stand-in (one per module) and apps over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelpick.app import Reelpick
from reelpick.registry import Registry
from tests.support.fixtures import stand_in_config
from tests.support.tmdb_server import TMDBServer


@pytest.fixture(scope="module")
def server():
    with TMDBServer(retry_after=1, delay=0.5) as running:
        yield running


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server, ml_small):
    """``make_app(key=True, folder=None, text="")``: an app over ml-latest-small (loaded once)
    and the stand-in; its catalogue, data and cache folders under ``folder`` (default: this
    test's own), so that a second app over the same folder is a restart."""
    opened: list[Reelpick] = []

    def make(key: bool = True, folder: Path | None = None, text: str = "") -> Reelpick:
        config = stand_in_config(folder or tmp_path, server, monkeypatch, key=key, text=text)
        app = Reelpick(config, ml_small, Registry(config))
        opened.append(app)
        return app

    yield make
    for app in opened:
        if "catalogue" in app.__dict__:
            app.catalogue.close()
