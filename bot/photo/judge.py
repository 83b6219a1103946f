"""From the posters nearest to a photo to what the bot says: a match, a few guesses, or none.

Pure (no Telegram, no I/O), so the thresholds can be tested and calibrated on their own
(bench/bench_photo.py chose the defaults in config: [photo] confident_share, candidate_score).

Nearness by features says which posters to look at, not whether the photo *is* one of them:
a poster the bot does not know can be near a sequel's poster with the same logo, and a real
photo of a known poster (small, cropped, turned, dark, slanted, with glare) can be far from
it by cosine. So a movie is named only when its poster matches enough of the photo's points
(:func:`reelpick.imagesearch.matching_share`, checked by the image worker for the few
nearest posters): that holds for a phone photo of the poster and fails for a lookalike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from reelpick.types import Neighbour

GUESSES = 3  # closest movies offered as buttons when unsure


@dataclass(frozen=True)
class Thresholds:
    confident_share: float  # share of the photo's points a checked poster must match to be named
    candidate_score: float  # below this top-1 cosine (and no poster named) the movie is "unknown"


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


def judge(
    neighbours: list[Neighbour],
    limits: Thresholds,
    k: int,
    shares: Mapping[int, float] | None = None,
) -> Verdict:
    """``neighbours``: posters nearest to the photo (cosine, best first); ``shares``: the
    matching shares of the checked ones (movie id -> share); ``k`` lookalikes.

    The checked poster with the largest share is named when it reaches ``confident_share``;
    the rest are lookalikes. Otherwise the closest posters above ``candidate_score`` are guesses.
    """
    ids = tuple(n.movie_id for n in neighbours)
    checked = [(share, -ids.index(m), m) for m, share in (shares or {}).items() if m in ids]
    if checked:
        share, _, best = max(checked)
        if share >= limits.confident_share:
            others = tuple(m for m in ids if m != best)
            return Verdict(Recognition.MATCH, best, (), others[:k])
    if not neighbours or neighbours[0].score < limits.candidate_score:
        return Verdict(Recognition.UNKNOWN, None, (), ids[:k])
    guesses = tuple(n.movie_id for n in neighbours[:GUESSES] if n.score >= limits.candidate_score)
    return Verdict(Recognition.UNSURE, None, guesses, ids[:k])
