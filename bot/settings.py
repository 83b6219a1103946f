"""Per-chat settings (/settings): how many posters per album and which plugins answer.

Stored in the bot's diskcache (``<cache>/bot``), written at once, so they survive restarts
(and a killed process). Unset values follow config.toml.
"""

from __future__ import annotations

from dataclasses import dataclass

import diskcache

K_CHOICES = (3, 5, 8, 10)
MAX_K = 10  # one album holds at most 10 photos


@dataclass(frozen=True)
class ChatSettings:
    k: int
    plugins: tuple[str, ...]  # in config order


class SettingsStore:
    """Chat settings over a diskcache.Cache shared with the file_id cache (keys differ)."""

    def __init__(self, cache: diskcache.Cache, default_k: int) -> None:
        self.cache = cache
        self.default_k = max(1, min(MAX_K, default_k))

    def get(self, chat_id: int, available: list[str]) -> ChatSettings:
        """Settings of ``chat_id``; plugins narrowed to ``available`` (kept in its order)."""
        stored = self.cache.get(_key(chat_id)) or {}
        k = stored.get("k", self.default_k)
        chosen = stored.get("plugins")
        plugins = [p for p in available if chosen is None or p in chosen]
        return ChatSettings(k=max(1, min(MAX_K, int(k))), plugins=tuple(plugins or available))

    def set_k(self, chat_id: int, k: int) -> None:
        if not 1 <= k <= MAX_K:
            raise ValueError(f"k must be between 1 and {MAX_K}")
        self._update(chat_id, k=k)

    def set_plugins(self, chat_id: int, plugins: list[str]) -> None:
        if not plugins:
            raise ValueError("at least one plugin must stay on")
        self._update(chat_id, plugins=list(plugins))

    def _update(self, chat_id: int, **changes: object) -> None:
        with self.cache.transact():
            stored = dict(self.cache.get(_key(chat_id)) or {})
            stored.update(changes)
            self.cache.set(_key(chat_id), stored)


def _key(chat_id: int) -> str:
    return f"chat-settings:{int(chat_id)}"
