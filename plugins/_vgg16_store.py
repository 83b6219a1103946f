"""The stored VGG16 features of vgg16-poster: one pack of records per spec, and the poster
features the plugin hands to the plugins that need them.

A poster's features depend on the poster and on a :class:`FeatureSpec` (weights, layer,
pooling, precision); each spec has its own pack file, and each record's key is made of both,
so features of other weights are never mixed in. :class:`CachedPosterFeatures` is the
:class:`reelpick.PosterFeatures` product: it reads the stored features, never computes them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from struct import error as struct_error

import numpy as np

from reelpick import NewMovie

from ._vgg16_encoding import GRID, decode, decode_legacy, encode
from ._vgg16_pack import FeaturePack

log = logging.getLogger(__name__)

LAYER = "block5_pool"


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
    """The precision of the stored feature values (see ``_vgg16_encoding``)."""

    UINT8 = "uint8"  # 8 bits relative to the vector's largest value
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


# Per-poster files of the format before the pack whose values are at least as precise as
# a storage's: read once, moved into the pack.
LEGACY_SOURCES = {
    Storage.UINT8: (Storage.FLOAT32, Storage.FLOAT16),
    Storage.FLOAT16: (Storage.FLOAT16, Storage.FLOAT32),
    Storage.FLOAT32: (Storage.FLOAT32,),
}


class FeatureStore:
    """The features of one spec: a :class:`FeaturePack` of encoded vectors
    (``_vgg16_encoding``), one record per poster, under ``root``.

    Any failure to read a vector back (a damaged record, a torn tail) is a miss, never an
    error: the plugin computes the poster again and the new record supersedes the old one.

    Per-poster files of the earlier format (``<root>/<2 hex>/<key>.vgf``, RPV2) are still
    read: a key missing from the pack is looked up there (for this spec, or the same spec
    stored at least as precisely), appended to the pack and the file removed, so that an
    existing cache is moved over as it is used instead of 100k posters being computed again.
    Files that are never asked for stay until the cache is cleared.
    """

    def __init__(self, root: Path, spec: FeatureSpec) -> None:
        self.root = Path(root)
        self.spec = spec
        # block5_pool of VGG16: flattened 7 x 7 x 512, or 512 averaged. Any other length in
        # a record would break every fit that stacks it with the others.
        self.dim = int(np.prod(GRID)) if spec.pooling == Pooling.FLATTEN else GRID[2]
        digest = hashlib.sha256(spec.id.encode()).hexdigest()[:16]
        self.pack = FeaturePack.open(self.root / f"{spec.pooling}-{spec.storage}-{digest}.pack")

    def _key(self, content_hash: str) -> bytes:
        return bytes.fromhex(self.spec.key(content_hash))[:16]

    def version(self) -> tuple[int, int, int] | None:
        """Changes whenever a record is appended or the pack is compacted, by any process
        (its inode, size and modification time); None while there is no pack."""
        try:
            stat = os.stat(self.pack.path)
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_size, stat.st_mtime_ns

    def has(self, content_hash: str) -> bool:
        """Whether features of this poster are stored (they may still turn out damaged)."""
        return self._key(content_hash) in self.pack or self._legacy_file(content_hash) is not None

    def save(self, content_hash: str, vector: np.ndarray) -> None:
        """Store ``vector``; one that is not finite is not stored (the poster is unusable)."""
        try:
            payload = encode(vector, self.spec.storage)
        except ValueError as exc:
            log.warning("features of poster %s are not stored: %s", content_hash, exc)
            return
        self.pack.append(self._key(content_hash), payload)

    def load(self, content_hash: str) -> np.ndarray | None:
        """The stored vector (float32), or None if absent or damaged."""
        payload = self.pack.get(self._key(content_hash))
        if payload is None:
            return self._migrate(content_hash)
        return self._decode(content_hash, payload)

    def _decode(self, content_hash: str, payload: bytes) -> np.ndarray | None:
        try:
            return decode(payload, self.spec.storage, self.dim)
        except (ValueError, zlib.error, struct_error) as exc:
            log.warning("features of poster %s are damaged (%s); recomputed", content_hash, exc)
            return None

    def record(self, content_hash: str) -> tuple[Path, int, int] | None:
        """Where the poster's record lies: (pack file, offset, length), for tools and tests."""
        span = self.pack.span(self._key(content_hash))
        return None if span is None else (self.pack.path, *span)

    def _legacy_file(self, content_hash: str) -> tuple[Path, Storage] | None:
        for storage in LEGACY_SOURCES[self.spec.storage]:
            key = replace(self.spec, storage=storage).key(content_hash)
            file = self.root / key[:2] / f"{key}.vgf"
            if file.is_file():
                return file, storage
        return None

    def _migrate(self, content_hash: str) -> np.ndarray | None:
        """The vector of an earlier per-poster file, moved into the pack (None without one)."""
        found = self._legacy_file(content_hash)
        if found is None:
            return None
        file, storage = found
        try:
            vector = decode_legacy(file.read_bytes(), storage, self.dim)
        except (OSError, ValueError, struct_error) as exc:
            log.warning("feature file %s is damaged (%s); it will be recomputed", file, exc)
            file.unlink(missing_ok=True)
            return None
        self.save(content_hash, vector)
        with contextlib.suppress(OSError):  # a read-only file is read again, never an error
            file.unlink()
            file.parent.rmdir()  # fails unless this was the last file of its folder
        payload = self.pack.get(self._key(content_hash))  # what later reads will see
        return None if payload is None else self._decode(content_hash, payload)


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
        self._hashes = {m: h for m, h in posters.items() if features.has(h)}
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
