"""The public value types: how a profile says whether its owner is still rating, and what
recency weighs."""

from __future__ import annotations

import time

import pytest

from reelpick import Profile
from reelpick.types import DAY, SESSION_GAP

RATED = {1: 1000.0, 2: 2000.0, 3: 3000.0, 4: 4000.0, 5: 4000.0}


def test_still_rating_is_measured_from_the_latest_rating_to_the_question() -> None:
    assert Profile(rated_at=RATED, asked_at=4000.0 + SESSION_GAP - 1).still_rating()
    assert not Profile(rated_at=RATED, asked_at=4000.0 + SESSION_GAP).still_rating()
    assert not Profile(rated_at={}, asked_at=0.0).still_rating()
    # A date ahead of the question (midnight UTC of a day not begun here) is no session.
    assert not Profile(rated_at={1: 9000.0}, asked_at=8000.0).still_rating()
    # Without asked_at the question is asked now.
    assert Profile(rated_at={1: time.time() - 60}).still_rating()
    assert not Profile(rated_at=RATED).still_rating()


def test_recency_weights_halve_every_half_life_while_still_rating() -> None:
    profile = Profile(ratings=dict.fromkeys(RATED, 4.0), rated_at=RATED, asked_at=4100.0)
    # 4 and 5 were rated at the same moment: both latest. 3 has two later, 2 three, 1 four.
    assert profile.recency_weights([1, 2, 3, 4, 5], 2.0) == pytest.approx(
        [0.25, 2**-1.5, 0.5, 1.0, 1.0]
    )
    # A movie without a time weighs as the oldest timed one among those asked about.
    assert profile.recency_weights([9, 3, 5], 1.0) == pytest.approx([0.5, 0.5, 1.0])
    assert profile.recency_weights([1, 5], 0.0) == [1.0, 1.0]


def test_a_file_rated_at_one_moment_weighs_evenly() -> None:
    imported = Profile(rated_at=dict.fromkeys(range(1, 41), 5000.0), asked_at=5010.0)
    assert imported.recency_weights(list(range(1, 41)), 4.0) == [1.0] * 40


def test_a_person_who_comes_back_later_is_weighed_by_age_in_days() -> None:
    latest = 400 * DAY
    rated = {1: latest - 200 * DAY, 2: latest - 100 * DAY, 3: latest, 4: latest}
    back = Profile(rated_at=rated, asked_at=latest + 3 * DAY)
    # Counted in days before the latest rating, not in ratings: 1 is two half-lives old.
    assert back.recency_weights([1, 2, 3, 4], 2.0, 100.0) == pytest.approx([0.25, 0.5, 1, 1])
    # A movie without a time weighs as the oldest timed one.
    assert back.recency_weights([9, 2, 3], 2.0, 100.0) == pytest.approx([0.5, 0.5, 1.0])
    # The while-rating half-life does not act on a person who came back, nor the other way.
    assert back.recency_weights([1, 2, 3, 4], 2.0, 0.0) == [1.0] * 4
    still = Profile(rated_at=rated, asked_at=latest + 60)
    assert still.recency_weights([1, 2, 3], 0.0, 100.0) == [1.0] * 3
    assert Profile().recency_weights([7], 2.0, 100.0) == [1.0]
    assert Profile(rated_at={1: 5.0}).recency_weights([2, 3], 2.0, 100.0) == [1.0, 1.0]
