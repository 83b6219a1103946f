"""From the posters nearest to a photo to what the bot says: a match, a few guesses, or none.

Pure (no Telegram, no I/O), so the thresholds can be tested and calibrated on their own
(bench/bench_photo.py chose the defaults in config: [photo] confident_score, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from reelpick.types import Neighbour

GUESSES = 3  # closest movies offered as buttons when unsure


@dataclass(frozen=True)
class Thresholds:
    confident_score: float  # top-1 cosine needed to name the movie...
    confident_margin: float  # ...and its lead over the second poster
    candidate_score: float  # below this top-1 cosine the movie is "unknown"


class Recognition(StrEnum):
    MATCH = "match"  # the photo is this movie's poster
    UNSURE = "unsure"  # one of a few guesses, perhaps
    UNKNOWN = "unknown"  # nothing near enough


@dataclass(frozen=True)
class Verdict:
    kind: Recognition
    movie_id: int | None  # the match
    guesses: tuple[int, ...]  # closest movies to offer (unsure), best first
    lookalikes: tuple[int, ...]  # every poster found near the photo, best first


def judge(neighbours: list[Neighbour], limits: Thresholds, k: int) -> Verdict:
    """``neighbours``: posters nearest to the photo (cosine, best first); ``k`` lookalikes."""
    ids = tuple(n.movie_id for n in neighbours)
    if not neighbours or neighbours[0].score < limits.candidate_score:
        return Verdict(Recognition.UNKNOWN, None, (), ids[:k])
    top = neighbours[0].score
    lead = top - neighbours[1].score if len(neighbours) > 1 else top
    if top >= limits.confident_score and lead >= limits.confident_margin:
        return Verdict(
            Recognition.MATCH, ids[0], (), ids[1 : k + 1]
        )  # the others: it is identified
    guesses = tuple(n.movie_id for n in neighbours[:GUESSES] if n.score >= limits.candidate_score)
    return Verdict(Recognition.UNSURE, None, guesses, ids[:k])
