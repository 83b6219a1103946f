"""The image-search hook through the registry, and the worker's life cycle (no TensorFlow:
a plugin that answers from the picture's size, and a worker with no plugins)."""

from __future__ import annotations

import io
import struct
import time
import zlib

import pytest
from PIL import Image

from reelpick import Neighbour, PluginInfo, hookimpl
from reelpick.data import Dataset
from reelpick.imagesearch import ImageRefused, ImageSearchWorker
from reelpick.registry import Registry
from tests.support.fixtures import ML_SMALL, write_config


def picture() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 30), "navy").save(out, "PNG")
    return out.getvalue()


def elongated_png(width: int = 1, height: int = 40_000_000) -> bytes:
    """A whole, valid black PNG of ``width`` x ``height``: 1 x 40,000,000 is about 155 KB."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte, then one bit a pixel
    packer = zlib.compressobj(9)
    block = 100_000
    body = b"".join(packer.compress(row * block) for _ in range(height // block))
    body += packer.compress(row * (height % block)) + packer.flush()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


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
        assert worker.search(picture(), 3) == []
        assert worker.pid is not None and worker.rss() > 0 and worker.starts == 1
        deadline = time.monotonic() + 10
        while worker.pid is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert worker.pid is None  # stopped after half a second without a request
        assert worker.search(picture(), 3) == [] and worker.starts == 2
    finally:
        worker.close()
    assert worker.pid is None


@pytest.mark.parametrize(
    ("image", "why"),
    [
        (elongated_png(), "limit for a side"),
        (elongated_png(2_000, 40), "aspect ratio"),
        (b"picture", "not a decodable image"),
    ],
    ids=["1x40M", "50:1", "not-an-image"],
)
def test_the_worker_checks_each_picture_itself_and_stays_up(tmp_path, image, why) -> None:
    """A caller that skipped :func:`check_image` still cannot make the worker decode it."""
    config = write_config(tmp_path, f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{tmp_path}"\n')
    worker = ImageSearchWorker(config, [], idle_seconds=0)
    try:
        with pytest.raises(ImageRefused, match=why):
            worker.search(image, 3)
        pid = worker.pid
        assert pid is not None and worker.rss() < 1024**3
        assert worker.search(picture(), 3) == [] and worker.pid == pid and worker.starts == 1
    finally:
        worker.close()
