"""People's data: which files hold it, keeping it out of the cache, and the bot's lock.

Profiles, movie nights, chat settings and watchlists are SQLite files in the state folder (``[state]
dir``, on Linux ``$XDG_STATE_HOME/reelpick``), never in the cache folder, which is safe to
delete. An installation that kept them under the cache folder has them moved on first
start (:func:`prepare_state`): each file is copied with SQLite's backup API (so what its
write-ahead log holds comes along), checked, and only then is the old file removed. A
destination that already holds data is never overwritten: the old file is kept beside it
under another name, and a warning says so.

A running bot holds a shared lock on ``<state>/bot.lock`` (:class:`BotLock`), so that
``reelpick restore`` can tell, cheaply and reliably, that it must not replace the files.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING

from .errors import ReelpickError

if TYPE_CHECKING:
    from .settings import Settings

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; restore documents "stop the bot first"
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

CHAT_SETTINGS_FILE = "chat-settings.sqlite3"
WATCHLIST_FILE = "watchlist.sqlite3"
LOCK_FILE = "bot.lock"
# Files SQLite keeps beside a database: its write-ahead log, shared memory, rollback journal.
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class PeopleStore:
    """One SQLite file of people's data: its name in backups, where it is, and where versions
    that kept it in the cache folder put it (None: it never lived there as a file)."""

    name: str
    path: Path
    cache_path: Path | None


def people_stores(settings: Settings) -> list[PeopleStore]:
    """Every file of people's data, as configured."""
    cache = settings.cache.dir
    return [
        PeopleStore("profiles", settings.bot.profiles_db, cache / "profiles.sqlite3"),
        PeopleStore("movienight", settings.movienight.db, cache / "movienight.sqlite3"),
        PeopleStore("chat-settings", settings.state.dir / CHAT_SETTINGS_FILE, None),
        PeopleStore("watchlist", settings.state.dir / WATCHLIST_FILE, None),
    ]


def prepare_state(settings: Settings) -> list[str]:
    """Create the state folder and move people's data an older version kept in the cache
    folder into it. Returns one line per file moved (each also logged). Cheap when there is
    nothing to move: a few ``stat`` calls."""
    try:
        settings.state.dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReelpickError(
            f"{settings.state.dir}: cannot create the state folder ({exc})"
        ) from None
    moved = []
    for store in people_stores(settings):
        old = store.cache_path
        if old is None or not old.is_file() or _same_file(old, store.path):
            continue
        moved.append(_move_database(old, store.path))
    return moved


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _move_database(old: Path, new: Path) -> str:
    target = new
    if _has_data(new):
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = new.with_name(f"{new.stem}.from-cache-{stamp}{new.suffix}")
    try:
        copy_database(old, target)
    except (OSError, sqlite3.Error) as exc:
        raise ReelpickError(
            f"{old}: cannot move it to {target} ({exc}); it is left where it is"
        ) from None
    remove_database(old)
    if target == new:
        line = f"moved {old} out of the cache folder to {new}"
    else:
        line = (
            f"{new} already holds data, so {old} was kept beside it as {target}; "
            "both are kept: merge or delete one"
        )
    log.warning("%s", line)  # once per file; seen without -v, as the folder changes
    return line


def _has_data(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of the SQLite file ``source`` at ``target``, including what its
    write-ahead log holds and safe while another process writes to it (SQLite's online
    backup). Written beside ``target``, checked, then renamed into place: ``target`` is
    either absent or whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    remove_database(partial)
    reading = sqlite3.connect(source, timeout=30)
    try:
        writing = sqlite3.connect(partial)
        try:
            reading.backup(writing)
            (check,) = writing.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise sqlite3.DatabaseError(f"the copy fails its check: {check}")
        finally:
            writing.close()
    except BaseException:
        remove_database(partial)
        raise
    finally:
        reading.close()
    _fsync(partial)
    os.replace(partial, target)
    _fsync(target.parent)


def remove_database(path: Path) -> None:
    """Delete an SQLite file and the files SQLite keeps beside it."""
    for suffix in ("", *SIDE_SUFFIXES):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # a folder cannot be opened on some systems; the rename still happened
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class BotLock:
    """The lock a running bot holds on ``<state>/bot.lock``: shared, so that two bots never
    block each other, while ``exclusive=True`` (restore) is refused as long as one runs."""

    def __init__(self, state_dir: Path, *, exclusive: bool = False) -> None:
        self.path = Path(state_dir) / LOCK_FILE
        self.exclusive = exclusive
        self._file: IO[bytes] | None = None

    def acquire(self) -> bool:
        """Take the lock without waiting; False when another holder forbids it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "ab")  # noqa: SIM115 - held until release()
        except OSError as exc:
            raise ReelpickError(f"{self.path}: cannot open the state lock ({exc})") from None
        if fcntl is not None:
            mode = fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH
            try:
                fcntl.flock(handle.fileno(), mode | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the lock
            self._file = None

    def __enter__(self) -> BotLock:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def hold_bot_lock(settings: Settings) -> BotLock:
    """The running bot's shared lock on its state folder; refused while a restore runs."""
    lock = BotLock(settings.state.dir)
    if not lock.acquire():
        raise ReelpickError(
            f"{lock.path}: a restore is replacing people's data; start the bot when it is done"
        )
    return lock
