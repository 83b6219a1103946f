"""Backups of people's data, and restoring one.

:func:`backup` copies every people's-data file (:func:`reelpick.state.people_stores`) with
SQLite's online backup, so a copy is consistent while the bot runs, into a new folder
``<dir>/reelpick-backup-<UTC time>/`` with a ``manifest.json``; the folder appears only
when complete, and the oldest backups beyond ``keep`` are removed.

:func:`restore` puts a backup's files back, refused while a bot holds the state folder's
lock. Each file is copied next to its place and renamed over it (atomic); the files it
replaces, and those the backup does not have, are kept in ``<state>/replaced-<time>/``.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ReelpickError
from .state import SIDE_SUFFIXES, BotLock, copy_database, people_stores, remove_database
from .version import __version__

if TYPE_CHECKING:
    from .settings import Settings

log = logging.getLogger(__name__)

PREFIX = "reelpick-backup-"
MANIFEST = "manifest.json"
FORMAT = 1


@dataclass(frozen=True)
class BackupResult:
    """A backup written: its folder, each store's file size, older backups removed."""

    folder: Path
    stores: dict[str, int]
    removed: list[Path]


@dataclass(frozen=True)
class RestoreResult:
    """A backup restored: the stores put back, and where the replaced files are kept."""

    folder: Path
    stores: list[str]
    kept_in: Path | None


def backup(settings: Settings, into: Path, keep: int | None = None) -> BackupResult:
    """Copy every people's-data file into a new backup folder under ``into``; then remove
    the oldest backups there beyond ``keep`` (default ``[state] backup_keep``)."""
    found = [s for s in people_stores(settings) if s.path.is_file()]
    if not found:
        raise ReelpickError(f"nothing to back up: no people's data in {settings.state.dir}")
    now = datetime.now(UTC)
    folder = _free_name(Path(into) / f"{PREFIX}{now:%Y%m%dT%H%M%SZ}")
    partial = folder.with_name(f".{folder.name}.partial")
    try:
        partial.mkdir(parents=True)
    except OSError as exc:
        raise ReelpickError(f"{into}: cannot write a backup there ({exc})") from None
    stores: dict[str, dict[str, Any]] = {}
    try:
        for store in found:
            copy = partial / store.path.name
            copy_database(store.path, copy)
            stores[store.name] = {"file": copy.name, "bytes": copy.stat().st_size}
        manifest = {
            "format": FORMAT,
            "created": now.isoformat(timespec="seconds"),
            "reelpick": __version__,
            "state_dir": str(settings.state.dir),
            "stores": stores,
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        partial.rename(folder)
    except (OSError, sqlite3.Error) as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise ReelpickError(f"{into}: the backup failed ({exc}); nothing was written") from None
    removed = rotate(Path(into), settings.state.backup_keep if keep is None else keep)
    log.info("backed up %s to %s", ", ".join(stores), folder)
    return BackupResult(folder, {n: int(s["bytes"]) for n, s in stores.items()}, removed)


def _free_name(folder: Path) -> Path:
    candidate, n = folder, 1
    while candidate.exists():
        n += 1
        candidate = folder.with_name(f"{folder.name}-{n}")
    return candidate


def backups(into: Path) -> list[Path]:
    """The complete backups in ``into`` (a manifest and the prefix), oldest first."""
    if not Path(into).is_dir():
        return []
    found = [p for p in Path(into).glob(f"{PREFIX}*") if (p / MANIFEST).is_file()]
    return sorted(found, key=lambda p: p.name)


def rotate(into: Path, keep: int) -> list[Path]:
    """Remove the oldest backups in ``into`` beyond the newest ``keep``."""
    if keep < 1:
        raise ReelpickError(f"--keep {keep}: keep at least one backup")
    old = backups(into)[:-keep]
    for folder in old:
        shutil.rmtree(folder, ignore_errors=True)
        log.info("removed old backup %s", folder)
    return old


def read_manifest(folder: Path) -> dict[str, Any]:
    """A backup's manifest, checked: every file it names is there."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        stores = manifest["stores"]
        if manifest.get("format") != FORMAT or not isinstance(stores, dict):
            raise ValueError("unknown format")
        for entry in stores.values():
            if not (folder / Path(entry["file"]).name).is_file():
                raise ValueError(f"{entry['file']} is missing")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReelpickError(f"{folder}: not a reelpick backup ({exc})") from None
    return dict(manifest)


def chosen_backup(path: Path) -> Path:
    """``path`` itself when it is a backup, else the newest backup inside it."""
    path = Path(path)
    if (path / MANIFEST).is_file():
        return path
    found = backups(path)
    if not found:
        raise ReelpickError(f"{path}: no backup there (a folder with {MANIFEST})")
    return found[-1]


def restore(settings: Settings, path: Path) -> RestoreResult:
    """Put back the backup at ``path`` (or the newest one in it). Refused while a bot runs."""
    folder = chosen_backup(path)
    manifest = read_manifest(folder)
    lock = BotLock(settings.state.dir, exclusive=True)
    if not lock.acquire():
        raise ReelpickError(
            f"the bot is running ({lock.path} is held); stop it before restoring a backup"
        )
    with lock:
        return _replace(settings, folder, manifest["stores"])


def _replace(settings: Settings, folder: Path, saved: dict[str, Any]) -> RestoreResult:
    stores = {s.name: s for s in people_stores(settings)}
    unknown = sorted(set(saved) - set(stores))
    if unknown:
        raise ReelpickError(f"{folder}: unknown store {unknown[0]!r} in the manifest")
    keep = _free_name(settings.state.dir / f"replaced-{time.strftime('%Y%m%d-%H%M%S')}")
    # Every file copied (and checked) next to its place first: a failure here changes nothing,
    # and each swap below is one rename.
    incoming: dict[str, Path] = {}
    try:
        for name, entry in saved.items():
            incoming[name] = stores[name].path.with_name(f".{stores[name].path.name}.restoring")
            copy_database(folder / Path(entry["file"]).name, incoming[name])
    except (OSError, sqlite3.Error) as exc:
        for partial in incoming.values():
            remove_database(partial)
        raise ReelpickError(f"{folder}: cannot restore {name} ({exc}); nothing changed") from None
    kept = False
    for name, store in stores.items():
        try:
            if store.path.is_file():
                copy_database(store.path, keep / store.path.name)
                kept = True
                _checkpoint(store.path)
                if name in incoming:
                    _drop_side_files(store.path)
                else:  # not in the backup: it did not exist then
                    remove_database(store.path)
            if name in incoming:
                incoming[name].replace(store.path)
        except (OSError, sqlite3.Error) as exc:
            raise ReelpickError(
                f"restoring {name} failed ({exc}); the files replaced so far are in {keep}"
            ) from None
    log.info("restored %s from %s", ", ".join(sorted(saved)), folder)
    return RestoreResult(folder, sorted(saved), keep if kept else None)


def _checkpoint(path: Path) -> None:
    """Fold the write-ahead log into the file, so no stale log outlives the swap."""
    db = sqlite3.connect(path, timeout=30)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def _drop_side_files(path: Path) -> None:
    for suffix in SIDE_SUFFIXES:
        path.with_name(path.name + suffix).unlink(missing_ok=True)
