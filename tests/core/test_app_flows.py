"""The app's flows: a person's picks and a group's picks, the one way front ends get them."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelpick.app import Reelpick
from reelpick.groups import GroupSettings, recommend_for_group
from reelpick.picks import PickSettings, pick
from reelpick.registry import BUILTIN_PLUGINS
from reelpick.types import Profile
from tests.support.fixtures import write_movielens
from tests.support.profile_plugins import FixedList


class Ranked(FixedList):
    """Recommends its movies in a fixed order, minus the excluded ones."""

    movies: tuple[int, ...] = (1, 2, 3, 4, 5, 6)


class Reversed(Ranked):
    movies = (6, 5, 4, 3, 2, 1)


@pytest.fixture
def app(make_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Reelpick:
    monkeypatch.setitem(BUILTIN_PLUGINS, "ranked", f"{__name__}:Ranked")
    monkeypatch.setitem(BUILTIN_PLUGINS, "reversed", f"{__name__}:Reversed")
    data = write_movielens(tmp_path / "ml", n_users=4, n_movies=12)
    config = make_config(
        # Fusion alone: calibration has tests of its own.
        "[picks]\ncalibration = 0.0\nrrf_k = 60\ncalibration_while_rating = 0.0\n"
        "[picks.weights]\nranked = 3.0\nreversed = 1.0\n"
        "[picks.weights_while_rating]\nranked = 1.0\nreversed = 3.0\n[groups]\ndepth = 4\n",
        data=data,
        enabled=["ranked", "reversed"],
    )
    return Reelpick.open(config)


def ids(found) -> list[int]:
    return [p.movie_id for p in found]


def test_picks_fuse_the_plugins_with_the_configured_weights(app: Reelpick) -> None:
    profile = Profile(ratings={9: 4.0})
    assert app.settings.picks.weights["ranked"] == 3.0
    answers = app.recommend(profile, 3)
    expected = pick(answers, 3, {"ranked": 3.0, "reversed": 1.0}, 60)
    assert app.picks(profile, 3) == expected
    assert ids(expected) == [1, 2, 3]  # ranked weighs three times as much
    # Weights of the tuner's choosing, and answers gathered elsewhere.
    even = PickSettings(weights={"ranked": 0.0}, rrf_k=60, calibration=0.0)
    assert ids(app.picks(profile, 3, settings=even)) == [6, 5, 4]
    assert app.picks(profile, 3, answers=answers[1:]) == pick(answers[1:], 3)
    # Excluded movies and the profile's own never come back.
    assert 1 not in ids(app.picks(profile, 3, exclude={1}))
    assert 2 not in ids(app.picks(Profile(ratings={2: 5.0}), 3))


def test_a_person_still_rating_gets_the_picks_for_that_moment(app: Reelpick) -> None:
    rated = {9: 1000.0}
    still_rating = Profile(ratings={9: 4.0}, rated_at=rated, asked_at=1000.0 + 60)
    back_later = Profile(ratings={9: 4.0}, rated_at=rated, asked_at=1000.0 + 86400)
    assert ids(app.picks(still_rating, 3)) == [6, 5, 4]  # reversed weighs three times
    assert ids(app.picks(back_later, 3)) == [1, 2, 3]


def test_group_picks_gather_each_members_picks(app: Reelpick) -> None:
    members = {
        "ann": Profile(ratings={10: 5.0}),
        "bob": Profile(ratings={10: 4.0, 11: 3.0, 12: 2.0}),
        "cem": Profile(),  # no ratings: no part in the score
    }
    settings = app.settings.groups
    assert settings.depth == 4
    personal = {m: ids(app.picks(p, 4, exclude={6})) for m, p in members.items() if p.ratings}
    expected = recommend_for_group(
        {**personal, "cem": []},
        2,
        settings,
        exclude={6},
        profile_sizes={"ann": 1, "bob": 3, "cem": 0},
    )
    assert app.group_picks(members, 2, exclude={6}) == expected
    # Lists made beforehand give the same, and other settings are honoured.
    assert app.group_picks(members, 2, exclude={6}, personal=personal) == expected
    linear = GroupSettings(depth=4, rank_k=0, size_exponent=0.0)
    unfair = recommend_for_group(personal, 2, linear, exclude={6}, fair=False)
    assert app.group_picks(members, 2, exclude={6}, fair=False, settings=linear) == unfair
