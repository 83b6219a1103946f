"""The photo judge on real posters photographed as phones do (all five changes at once, a
slant, glare): the poster itself is named, a sequel's lookalike poster and a picture that is
no poster are not. Shares come from the real check the image worker runs
(:func:`reelpick.imagesearch.matching_share`); the cosines are set by hand, so that the
judge's own rules are what is tested (the VGG16 path: tests/bot/test_bot_photo.py)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from reelpick.bot.photo.judge import Recognition, Thresholds, Verdict, judge
from reelpick.imagesearch import matching_share
from reelpick.settings import PhotoSettings
from reelpick.types import Neighbour
from tests.support.fixtures import POSTERS
from tests.support.photo_variants import PHONE, jpeg, variants

DEFAULTS = Thresholds(PhotoSettings().confident_share, PhotoSettings().candidate_score)
# Posters far apart in the collection; the last two pairs are sequels with the same logo.
POSTERS_ASKED = (1, 296, 593, 1196, 2571, 2959)
BACK_TO_THE_FUTURE, PART_III = 1270, 2012
GHOSTBUSTERS, GHOSTBUSTERS_II = 2716, 2717


@pytest.fixture(scope="module", autouse=True)
def _posters(require_shared) -> None:
    require_shared(*(POSTERS / f"{m}.jpg" for m in (*POSTERS_ASKED, PART_III, GHOSTBUSTERS)))


def poster(movie_id: int) -> bytes:
    return (POSTERS / f"{movie_id}.jpg").read_bytes()


def near(*ids_and_scores: tuple[int, float]) -> list[Neighbour]:
    return [Neighbour(m, s) for m, s in ids_and_scores]


@pytest.mark.parametrize("variant", PHONE)
def test_a_phone_photo_of_an_indexed_poster_is_named(variant: str) -> None:
    for movie_id in POSTERS_ASKED:
        photo = variants(poster(movie_id), (variant,))[variant]
        others = [m for m in POSTERS_ASKED if m != movie_id][:2]
        shares = matching_share(photo, {m: poster(m) for m in (movie_id, *others)})
        assert shares[movie_id] >= DEFAULTS.confident_share, (movie_id, shares)
        assert max(shares[m] for m in others) < DEFAULTS.confident_share / 4, shares
        # Named even where the features put it second (a cosine too low to name it alone).
        neighbours = near((others[0], 0.52), (movie_id, 0.50), (others[1], 0.31))
        verdict = judge(neighbours, DEFAULTS, 5, shares)
        assert verdict.kind == Recognition.MATCH and verdict.movie_id == movie_id
        assert verdict.lookalikes == (others[0], others[1])


@pytest.mark.parametrize(
    ("unknown", "lookalike"),
    [(PART_III, BACK_TO_THE_FUTURE), (GHOSTBUSTERS, GHOSTBUSTERS_II)],
    ids=["Back to the Future Part III", "Ghostbusters"],
)
def test_a_sequels_lookalike_poster_is_only_a_guess(unknown: int, lookalike: int) -> None:
    """The bot knows only the other film of the pair: near by features, yet not the same
    poster, so it asks rather than names it."""
    photo = variants(poster(unknown), ("combined",))["combined"]
    shares = matching_share(photo, {lookalike: poster(lookalike), 1: poster(1)})
    assert 0 < shares[lookalike] < DEFAULTS.confident_share, shares  # the logo matches
    verdict = judge(near((lookalike, 0.60), (1, 0.33)), DEFAULTS, 5, shares)
    assert verdict.kind == Recognition.UNSURE and verdict.guesses == (lookalike,)


def test_a_picture_that_is_no_poster_is_not_named() -> None:
    noise = np.random.default_rng(3).integers(0, 256, (400, 300, 3), dtype=np.uint8)
    shares = matching_share(jpeg(Image.fromarray(noise)), {m: poster(m) for m in (1, 296)})
    assert shares == {1: 0.0, 296: 0.0}  # fewer matching points than MIN_POINTS
    verdict = judge(near((1, 0.21), (296, 0.20)), DEFAULTS, 5, shares)
    assert verdict == Verdict(Recognition.UNKNOWN, None, (), (1, 296))


def test_the_rules_by_hand() -> None:
    limits = Thresholds(confident_share=0.3, candidate_score=0.4)
    neighbours = near((7, 0.8), (8, 0.5), (9, 0.45), (10, 0.3))
    # The checked poster with the largest share, if enough; ties go to the nearer one.
    assert judge(neighbours, limits, 2, {7: 0.1, 8: 0.5, 9: 0.4}).movie_id == 8
    assert judge(neighbours, limits, 2, {7: 0.35, 8: 0.35}).movie_id == 7
    assert judge(neighbours, limits, 2, {7: 0.3}).lookalikes == (8, 9)
    # Not enough (or none checked): guesses above candidate_score, best first.
    unsure = judge(neighbours, limits, 2, {7: 0.29, 8: 0.01})
    assert (unsure.kind, unsure.guesses, unsure.lookalikes) == (
        Recognition.UNSURE,
        (7, 8, 9),
        (7, 8),
    )
    assert judge(neighbours, limits, 2, None).guesses == (7, 8, 9)
    # A share for a movie not among the neighbours are ignored.
    assert judge(neighbours, limits, 2, {99: 0.9}).kind == Recognition.UNSURE
    # Nothing near enough and nothing named: unknown.
    far = near((7, 0.39), (8, 0.2))
    assert judge(far, limits, 2, {7: 0.05}).kind == Recognition.UNKNOWN
    assert judge([], limits, 2, {}).kind == Recognition.UNKNOWN
