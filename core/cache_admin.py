"""Looking after the cache folder: what takes the space, and removing stores nothing uses.

A plugin store is a folder ``<cache>/<plugin>/<key>/`` holding a ``manifest.json`` (the data
fingerprint, plugin version and parameters it was fitted with) and its ``.npz`` files. A
store is *current* when the configured dataset and the installed plugin, with today's
parameters, map to it; every other store (an older version, other parameters, another
dataset, a training split left by ``reelpick evaluate``) is dead weight until pruned.
A plugin may keep further stores in folders named ``<plugin>-<part>`` (the hybrid's
``hybrid-factors`` and ``hybrid-model``, keyed by what they are fitted on): they belong to
that plugin, and only those of another plugin version are pruned, since which key is current
is known only to the plugin's fit. Folders left empty by pruning are removed.
People's data is never here (it lives in the state folder, :mod:`reelpick.state`).
The other folders (posters, TMDB answers, VGG16 features, parsed rating files) are keyed by
content, not by data, and are never pruned here.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# A temporary file this old is left over from a crash, not written by a running fit.
STALE_TEMP_SECONDS = 3600


@dataclass(frozen=True)
class PrunedEntry:
    """One store (or stray temporary file) removed, or that would be with ``dry_run``."""

    path: Path
    bytes: int
    reason: str


@dataclass(frozen=True)
class FolderUsage:
    """Disk use of one folder directly under the cache: a plugin's stores, or posters, ..."""

    name: str
    bytes: int
    files: int
    stores: int  # plugin stores (folders with a manifest) in it
    current: int  # of which are current


def store_folders(cache_dir: Path) -> list[Path]:
    """Every plugin store under ``cache_dir`` (a folder with a manifest), sorted."""
    cache_dir = Path(cache_dir)
    if not cache_dir.is_dir():
        return []
    return sorted(manifest.parent for manifest in cache_dir.glob(f"*/*/{MANIFEST}"))


def owner_of(namespace: str, plugins: Collection[str]) -> str | None:
    """The plugin a folder of stores belongs to: the one named like it, or ``<plugin>-...``
    (the longest such name), else None."""
    if namespace in plugins:
        return namespace
    owners = [p for p in plugins if namespace.startswith(f"{p}-")]
    return max(owners, key=len) if owners else None


def prune_stores(
    cache_dir: Path,
    keep: Collection[Path],
    *,
    versions: Mapping[str, str] | None = None,
    only_data: Collection[str] | None = None,
    spare_namespaces: Collection[str] = (),
    dry_run: bool = False,
) -> list[PrunedEntry]:
    """Remove the plugin stores under ``cache_dir`` that are not in ``keep``.

    ``keep``: the current stores (``ArtifactStore.path`` of each plugin for the current
    data). ``versions``: each installed plugin's version (default: the namespaces of
    ``keep``, versions unknown); a plugin's further stores (``<plugin>-<part>/``) are kept
    unless fitted by another version. ``only_data``: when given, only stores fitted on these
    data fingerprints are candidates (after an evaluation: the fingerprints of its splits).
    ``spare_namespaces``: plugins whose folders are never touched (plugins that failed to
    load: what is current for them is unknown). Temporary files left by a crash are removed
    too, and folders left empty. Returns what was removed.
    """
    kept = {Path(p).resolve() for p in keep}
    if versions is None:
        versions = {p.parent.name: "" for p in kept}
    removed: list[PrunedEntry] = []
    for store in store_folders(cache_dir):
        namespace = store.parent.name
        owner = owner_of(namespace, [*versions, *spare_namespaces])
        if store.resolve() in kept or owner in spare_namespaces:
            continue
        data = _manifest(store).get("data")
        if only_data is not None and data not in only_data:
            continue
        if only_data is not None:
            reason = "evaluation split"
        elif owner is not None and owner != namespace:
            version = _manifest(store).get("version")
            if not versions[owner] or version == versions[owner]:
                continue  # one of the plugin's own stores: which one is current, it alone knows
            reason = f"plugin version {version} (now {versions[owner]})"
        else:
            reason = _why_dead(store, kept)
        removed.append(PrunedEntry(store, folder_bytes(store), reason))
        if not dry_run:
            shutil.rmtree(store, ignore_errors=True)
    if only_data is None:
        removed += _stale_temporaries(Path(cache_dir), dry_run)
    if not dry_run:
        _remove_emptied_folders(Path(cache_dir), [entry.path for entry in removed])
    for entry in removed:
        log.info("pruned %s (%s, %d bytes)", entry.path, entry.reason, entry.bytes)
    return removed


def _remove_emptied_folders(cache_dir: Path, removed: Collection[Path]) -> None:
    """The folders that held what was removed, when nothing is left in them (up to, not
    including, ``cache_dir``)."""
    root = cache_dir.resolve()
    for path in removed:
        folder = path.parent.resolve()
        while folder != root and folder.is_relative_to(root):
            try:
                folder.rmdir()  # only succeeds when empty
            except OSError:
                break
            folder = folder.parent


def cache_usage(cache_dir: Path, current: Collection[Path] = ()) -> list[FolderUsage]:
    """Size and file count of each folder directly under ``cache_dir``, largest first."""
    cache_dir = Path(cache_dir)
    if not cache_dir.is_dir():
        return []
    kept = {Path(p).resolve() for p in current}
    stores = store_folders(cache_dir)
    usage = []
    for folder in sorted(p for p in cache_dir.iterdir() if p.is_dir()):
        mine = [s for s in stores if s.parent == folder]
        size, files = _walk(folder)
        usage.append(
            FolderUsage(
                name=folder.name,
                bytes=size,
                files=files,
                stores=len(mine),
                current=sum(s.resolve() in kept for s in mine),
            )
        )
    return sorted(usage, key=lambda u: (-u.bytes, u.name))


def folder_bytes(folder: Path) -> int:
    return _walk(folder)[0]


def human_bytes(count: int) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _walk(folder: Path) -> tuple[int, int]:
    size = files = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                size += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue  # removed while we looked
            files += 1
    return size, files


def _manifest(store: Path) -> dict[str, object]:
    try:
        value = json.loads((store / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _why_dead(store: Path, kept: set[Path]) -> str:
    """A short reason, comparing with the current store of the same plugin if there is one."""
    mine = _manifest(store)
    if not mine:
        return "unreadable manifest"
    current = [_manifest(p) for p in kept if p.parent.name == store.parent.name]
    if not current:
        return "plugin not installed or not enabled"
    now = current[0]
    if not now:
        return "not current (the current store is not fitted yet)"
    if mine.get("data") != now.get("data"):
        return "other data (an evaluation split or another dataset)"
    if mine.get("version") != now.get("version"):
        return f"plugin version {mine.get('version')} (now {now.get('version')})"
    return "other parameters"


def _stale_temporaries(cache_dir: Path, dry_run: bool) -> list[PrunedEntry]:
    removed = []
    too_old = time.time() - STALE_TEMP_SECONDS
    for temp in cache_dir.rglob("*.tmp"):
        try:
            stat = temp.stat()
        except OSError:
            continue
        if temp.is_file() and stat.st_mtime < too_old:
            removed.append(PrunedEntry(temp, stat.st_size, "temporary file left by a crash"))
            if not dry_run:
                temp.unlink(missing_ok=True)
    return removed
