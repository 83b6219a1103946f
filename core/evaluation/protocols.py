"""How the top-N and group evaluations split each user's ratings into training and test.

Two protocols, both per user and in time order (ties by movieId):

* ``session`` (the default): a person *comes back later*. Each user's ratings are cut into
  sessions wherever two consecutive ratings are at least ``SESSION_GAP`` (1 hour) apart. A user
  is a test user when their last session starts at least ``RETURN_GAP`` (24 hours) after their
  previous rating and they have at least ``MIN_BEFORE`` (20) ratings before it; the test set is
  that whole last session, everything before it trains.
* ``last10``: each user with at least 20 ratings gives their 10 latest ratings to the test set.
  MovieLens users rate in batches, so this mostly asks for the rest of the session the
  training ratings came from.

Users who are not test users stay wholly in training (``Split.users_left_out``). Tuning
applies the same protocol again to the training ratings (:func:`split_for` on ``split.train``).
"""

from __future__ import annotations

import pandas as pd

from ..errors import ReelpickError
from ..types import DAY, SESSION_GAP
from .ratings import Split

SESSION = "session"
LAST10 = "last10"
PROTOCOLS = (SESSION, LAST10)
DEFAULT_PROTOCOL = SESSION

MIN_RATINGS = 20  # last10: users with fewer ratings are not tested
RETURN_GAP = DAY  # the last session starts at least this long after the previous rating
MIN_BEFORE = 20  # ratings a session test user has before their last session


def _ordered(ratings: pd.DataFrame) -> pd.DataFrame:
    return ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable")


def temporal_split(
    ratings: pd.DataFrame, test_per_user: int = 10, min_ratings: int = MIN_RATINGS
) -> Split:
    """``last10``: each user's ``test_per_user`` latest ratings (ties by movieId) are the test.

    Users with fewer than ``min_ratings`` ratings stay wholly in training (``users_left_out``).
    """
    if test_per_user < 1:
        raise ReelpickError("--test-per-user must be at least 1")
    ordered = _ordered(ratings)
    by_user = ordered.groupby("userId")
    sizes = by_user["movieId"].transform("size")
    in_test = (sizes >= min_ratings) & (by_user.cumcount(ascending=False) < test_per_user)
    tested_users = ordered.loc[in_test, "userId"].nunique()
    return Split(
        train=ordered[~in_test.to_numpy()],
        test=ordered[in_test.to_numpy()],
        label=f"temporal split last={test_per_user} min={min_ratings}",
        users_left_out=int(ratings["userId"].nunique() - tested_users),
    )


def session_split(
    ratings: pd.DataFrame,
    gap: float = SESSION_GAP,
    return_gap: float = RETURN_GAP,
    min_before: int = MIN_BEFORE,
) -> Split:
    """``session``: each qualifying user's last session is the test set (module doc)."""
    ordered = _ordered(ratings)
    users = ordered["userId"].to_numpy()
    times = ordered["timestamp"].to_numpy(dtype="float64")
    n = len(ordered)
    same_user = pd.Series(users).shift(1).to_numpy() == users if n else users == users
    step = pd.Series(times).diff().to_numpy()
    # A row starts a session when it is a user's first, or follows the previous one by >= gap.
    starts = ~same_user | (step >= gap)
    session_id = starts.cumsum()
    frame = pd.DataFrame({"user": users, "session": session_id, "step": step, "first": starts})
    frame["position"] = frame.groupby("user").cumcount()  # ratings before this one
    last_session = frame.groupby("user")["session"].transform("max").to_numpy()
    in_last = session_id == last_session
    # The last session's first row: how many came before it, and how long after the previous.
    opening = in_last & starts
    qualifies = opening & same_user & (step >= return_gap) & (frame["position"] >= min_before)
    tested = set(users[qualifies.to_numpy()])
    in_test = in_last & pd.Series(users).isin(tested).to_numpy()
    return Split(
        train=ordered[~in_test],
        test=ordered[in_test],
        label=(
            f"session split gap={gap / 3600:g}h return>={return_gap / 3600:g}h before>={min_before}"
        ),
        users_left_out=int(ratings["userId"].nunique() - len(tested)),
    )


def split_for(protocol: str, ratings: pd.DataFrame, test_per_user: int = 10) -> Split:
    """The split ``protocol`` makes of ``ratings`` (``test_per_user`` is last10's count)."""
    if protocol == SESSION:
        return session_split(ratings)
    if protocol == LAST10:
        return temporal_split(ratings, test_per_user)
    raise ReelpickError(f"unknown protocol {protocol!r} (expected one of {', '.join(PROTOCOLS)})")


def describe(protocol: str, users: int, test_per_user: int = 10) -> str:
    """One line saying what the test set is."""
    if protocol == SESSION:
        return (
            f"session protocol: the last session (ratings < 1 h apart) of each of {users} users "
            f"who came back >= 24 h after their previous rating, with >= {MIN_BEFORE} ratings "
            "before it, is the test set"
        )
    return (
        f"last10 protocol: the {test_per_user} latest ratings of each of {users} users are the "
        f"test set (users with >= {MIN_RATINGS} ratings)"
    )
