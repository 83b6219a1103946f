"""Where plugins keep what they learned: one folder per (plugin, data, version, parameters).

Arrays are saved as .npz written to a temporary file and renamed into place, so a reader
sees a whole file or none. An .npz is a zip whose members carry CRC-32 checksums; a
truncated or corrupted entry fails to load, is deleted, and the plugin simply fits again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


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
        with tempfile.NamedTemporaryFile(dir=self.path, suffix=".tmp", delete=False) as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(fh.name, self.path / f"{name}.npz")

    def load_arrays(self, name: str) -> dict[str, np.ndarray] | None:
        """The arrays saved under ``name``, or None if absent or damaged (a damaged file is removed)."""
        file = self.path / f"{name}.npz"
        if not file.exists():
            return None
        try:
            with np.load(file, allow_pickle=False) as npz:
                return {key: npz[key] for key in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
            log.warning("cache entry %s is damaged (%s); it will be rebuilt", file, exc)
            file.unlink(missing_ok=True)
            return None

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
            manifest.write_text(json.dumps(self.key_parts, indent=2, sort_keys=True, default=str))
