"""Where plugins keep what they learned: one folder per (plugin, data, version, parameters).

Arrays are saved as .npz written to a temporary file and renamed into place, so a reader
sees a whole file or none. An .npz is a zip whose members carry CRC-32 checksums; a
truncated or corrupted entry fails to load (any exception counts), is deleted, and the
plugin simply fits again. Large arrays are mapped from the file rather than copied
(``reelpick.npz``): a process pays memory only for the pages it reads. An entry written by
an older reelpick (``np.savez``, which cannot be mapped) is rewritten once when read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from .npz import read_npz, read_whole, write_npz

log = logging.getLogger(__name__)


@contextlib.contextmanager
def atomic_write(target: Path) -> Iterator[IO[bytes]]:
    """Write ``target`` through a temporary file beside it: fsynced, then renamed into place,
    then the folder fsynced (so the rename survives a crash). On any failure, including a
    full disk, the temporary file is removed and ``target`` is left as it was."""
    target = Path(target)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
    _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some platforms cannot open a folder; the rename is still atomic
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def cache_key(**parts: Any) -> str:
    """A short stable hash of JSON-able ``parts`` (the data fingerprint, version, parameters)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class ArtifactStore:
    """A plugin's private folder in the cache, already keyed by data, version and parameters."""

    def __init__(self, root: Path, namespace: str, **key_parts: Any) -> None:
        self.key = cache_key(**key_parts)
        self.path = Path(root) / namespace / self.key
        self.key_parts = key_parts

    def save_arrays(self, name: str, **arrays: np.ndarray) -> None:
        """Atomically store named arrays under ``name``."""
        self.path.mkdir(parents=True, exist_ok=True)
        self._write_manifest()
        named: dict[str, Any] = dict(arrays)  # numpy's stub types every keyword as allow_pickle
        with atomic_write(self.path / f"{name}.npz") as fh:
            write_npz(fh, named)

    def load_arrays(self, name: str) -> dict[str, np.ndarray] | None:
        """The arrays saved under ``name``, or None if absent or damaged (a damaged file is removed)."""
        file = self.path / f"{name}.npz"
        if not file.exists():
            return None
        try:
            arrays = read_npz(file)
            if not all(isinstance(value, np.ndarray) for value in arrays.values()):
                raise ValueError("not an .npz of arrays")
        except Exception as exc:  # zlib.error, pickle refusals, ...: any failure is a miss
            self.discard(name, f"{type(exc).__name__}: {exc}")
            return None
        if read_whole(arrays):  # an entry an older reelpick wrote: rewrite it to be mapped
            try:
                self.save_arrays(name, **arrays)
                return read_npz(file)
            except (OSError, ValueError, zipfile.BadZipFile) as exc:
                log.info("cache entry %s stays as it was (%s)", file, exc)
        return arrays

    def discard(self, name: str, reason: str) -> None:
        """Delete the damaged entry ``name`` with one warning line, so that it is rebuilt."""
        file = self.path / f"{name}.npz"
        log.warning("cache entry %s is damaged (%s); it will be rebuilt", file, reason)
        file.unlink(missing_ok=True)

    def file(self, name: str) -> Path:
        """A path inside the store for formats other than arrays (write it atomically)."""
        self.path.mkdir(parents=True, exist_ok=True)
        return self.path / name

    def has(self, name: str) -> bool:
        return (self.path / f"{name}.npz").exists()

    def clear(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def _write_manifest(self) -> None:
        manifest = self.path / "manifest.json"
        if not manifest.exists():
            text = json.dumps(self.key_parts, indent=2, sort_keys=True, default=str)
            with atomic_write(manifest) as fh:
                fh.write(text.encode())


# -- diskcache (posters, TMDB /configuration): every value is re-fetchable -------------------


def open_diskcache(folder: Path) -> Any:
    """A ``diskcache.Cache`` over ``folder``; a damaged database is deleted and started afresh,
    since everything in these caches can be fetched again."""
    import diskcache

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return diskcache.Cache(str(folder))
    except Exception as exc:  # sqlite3.DatabaseError ("file is not a database"), ...
        log.warning("cache %s is damaged (%s); it will be rebuilt", folder, exc)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        return diskcache.Cache(str(folder))


def read_cached(cache: Any, key: Any, valid: Callable[[Any], bool]) -> Any | None:
    """``cache[key]`` when present and accepted by ``valid``; otherwise None.

    A value that cannot be read back (a truncated value file raises UnpicklingError or
    EOFError) or that has the wrong shape is deleted with one warning line: a miss.
    """
    try:
        value = cache.get(key)
        if value is None or valid(value):
            return value
        problem = f"unexpected {type(value).__name__} value"
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
    log.warning(
        "cache entry %r in %s is damaged (%s); it will be rebuilt", key, cache.directory, problem
    )
    with contextlib.suppress(Exception):
        cache.delete(key)
    return None
