"""Per-chat settings (/settings): how many posters per album, which plugins answer, the
chat's language and region, the streaming services it has, and whether its movie nights
keep to those services.

People's data, so kept in the state folder (``<state>/chat-settings.sqlite3``), never in the
cache: written at once (WAL, synchronous FULL), so they survive restarts, a killed process
and a deleted cache folder. Unset values follow config.toml. Settings an older version kept
in the bot's diskcache are moved here by :meth:`SettingsStore.adopt`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import diskcache

from reelpick.catalogue.settings import REGION  # the one region check, shared with the CLI

log = logging.getLogger(__name__)

K_CHOICES = (3, 5, 8, 10)
MAX_K = 10  # one album holds at most 10 photos
LEGACY_PREFIX = "chat-settings:"  # keys of the bot's diskcache that held them

SCHEMA = """
CREATE TABLE IF NOT EXISTS chat_settings (
    chat_id INTEGER PRIMARY KEY,
    k INTEGER,
    plugins TEXT  -- a JSON list, or NULL: every available plugin
)
"""
# Columns later versions added; an older file gets them on open (NULL: unset).
ADDED_COLUMNS = {
    "language": "TEXT",  # "en", "de"; NULL: each person's Telegram language
    "region": "TEXT",  # ISO 3166-1 alpha-2 ("DE"); NULL: from the language or config
    "services": "TEXT",  # a JSON list of streaming service names; NULL: none chosen
    "night_services": "INTEGER",  # 1: movie nights offer only movies on those services
}
LANGUAGE_CHOICES = ("en", "de")
MAX_SERVICES = 40


@dataclass(frozen=True)
class ChatSettings:
    k: int
    plugins: tuple[str, ...]  # in config order
    language: str | None = None  # chosen in /settings; None: each person's own
    region: str | None = None  # chosen in /settings; None: from the language or config
    services: tuple[str, ...] = ()  # streaming services the chat has
    night_services: bool = False  # movie nights only offer movies on ``services``


class SettingsStore:
    """Chat settings in one SQLite file. ``close()`` releases the file; a later read or write
    opens it again (as the diskcache it replaces did)."""

    def __init__(self, path: str | Path, default_k: int) -> None:
        self.path = Path(path)
        self.default_k = max(1, min(MAX_K, default_k))
        self._lock = threading.RLock()
        self._connection: sqlite3.Connection | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._languages: dict[int, str | None] = {}  # read for every message: kept
        with self._lock:
            self._db.execute(SCHEMA)
            present = {row[1] for row in self._db.execute("PRAGMA table_info(chat_settings)")}
            for column, kind in ADDED_COLUMNS.items():
                if column not in present:
                    self._db.execute(f"ALTER TABLE chat_settings ADD COLUMN {column} {kind}")

    @property
    def _db(self) -> sqlite3.Connection:
        """The open connection (callers hold ``_lock``)."""
        if self._connection is None:
            db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=5
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # a changed setting survives power loss
            self._connection = db
        return self._connection

    def get(self, chat_id: int, available: list[str]) -> ChatSettings:
        """Settings of ``chat_id``; plugins narrowed to ``available`` (kept in its order)."""
        k, chosen = self._stored(chat_id) or (None, None)
        plugins = [p for p in available if chosen is None or p in chosen]
        k = self.default_k if k is None else k
        with self._lock:
            row = self._db.execute(
                "SELECT language, region, services, night_services FROM chat_settings "
                "WHERE chat_id = ?",
                (int(chat_id),),
            ).fetchone()
        language, region, services, night = row or (None, None, None, None)
        return ChatSettings(
            k=max(1, min(MAX_K, int(k))),
            plugins=tuple(plugins or available),
            language=language if language in LANGUAGE_CHOICES else None,
            region=region if isinstance(region, str) and REGION.fullmatch(region) else None,
            services=tuple(json.loads(services)) if services else (),
            night_services=bool(night),
        )

    def language(self, chat_id: int) -> str | None:
        """The chat's chosen language, or None (kept in memory: read for every message)."""
        chat_id = int(chat_id)
        if chat_id not in self._languages:
            with self._lock:
                row = self._db.execute(
                    "SELECT language FROM chat_settings WHERE chat_id = ?", (chat_id,)
                ).fetchone()
            chosen = row[0] if row and row[0] in LANGUAGE_CHOICES else None
            if len(self._languages) > 100_000:
                self._languages.clear()
            self._languages[chat_id] = chosen
        return self._languages[chat_id]

    def set_language(self, chat_id: int, language: str | None) -> None:
        """``language`` (one of LANGUAGE_CHOICES), or None for each person's own."""
        if language is not None and language not in LANGUAGE_CHOICES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGE_CHOICES)}")
        self._update(chat_id, "language", language)
        self._languages[int(chat_id)] = language

    def set_region(self, chat_id: int, region: str | None) -> None:
        if region is not None and not REGION.fullmatch(region):
            raise ValueError("a region is two capital letters (ISO 3166-1), such as DE")
        self._update(chat_id, "region", region)

    def set_services(self, chat_id: int, services: list[str]) -> None:
        if len(services) > MAX_SERVICES or any(len(n) > 100 for n in services):
            raise ValueError(f"at most {MAX_SERVICES} services of 100 characters")
        self._update(chat_id, "services", json.dumps(list(dict.fromkeys(services))))

    def set_night_services(self, chat_id: int, on: bool) -> None:
        self._update(chat_id, "night_services", 1 if on else 0)

    def set_k(self, chat_id: int, k: int) -> None:
        if not 1 <= k <= MAX_K:
            raise ValueError(f"k must be between 1 and {MAX_K}")
        self._update(chat_id, "k", int(k))

    def set_plugins(self, chat_id: int, plugins: list[str]) -> None:
        if not plugins:
            raise ValueError("at least one plugin must stay on")
        self._update(chat_id, "plugins", json.dumps(list(plugins)))

    def _stored(self, chat_id: int) -> tuple[int | None, list[str] | None] | None:
        """(k, plugins) of a chat that has settings (each None when unset), else None."""
        with self._lock:
            row = self._db.execute(
                "SELECT k, plugins FROM chat_settings WHERE chat_id = ?", (int(chat_id),)
            ).fetchone()
        if row is None:
            return None
        return row[0], None if row[1] is None else list(json.loads(row[1]))

    def _update(self, chat_id: int, column: str, value: object) -> None:
        assert column in ("k", "plugins", *ADDED_COLUMNS)  # our names, never input
        with self._lock:
            self._db.execute(
                f"INSERT INTO chat_settings (chat_id, {column}) VALUES (?, ?) "
                f"ON CONFLICT (chat_id) DO UPDATE SET {column} = excluded.{column}",
                (int(chat_id), value),
            )

    def adopt(self, legacy: diskcache.Cache) -> int:
        """Move the chat settings an older version kept in the bot's diskcache into this
        store. A chat that already has settings here keeps them, and its old entry stays
        where it is (a warning says so). Returns how many chats' settings moved."""
        keys = [k for k in legacy.iterkeys() if isinstance(k, str) and k.startswith(LEGACY_PREFIX)]
        moved = kept = 0
        for key in keys:
            stored = legacy.get(key)
            chat_id = int(key[len(LEGACY_PREFIX) :])
            if not isinstance(stored, dict):
                legacy.delete(key)
                continue
            if self._stored(chat_id) is not None:
                kept += 1
                continue
            plugins = stored.get("plugins")
            k = stored.get("k")
            with self._lock:
                self._db.execute(
                    "INSERT INTO chat_settings (chat_id, k, plugins) VALUES (?, ?, ?)",
                    (
                        chat_id,
                        None if k is None else int(k),
                        None if plugins is None else json.dumps(list(plugins)),
                    ),
                )
            legacy.delete(key)
            moved += 1
        if moved:
            log.warning("moved %d chats' settings out of the cache folder to %s", moved, self.path)
        if kept:
            log.warning(
                "%d chats have settings both in %s and in the cache folder (%s); "
                "both are kept, the ones in the state folder apply",
                kept,
                self.path,
                legacy.directory,
            )
        return moved

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
