"""The image-search hook through the registry, and the worker's life cycle (no TensorFlow:
a plugin that answers from the picture's size, and a worker with no plugins)."""

from __future__ import annotations

import time

from reelpick import Neighbour, PluginInfo, hookimpl
from reelpick.data import Dataset
from reelpick.imagesearch import ImageSearchWorker
from reelpick.registry import Registry
from tests.support.fixtures import ML_SMALL, write_config


class BySize:
    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(label="By size", description="movie id = picture size", version="1")

    @hookimpl
    def reelpick_fit(self, dataset, params, store) -> None:
        pass

    @hookimpl
    def reelpick_similar_image(self, image: bytes, k: int) -> list[Neighbour]:
        return [Neighbour(len(image), 0.9), Neighbour(2, 0.95)][:k]  # not sorted when k >= 2


def test_ask_image_holds_the_plugin_to_the_contract(ml_small: Dataset, tmp_path) -> None:
    config = write_config(tmp_path, f'[cache]\ndir = "{tmp_path}"\n[plugins]\nenabled = ["size"]\n')
    registry = Registry(config, load_entry_points=False, load_builtins=False)
    registry.register(BySize(), "size")
    registry.fit(ml_small)
    assert registry.image_searchers() == ["size"]
    assert registry.ask_image("size", b"x", 1).neighbours == [Neighbour(1, 0.9)]
    answer = registry.ask_image("size", b"x", 2)
    assert answer.error and "not sorted" in answer.error


def test_worker_starts_on_first_use_and_stops_when_idle(tmp_path) -> None:
    config = write_config(tmp_path, f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{tmp_path}"\n')
    worker = ImageSearchWorker(config, [], idle_seconds=0.5)
    try:
        assert worker.pid is None
        assert worker.search(b"picture", 3) == []
        assert worker.pid is not None and worker.rss() > 0 and worker.starts == 1
        deadline = time.monotonic() + 10
        while worker.pid is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert worker.pid is None  # stopped after half a second without a request
        assert worker.search(b"picture", 3) == [] and worker.starts == 2
    finally:
        worker.close()
    assert worker.pid is None
