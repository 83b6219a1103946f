"""vgg16-poster over the real posters: configs, fits, and the run's shared feature folder.

Computing the VGG16 features of the 500 posters in ../shared is the costliest step of the
suite (minutes on a CPU), so it happens once per test run: :func:`shared_poster_features`
fits the plugin on all of them into one folder, and tests link their caches' feature folder
to it (the plugin keys each file by poster content, weights, layer, pooling and precision,
so a fit over a linked folder loads what is there and computes only what is not). Under
pytest-xdist every worker of the run sees the same folder, and a file lock makes the first
worker to ask compute while the others wait and then load.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

from reelpick.config import Config
from reelpick.data import Dataset
from reelpick.plugins._vgg16_encoding import LEGACY_HEADER
from reelpick.plugins.vgg16_poster import FEATURES_DIR, FeatureSpec, VGG16Poster
from reelpick.registry import Registry
from tests.support.fixtures import ML_SMALL, POSTERS, VGG16_WEIGHTS, write_config


def vgg_config(folder: Path, cache: Path, posters: Path, extra: str = "") -> Config:
    """vgg16-poster alone over ``posters``, with the real weights and ``cache``."""
    folder.mkdir(parents=True, exist_ok=True)
    return write_config(
        folder,
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{cache}"\n'
        f'[posters]\ndir = "{posters}"\n[plugins]\nenabled = ["vgg16-poster"]\n'
        f'[plugins.vgg16-poster]\nweights = "{VGG16_WEIGHTS}"\n{extra}',
    )


def fit(config: Config, dataset: Dataset) -> tuple[Registry, VGG16Poster]:
    registry = Registry(config, load_entry_points=False)
    errors = registry.fit(dataset, ["vgg16-poster"])
    assert errors == {"vgg16-poster": None}, errors
    return registry, registry.plugin_object("vgg16-poster")


@dataclass(frozen=True)
class SharedFeatures:
    """The run's feature folder for the posters in ../shared (default parameters), and what
    the fit that filled it reported (``last_fit``: it started from an empty cache)."""

    folder: Path
    first_fit: dict

    def link(self, cache: Path) -> None:
        """Make ``cache``'s feature folder this one (a symlink: what a fit adds lands here)."""
        cache.mkdir(parents=True, exist_ok=True)
        (cache / FEATURES_DIR).symlink_to(self.folder, target_is_directory=True)


def run_folder(factory: pytest.TempPathFactory) -> Path:
    """A temporary folder of this test run, the same for every pytest-xdist worker: a worker's
    base folder lies inside the run's (``pytest-N/popen-gw0``). Without workers the base
    folder itself, since its parent holds earlier runs too."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def shared_poster_features(factory: pytest.TempPathFactory, dataset: Dataset) -> SharedFeatures:
    """The features of every poster in ../shared, computed by the first caller of the run."""
    root = run_folder(factory) / "vgg16-shared"
    done = root / "first-fit.json"
    with FileLock(str(root) + ".lock"):
        if not done.exists():
            # Session fixtures run before the per-test isolation of the environment.
            with pytest.MonkeyPatch.context() as mp:
                for name in [n for n in os.environ if n.startswith("REELPICK_")]:
                    mp.delenv(name)
                _, plugin = fit(vgg_config(root, root / "cache", POSTERS), dataset)
            done.write_text(json.dumps(plugin.last_fit))
    return SharedFeatures(root / "cache" / FEATURES_DIR, json.loads(done.read_text()))


def legacy_feature_file(
    root: Path, spec: FeatureSpec, content_hash: str, vector: np.ndarray
) -> Path:
    """A feature file as the per-poster store wrote it (RPV2)."""
    code, dtype = {"float16": (1, np.float16), "float32": (2, np.float32)}[spec.storage]
    positions = np.flatnonzero(vector)
    scale = float(np.abs(vector).max())
    payload = (
        positions.astype(np.uint16).tobytes() + (vector[positions] / scale).astype(dtype).tobytes()
    )
    fields = LEGACY_HEADER.pack(b"RPV2", code, len(vector), len(positions), scale, 0)
    crc = zlib.crc32(payload, zlib.crc32(fields[:-4]))
    key = spec.key(content_hash)
    file = root / key[:2] / f"{key}.vgf"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(fields[:-4] + struct.pack("<I", crc) + payload)
    return file
