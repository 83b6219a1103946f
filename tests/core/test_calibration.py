"""Genre miscalibration, popularity lift and the calibrated re-rank, against hand values."""

from __future__ import annotations

import math

import pytest

from reelpick.calibration import Genres, calibrate, miscalibration, popularity_lift
from reelpick.picks import PickSettings, pick_for
from reelpick.types import PluginAnswer, Profile, Recommendation

GENRES = Genres(
    {
        1: ("Drama",),
        2: ("Comedy",),
        3: ("Drama", "Comedy"),
        4: ("Action",),
        5: ("Action",),
        6: ("Comedy",),
        7: ("(no genres listed)",),
    }
)


def test_miscalibration_is_the_smoothed_kl_divergence() -> None:
    # Profile half Drama, half Comedy; a list of Drama only: q~ = 0.99 q + 0.01 p =
    # (Drama 0.995, Comedy 0.005): KL = 0.5 ln(0.5/0.995) + 0.5 ln(0.5/0.005).
    expected = 0.5 * math.log(0.5 / 0.995) + 0.5 * math.log(100)
    assert miscalibration([1, 2], [1], GENRES) == pytest.approx(expected)
    assert expected == pytest.approx(1.958518, abs=1e-6)
    # Movie 3 spreads over both genres: the same distribution as the profile, KL 0.
    assert miscalibration([1, 2], [3], GENRES) == pytest.approx(0.0)
    assert miscalibration([7], [1], GENRES) == 0.0  # a profile without genres


def test_popularity_lift_compares_mean_rating_counts() -> None:
    counts = {1: 10, 2: 30, 4: 100}
    # Profile mean (10 + 30) / 2 = 20; list mean 100: 100 / 20 - 1 = 4.
    assert popularity_lift([1, 2], [4], counts) == pytest.approx(4.0)
    assert popularity_lift([], [4], counts) is None


def test_the_calibrated_rerank_trades_relevance_for_the_profile_genres() -> None:
    # The profile is Action and Comedy in equal parts; the best-scored candidates are Action.
    candidates, scores = [4, 5, 2, 6], [1.0, 0.9, 0.5, 0.4]
    assert calibrate(candidates, scores, [4, 2], GENRES, k=2, lam=0.0) == [4, 5]
    # λ 0.5, step 2 after 4: adding 5 (Action): 0.5 (1.9) - 0.5 KL((.5,.5) || (.995,.005)) =
    # 0.95 - 0.979 < 0; adding 2 (Comedy): 0.5 (1.5) - 0 = 0.75: the Comedy wins.
    assert calibrate(candidates, scores, [4, 2], GENRES, k=2, lam=0.5) == [4, 2]
    with pytest.raises(ValueError):
        calibrate(candidates, scores, [4], GENRES, k=2, lam=1.5)


def test_pick_for_cuts_answers_to_the_depth_it_would_have_asked() -> None:
    a = PluginAnswer("a", "A", neighbours=[Recommendation(m, 1.0) for m in (4, 5, 2)])
    profile = Profile(ratings={4: 5.0, 2: 5.0})
    plain = PickSettings({"a": 1.0}, 60.0, 0.0, 3)
    assert [p.movie_id for p in pick_for(profile, [a], 2, plain, GENRES)] == [4, 5]
    calibrated = PickSettings({"a": 1.0}, 60.0, 0.9, 3)
    # With λ 0.9 from the 3 fused candidates: 4 (Action) then 2 (Comedy) matches the profile.
    assert [p.movie_id for p in pick_for(profile, [a], 2, calibrated, GENRES)] == [4, 2]
    assert calibrated.depth(2) == 3 and plain.depth(2) == 2
