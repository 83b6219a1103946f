"""Movie nights' SQLite schema and the records read from it (no queries here: see store.py)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

SCHEMA_VERSION = 1

# States in which a chat "has a movie night" (only one such night per chat).
OPEN_STATES = ("gathering", "voting", "closing")

SCHEMA = """
CREATE TABLE IF NOT EXISTS nights (
    id              INTEGER PRIMARY KEY,
    chat_id         INTEGER NOT NULL,
    opener_id       INTEGER NOT NULL,
    opener_name     TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'gathering'
                    CHECK (state IN ('gathering', 'voting', 'closing', 'closed', 'novotes')),
    created_at      REAL NOT NULL,
    deadline        REAL,
    poll_id         TEXT UNIQUE,
    poll_message_id INTEGER,
    winner          INTEGER,
    winner_votes    INTEGER,
    tally           TEXT,
    tie_broken      INTEGER NOT NULL DEFAULT 0,
    random_pick     INTEGER NOT NULL DEFAULT 0,
    announced       INTEGER NOT NULL DEFAULT 0,
    announce_message_id INTEGER,
    closed_at       REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_open_night_per_chat
    ON nights (chat_id) WHERE state IN ('gathering', 'voting', 'closing');
CREATE TABLE IF NOT EXISTS seeds (
    night_id  INTEGER NOT NULL REFERENCES nights (id),
    movie_id  INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    user_name TEXT NOT NULL,
    added_at  REAL NOT NULL,
    PRIMARY KEY (night_id, movie_id)
);
CREATE TABLE IF NOT EXISTS exclusions (
    night_id  INTEGER NOT NULL REFERENCES nights (id),
    movie_id  INTEGER NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('seen', 'veto')),
    user_id   INTEGER NOT NULL,
    user_name TEXT NOT NULL,
    added_at  REAL NOT NULL,
    PRIMARY KEY (night_id, movie_id)
);
CREATE TABLE IF NOT EXISTS options (
    night_id INTEGER NOT NULL REFERENCES nights (id),
    position INTEGER NOT NULL,
    movie_id INTEGER NOT NULL,
    score    REAL NOT NULL,
    text     TEXT NOT NULL,
    PRIMARY KEY (night_id, position)
);
CREATE TABLE IF NOT EXISTS votes (
    night_id   INTEGER NOT NULL REFERENCES nights (id),
    user_id    INTEGER NOT NULL,
    user_name  TEXT NOT NULL,
    option_ids TEXT NOT NULL,          -- JSON list; [] after a retraction
    update_id  INTEGER NOT NULL,       -- Telegram update that set it (older ones never win)
    updated_at REAL NOT NULL,
    PRIMARY KEY (night_id, user_id)
);
CREATE TABLE IF NOT EXISTS history (
    chat_id    INTEGER NOT NULL,
    movie_id   INTEGER NOT NULL,
    night_id   INTEGER NOT NULL UNIQUE REFERENCES nights (id),
    watched_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_chat ON history (chat_id);
"""


class StoreError(Exception):
    """A change that the night's state does not allow (the message says why)."""


@dataclass(frozen=True)
class Night:
    id: int
    chat_id: int
    opener_id: int
    opener_name: str
    state: str
    created_at: float
    deadline: float | None
    poll_id: str | None
    poll_message_id: int | None
    winner: int | None
    winner_votes: int | None
    tally: tuple[int, ...] | None
    tie_broken: bool
    random_pick: bool
    announced: bool
    announce_message_id: int | None
    closed_at: float | None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


@dataclass(frozen=True)
class Entry:
    """A seed or an exclusion: which movie, who added it, and (exclusions) why."""

    movie_id: int
    user_id: int
    user_name: str
    added_at: float
    kind: str = "seed"


@dataclass(frozen=True)
class Option:
    position: int  # 0-based, as in Telegram's option_ids
    movie_id: int
    score: float
    text: str  # the poll option as sent (at most 100 characters)


@dataclass(frozen=True)
class Vote:
    user_id: int
    user_name: str
    option_ids: tuple[int, ...]


def night_from_row(row: sqlite3.Row) -> Night:
    """A ``nights`` row as a :class:`Night`."""
    values = dict(row)
    values["tally"] = tuple(json.loads(values["tally"])) if values["tally"] else None
    for flag in ("tie_broken", "random_pick", "announced"):
        values[flag] = bool(values[flag])
    return Night(**values)
