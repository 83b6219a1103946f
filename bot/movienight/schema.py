"""Movie nights' SQLite schema, the states and kinds stored in it, and the records read from it.

No queries here (the record classes that :mod:`.store` composes hold them). The enums'
values are the strings stored in SQLite, so every database on disk loads as it is.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from enum import StrEnum

SCHEMA_VERSION = 3  # 3: members, waiting, asks; nights.rewatch/language/aftercare


class NightState(StrEnum):
    """Where a night is in its life (see store.py for the transitions)."""

    GATHERING = "gathering"
    VOTING = "voting"
    CLOSING = "closing"
    CLOSED = "closed"
    NOVOTES = "novotes"


class EntryKind(StrEnum):
    """Why a movie is on a night's lists: a seed title, or an exclusion (seen or vetoed)."""

    SEED = "seed"
    SEEN = "seen"
    VETO = "veto"


class TitleOutcome(StrEnum):
    """What became of one title of /suggest, /seen or /veto (or of a title-choice button)."""

    ADDED = "added"
    DUPLICATE = "duplicate"  # already on the list
    EXCLUDED = "excluded"  # a seed that a /seen or /veto keeps out
    SEED = "seed"  # an exclusion of a movie that is a seed
    FULL = "full"  # the seed list has no room
    CLOSED = "closed"  # voting started meanwhile
    NOMATCH = "nomatch"  # no movie has that title
    INVALID = "invalid"  # not a title at all (empty, emoji, too long)


class JoinOutcome(StrEnum):
    """What /in (or the "I'm in" button) did."""

    JOINED = "joined"
    ALREADY = "already"
    WAITING = "waiting"  # no night gathers: in for the chat's next one


# States in which a chat "has a movie night" (only one such night per chat).
OPEN_STATES = (NightState.GATHERING, NightState.VOTING, NightState.CLOSING)

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
    closed_at       REAL,
    poll_intent_at  REAL,              -- set just before sendPoll (see store.record_poll_intent)
    poll_anchor_id  INTEGER,           -- the bot's last message before the poll, to find it
    rewatch         INTEGER NOT NULL DEFAULT 0,  -- /movienight rewatch: seen movies may come
    language        TEXT,              -- the opener's language: for messages without a sender
    aftercare       INTEGER NOT NULL DEFAULT 0   -- voters' "seen" marks and questions planned
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
    note     TEXT,                     -- whom the option is for ("for Ann, Bob +1")
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
CREATE TABLE IF NOT EXISTS members (   -- who joined a night (/in, the button, or a vote)
    night_id  INTEGER NOT NULL REFERENCES nights (id),
    user_id   INTEGER NOT NULL,
    user_name TEXT NOT NULL,
    language  TEXT,
    joined_at REAL NOT NULL,
    gone      INTEGER NOT NULL DEFAULT 0,  -- left the group: counted, never messaged
    PRIMARY KEY (night_id, user_id)
);
CREATE TABLE IF NOT EXISTS waiting (   -- /in while a poll runs: joins the chat's next night
    chat_id   INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    user_name TEXT NOT NULL,
    language  TEXT,
    joined_at REAL NOT NULL,
    PRIMARY KEY (chat_id, user_id)
);
CREATE TABLE IF NOT EXISTS asks (      -- the next day's "How was <title>?" per voter
    night_id INTEGER NOT NULL REFERENCES nights (id),
    user_id  INTEGER NOT NULL,
    movie_id INTEGER NOT NULL,
    language TEXT,
    due      REAL NOT NULL,
    sent     INTEGER NOT NULL DEFAULT 0,  -- claimed before sending: at most one question
    PRIMARY KEY (night_id, user_id)
);
"""

# Columns added after version 1, for files created by an older bot: (table, column, type).
MIGRATIONS = [
    ("nights", "poll_intent_at", "REAL"),
    ("nights", "poll_anchor_id", "INTEGER"),
    ("nights", "rewatch", "INTEGER NOT NULL DEFAULT 0"),
    ("nights", "language", "TEXT"),
    ("nights", "aftercare", "INTEGER NOT NULL DEFAULT 0"),
    ("options", "note", "TEXT"),
]


class StoreError(Exception):
    """A change that the night's state does not allow (the message says why)."""


@dataclass(frozen=True)
class Night:
    id: int
    chat_id: int
    opener_id: int
    opener_name: str
    state: NightState
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
    poll_intent_at: float | None = None
    poll_anchor_id: int | None = None
    rewatch: bool = False
    language: str | None = None
    aftercare: bool = False

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
    kind: EntryKind = EntryKind.SEED


@dataclass(frozen=True)
class Option:
    position: int  # 0-based, as in Telegram's option_ids
    movie_id: int
    score: float
    text: str  # the poll option as sent (at most 100 characters)
    note: str | None = None  # whom it is for, shown in the album caption


@dataclass(frozen=True)
class Member:
    user_id: int
    user_name: str
    language: str | None
    gone: bool = False


@dataclass(frozen=True)
class Ask:
    """A voter's next-day question about the night's winner."""

    night_id: int
    user_id: int
    movie_id: int
    language: str | None
    due: float


@dataclass(frozen=True)
class Vote:
    user_id: int
    user_name: str
    option_ids: tuple[int, ...]


def night_from_row(row: sqlite3.Row) -> Night:
    """A ``nights`` row as a :class:`Night`; ValueError when a stored value is malformed."""
    values = dict(row)
    tally = values["tally"]
    if tally:
        try:
            counts = json.loads(tally)
        except (TypeError, ValueError):
            raise ValueError(f"night {values['id']}: tally {tally!r} is not JSON") from None
        if not isinstance(counts, list) or not all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts
        ):
            raise ValueError(f"night {values['id']}: tally {tally!r} is not a list of counts")
        values["tally"] = tuple(counts)
    else:
        values["tally"] = None
    try:
        values["state"] = NightState(values["state"])
    except ValueError:
        raise ValueError(f"night {values['id']}: unknown state {values['state']!r}") from None
    for flag in ("tie_broken", "random_pick", "announced", "rewatch", "aftercare"):
        values[flag] = bool(values[flag])
    return Night(**values)


def option_ids_from_json(stored: str) -> tuple[int, ...]:
    """A vote's stored option ids; a damaged value counts as no vote."""
    try:
        ids = json.loads(stored)
    except (TypeError, ValueError):
        return ()
    return tuple(i for i in ids if isinstance(i, int)) if isinstance(ids, list) else ()
