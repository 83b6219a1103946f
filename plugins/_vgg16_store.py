"""The stored VGG16 features of vgg16-poster: one checksummed file per poster and spec, and
the poster features the plugin hands to the plugins that need them.

A poster's features depend on the poster and on a :class:`FeatureSpec` (weights, layer,
pooling, precision); the file is named after both, so features of other weights are never
mixed in. :class:`CachedPosterFeatures` is the :class:`reelpick.PosterFeatures` product: it
reads these files, never computes them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import tempfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from reelpick import NewMovie

log = logging.getLogger(__name__)

LAYER = "block5_pool"
GRID = (7, 7, 512)  # block5_pool of a 224x224 input: rows, columns, channels


class Pooling(StrEnum):
    """What is kept of the block5_pool grid."""

    FLATTEN = "flatten"  # the whole grid, 25,088 values (the seed article's features)
    AVG = "avg"  # the 512 channel averages


class Compute(StrEnum):
    """The precision VGG16 runs in; AUTO resolves to BFLOAT16 where the CPU has it."""

    AUTO = "auto"
    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"


class Storage(StrEnum):
    """The precision of the stored feature values."""

    FLOAT16 = "float16"
    FLOAT32 = "float32"


@dataclass(frozen=True)
class FeatureSpec:
    """Everything that decides a poster's feature vector, apart from the poster itself."""

    weights: str  # "imagenet" or a local file path, as handed to Keras
    weights_id: str  # "imagenet" or the sha256 of the weights file
    pooling: Pooling
    compute: Compute  # FLOAT32 or BFLOAT16 (resolved from AUTO)
    storage: Storage

    @property
    def id(self) -> str:
        return f"vgg16|{self.weights_id}|{LAYER}|{self.pooling}|{self.compute}|{self.storage}"

    def key(self, content_hash: str) -> str:
        return hashlib.sha256(f"{content_hash}|{self.id}".encode()).hexdigest()


class FeatureStore:
    """One file per (poster, spec): header with a CRC-32, then the nonzero values.

    After ReLU and max pooling ~90% of the flattened values are exactly zero, so the
    nonzeros are stored (uint16 positions + values scaled into [0, 1] as float16): ~11 KB
    per poster instead of 100 KB of float32. A file that fails its checks is deleted and
    reported missing, so the poster is simply computed again.

    The CRC-32 covers the header as well as the payload (format 2; RPV1 files covered only
    the payload, so a flipped ``scale`` changed every value silently): an RPV1 file reads as
    damaged and is recomputed once.
    """

    MAGIC = b"RPV2"
    HEADER = struct.Struct("<4sBxxxIIfI")  # magic, dtype code, dim, nnz, scale, crc32
    DTYPES = {1: np.float16, 2: np.float32}

    def __init__(self, root: Path, spec: FeatureSpec) -> None:
        self.root = Path(root)
        self.spec = spec
        self.code = 1 if spec.storage == Storage.FLOAT16 else 2
        # block5_pool of VGG16: flattened 7 x 7 x 512, or 512 averaged. Any other length in
        # a file would break every fit that stacks it with the others.
        self.dim = 7 * 7 * 512 if spec.pooling == Pooling.FLATTEN else 512

    def path(self, content_hash: str) -> Path:
        key = self.spec.key(content_hash)
        return self.root / key[:2] / f"{key}.vgf"

    def save(self, content_hash: str, vector: np.ndarray) -> None:
        vector = np.asarray(vector, dtype=np.float32).ravel()
        positions = np.flatnonzero(vector)
        index_dtype = np.uint16 if len(vector) <= 1 << 16 else np.uint32
        scale = float(np.abs(vector).max()) if len(positions) else 1.0
        values = (vector[positions] / scale).astype(self.DTYPES[self.code])
        payload = positions.astype(index_dtype).tobytes() + values.tobytes()
        fields = self.HEADER.pack(self.MAGIC, self.code, len(vector), len(positions), scale, 0)
        crc = zlib.crc32(payload, zlib.crc32(fields[:-4]))
        file = self.path(content_hash)
        file.parent.mkdir(parents=True, exist_ok=True)
        self._write(file, fields[:-4] + struct.pack("<I", crc) + payload)

    @staticmethod
    def _write(file: Path, blob: bytes) -> None:
        """Write ``file`` whole or not at all; a failed write (a full disk) leaves no .tmp."""
        with tempfile.NamedTemporaryFile(dir=file.parent, suffix=".tmp", delete=False) as fh:
            try:
                fh.write(blob)
                fh.flush()
                os.fsync(fh.fileno())
            except BaseException:
                fh.close()
                os.unlink(fh.name)
                raise
        try:
            os.replace(fh.name, file)
        except BaseException:
            os.unlink(fh.name)
            raise

    def load(self, content_hash: str) -> np.ndarray | None:
        """The stored vector (float32), or None if absent or damaged (then the file is removed)."""
        file = self.path(content_hash)
        try:
            blob = file.read_bytes()
        except FileNotFoundError:
            return None
        try:
            magic, code, dim, nnz, scale, crc = self.HEADER.unpack_from(blob)
            index_dtype = np.uint16 if dim <= 1 << 16 else np.uint32
            payload = blob[self.HEADER.size :]
            size_ok = len(payload) == nnz * (
                np.dtype(index_dtype).itemsize + np.dtype(self.DTYPES[code]).itemsize
            )
            if magic != self.MAGIC or code != self.code or not size_ok:
                raise ValueError("bad header or length")
            if zlib.crc32(payload, zlib.crc32(blob[: self.HEADER.size - 4])) != crc:
                raise ValueError("checksum mismatch")
            if dim != self.dim or not (np.isfinite(scale) and scale > 0):
                raise ValueError(f"dim {dim} (expected {self.dim}) or scale {scale} is wrong")
            split = nnz * np.dtype(index_dtype).itemsize
            positions = np.frombuffer(payload[:split], dtype=index_dtype)
            if nnz and int(positions.max()) >= dim:
                raise ValueError("position out of range")
            vector = np.zeros(dim, dtype=np.float32)
            vector[positions] = np.frombuffer(payload[split:], dtype=self.DTYPES[code]) * scale
            return vector
        except Exception as exc:  # any failure to read back is a miss, never a dead plugin
            log.warning("feature file %s is damaged (%s); it will be recomputed", file, exc)
            file.unlink(missing_ok=True)
            return None


class CachedPosterFeatures:
    """The :class:`reelpick.PosterFeatures` this plugin provides: of each indexed poster with
    stored features, the 512 channel averages of its ``block5_pool`` grid."""

    def __init__(
        self,
        features: FeatureStore,
        posters: Mapping[int, str],
        new_features: Callable[[NewMovie, bool], np.ndarray | None] | None = None,
    ) -> None:
        """``posters`` maps the indexed movies to the content hashes of their posters;
        ``new_features(movie, compute)`` gives a catalogue movie's stored features (fetching
        and computing them on first sight with ``compute``)."""
        self.id = features.spec.id
        self._new_features = new_features
        self._features = features
        self._hashes = {m: h for m, h in posters.items() if features.path(h).is_file()}
        if len(self._hashes) < len(posters):
            log.info(
                "%d of %d posters have no stored features (unreadable images)",
                len(posters) - len(self._hashes),
                len(posters),
            )

    def content_hashes(self) -> dict[int, str]:
        return dict(self._hashes)

    def vector(self, movie_id: int) -> np.ndarray | None:
        content_hash = self._hashes.get(int(movie_id))
        stored = None if content_hash is None else self._features.load(content_hash)
        return None if stored is None else channel_means(stored)

    def new_vector(self, movie: NewMovie, compute: bool = True) -> np.ndarray | None:
        """A catalogue movie's poster as its 512 channel averages (see
        :class:`reelpick.NewPosterFeatures`), or None without a real poster."""
        if self._new_features is None:
            return None
        stored = self._new_features(movie, compute)
        return None if stored is None else channel_means(stored)


def channel_means(vector: np.ndarray) -> np.ndarray:
    """A stored feature vector (the flattened grid, or already average-pooled) as its 512
    channel averages."""
    vector = np.asarray(vector, dtype=np.float32)
    if vector.size == GRID[2]:
        return vector
    return vector.reshape(GRID).mean(axis=(0, 1))
