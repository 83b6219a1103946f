"""Parsed rating files kept on disk, so that a large ratings.csv is parsed once.

A MovieLens 32M-sized ratings.csv (32 M lines) takes about 25 s to parse on two cores and
peaks near 3 GiB; its parsed columns are mapped from disk at once. Files whose columns are
all numbers (ratings.csv) are kept as ``<cache>/parsed-data/<name>-v<format>-<sha256>/``, one
``.npy`` array per column (mapped as they are, no archive to unpack). The key is the
hash of the file's own bytes, so an edited file is parsed again and never answered from old
columns; a damaged or unreadable entry is a miss (parsed again and written anew). Text files
(movies, tags, links) are small and quick to parse: not kept.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

FOLDER = "parsed-data"
FORMAT = 2  # bump when the stored layout changes
KEPT_PER_FILE = 2  # entries of one file name kept (e.g. two datasets sharing one cache)


def keeps(schema: dict[str, str]) -> bool:
    """Whether files of this schema are kept: numeric, non-nullable columns only."""
    return all(dtype in ("int64", "float32", "float64") for dtype in schema.values())


def entry(cache_dir: Path, name: str, sha256: str) -> Path:
    return cache_dir / FOLDER / f"{name}-v{FORMAT}-{sha256}"


def load(cache_dir: Path, name: str, sha256: str, schema: dict[str, str]) -> pd.DataFrame | None:
    """The parsed frame of the file with this hash, or None (not kept, or damaged)."""
    path = entry(cache_dir, name, sha256)
    if not path.is_dir():
        return None
    try:
        # Mapped, not read: pages come from the file as they are touched, and a column that
        # is never used (timestamps, when nothing asks when) costs no memory.
        columns = {c: np.load(path / f"{c}.npy", mmap_mode="r").view(np.ndarray) for c in schema}
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1 or any(str(columns[c].dtype) != t for c, t in schema.items()):
            raise ValueError("columns of the wrong type or length")
    except (OSError, ValueError, EOFError) as exc:
        log.warning("%s: damaged parsed copy (%s); parsing the file again", path, exc)
        shutil.rmtree(path, ignore_errors=True)
        return None
    path.touch()  # the entries kept are the ones last used
    return pd.DataFrame(columns, copy=False)


def save(cache_dir: Path, name: str, sha256: str, frame: pd.DataFrame) -> None:
    """Keep ``frame`` (written whole or not at all); a full disk only costs the next parse."""
    path = entry(cache_dir, name, sha256)
    temporary: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(dir=path.parent, suffix=".tmp"))
        for column in frame.columns:
            np.save(temporary / f"{column}.npy", frame[column].to_numpy(), allow_pickle=False)
        shutil.rmtree(path, ignore_errors=True)  # a damaged entry of the same key
        temporary.rename(path)
    except OSError as exc:
        log.warning("%s: could not keep the parsed copy (%s)", path, exc)
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
        return
    older = sorted(path.parent.glob(f"{name}-v*"), key=lambda p: p.stat().st_mtime, reverse=True)
    # Copies of the file no longer used, and copies left half-written by a crash.
    crashed = [p for p in path.parent.glob("*.tmp") if time.time() - p.stat().st_mtime > 3600]
    for stale in older[KEPT_PER_FILE:] + crashed:
        shutil.rmtree(stale, ignore_errors=True)
