"""The movie night's button data: what each button carries, and the strict parsing of a press.

Telegram delivers whatever ``callback_data`` a client sends, not only what our buttons carry,
so a press is parsed strictly: kind codes and ids must be ours, and anything else is
refused. Button data holds 64 bytes at most, so kinds travel as one-letter codes.

- ``mn:a:<kind code>:<night id>:<movie id>``: "which title did you mean" (adds a seed or
  an exclusion);
- ``mn:j:<night id>``: "I'm in" under a night's opening message;
- ``mn:r:<night id>``: "random pick from the top 3" after a night without votes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .schema import EntryKind

CALLBACK_PREFIX = "mn:"
KIND_CODE = {EntryKind.SEED: "s", EntryKind.SEEN: "w", EntryKind.VETO: "v"}
_CODE_KIND = {code: kind for kind, code in KIND_CODE.items()}
# Night ids are SQLite rowids; movie ids MovieLens ids: both fit comfortably in 12 digits,
# and bounding the digits keeps 10**30 and friends out of int() and pandas lookups.
_ADD = re.compile(
    rf"{re.escape(CALLBACK_PREFIX)}a:([{''.join(_CODE_KIND)}]):(\d{{1,12}}):(\d{{1,12}})"
)
_JOIN = re.compile(rf"{re.escape(CALLBACK_PREFIX)}j:(\d{{1,12}})")
_RANDOM = re.compile(rf"{re.escape(CALLBACK_PREFIX)}r:(\d{{1,12}})")


def add_button_data(kind: EntryKind, night_id: int) -> str:
    """The ``action`` prefix of title-choice buttons adding a ``kind`` to night ``night_id``."""
    return f"{CALLBACK_PREFIX}a:{KIND_CODE[kind]}:{night_id}"


def join_button_data(night_id: int) -> str:
    return f"{CALLBACK_PREFIX}j:{night_id}"


def random_button_data(night_id: int) -> str:
    return f"{CALLBACK_PREFIX}r:{night_id}"


@dataclass(frozen=True)
class AddPress:
    """A title-choice button: add ``movie_id`` as ``kind`` to night ``night_id``."""

    kind: EntryKind
    night_id: int
    movie_id: int


@dataclass(frozen=True)
class JoinPress:
    night_id: int


@dataclass(frozen=True)
class RandomPress:
    night_id: int


Press = AddPress | JoinPress | RandomPress


def parse_press(data: str) -> Press | None:
    """The press ``data`` carries, or None for anything that is not exactly one of ours."""
    if match := _ADD.fullmatch(data):
        return AddPress(_CODE_KIND[match.group(1)], int(match.group(2)), int(match.group(3)))
    if match := _JOIN.fullmatch(data):
        return JoinPress(int(match.group(1)))
    if match := _RANDOM.fullmatch(data):
        return RandomPress(int(match.group(1)))
    return None
