"""Plugins fitted on a training split, and their answers for the users to score.

Shared by the top-N and group evaluations: every recommending plugin is fitted on the training
ratings only, inside a :class:`~reelpick.app.Reelpick` over that training data, so that the
evaluation gets picks through the same :meth:`~reelpick.app.Reelpick.picks` and
:meth:`~reelpick.app.Reelpick.group_picks` as the CLI and the bot.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from ..app import Reelpick
from ..config import Config
from ..data import Dataset
from ..profiles.imports import MAX_BYTES, MAX_ROWS, import_profile
from ..profiles.matching import MovieMatcher
from ..profiles.store import ProfileStore
from ..registry import Registry
from ..types import PluginAnswer, Profile
from .ratings import ONLINE_SKIP, Split, id_key

# Long stages are reported on this logger (the CLI shows them with counts and time left).
progress_log = logging.getLogger("reelpick.progress")


def profiles_of(
    train: pd.DataFrame,
    users: Iterable[int],
    dataset: Dataset,
    asked_at: Mapping[int, float] | None = None,
) -> dict[int, Profile]:
    """Each user's :class:`Profile` built the way the product builds one: their training
    ratings written as the MovieLens CSV a person uploads (``movieId,rating,timestamp``),
    imported into a :class:`ProfileStore` in a temporary state folder by
    :func:`~reelpick.profiles.imports.import_profile` (the bot's upload path), and read back
    with :meth:`ProfileStore.profile`. What plugins see is what they see in the bot: stars,
    and ``rated_at`` from the file's timestamps. ``asked_at`` gives the moment each user asks
    (:attr:`Profile.asked_at`; the bot asks now)."""
    asked_at = asked_at or {}
    wanted = set(users)
    found: dict[int, Profile] = {}
    matcher = MovieMatcher(dataset)
    mine = train[train["userId"].isin(wanted)]
    with (
        tempfile.TemporaryDirectory(prefix="reelpick-eval-") as state,
        ProfileStore(Path(state), clock=lambda: 0.0) as store,
    ):
        for user_id, rows in mine.groupby("userId"):
            owner = f"local:user{id_key(user_id)}"
            upload = rows[["movieId", "rating", "timestamp"]].to_csv(index=False)
            data = upload.encode()
            # The caps bound a stranger's upload; a MovieLens user may rate more.
            import_profile(
                store,
                owner,
                data,
                matcher,
                format="movielens",
                max_rows=max(MAX_ROWS, len(rows)),
                max_bytes=max(MAX_BYTES, len(data)),
            )
            profile = store.profile(owner)
            found[id_key(user_id)] = replace(profile, asked_at=asked_at.get(id_key(user_id)))
    return found


def asking_moments(test: pd.DataFrame) -> dict[int, float]:
    """When each test user asks: at their first test rating, as a person asks the bot just
    before choosing what to watch next. Only the moment is given, never the movie."""
    first = test.groupby("userId")["timestamp"].min()
    return {id_key(u): float(t) for u, t in first.items()}


def truth_of(test: pd.DataFrame) -> dict[int, set[int]]:
    """Each test user's test movies."""
    return {id_key(u): set(rows["movieId"].tolist()) for u, rows in test.groupby("userId")}


@dataclass
class Trained:
    """An app whose plugins were fitted on one training set, and their answers for some users."""

    app: Reelpick
    profiles: dict[int, Profile]  # user -> their training profile
    answers: dict[int, list[PluginAnswer]]  # user -> one answer per plugin
    names: list[str]  # the plugins that were fitted, in config order
    fit_seconds: dict[str, float]
    skipped: list[dict[str, str]]

    def plugin_lists(self, name: str) -> dict[int, list[int]]:
        """Plugin ``name``'s list for every user it answered."""
        lists = {}
        for user_id, answers in self.answers.items():
            for answer in answers:
                if answer.plugin == name and answer.ok:
                    lists[user_id] = [n.movie_id for n in answer.neighbours]
        return lists


def train_and_ask(
    config: Config,
    dataset: Dataset,
    split: Split,
    plugins: list[str] | None,
    k: int,
    progress: Callable[[str], None],
) -> Trained:
    """Fit every recommending plugin on ``split.train`` and ask it about each test user at
    their first test rating (:func:`asking_moments`)."""
    train = dataset.with_ratings(split.train, split.label)
    registry = Registry(config)
    app = Reelpick(config, train, registry)
    wanted = plugins or config.enabled_plugins
    skipped = [
        {"name": f.name, "reason": f"could not be loaded ({f.reason})"}
        for f in registry.failures
        if f.name in wanted
    ]
    names, fit_seconds = [], {}
    for name in registry.enabled(plugins):
        if registry.plugins[name].info.online:
            skipped.append({"name": name, "reason": ONLINE_SKIP})
            progress(f"  {name}: skipped, {ONLINE_SKIP}")
            continue
        if not registry.implements(name, "reelpick_recommend"):
            continue  # fitting a plugin that cannot recommend would only cost time
        started = time.perf_counter()
        error = registry.fit(train, [name])[name]
        if error is not None:
            skipped.append({"name": name, "reason": f"could not be fitted ({error})"})
            progress(f"  {name}: skipped, could not be fitted ({error})")
            continue
        fit_seconds[name] = time.perf_counter() - started
        progress(f"  {name}: fitted in {fit_seconds[name]:.1f} s")
        names.append(name)
    users = sorted(split.test["userId"].unique().tolist())
    profiles = profiles_of(split.train, users, train, asking_moments(split.test))
    answers = {}
    if names:
        stage = "asking the plugins for the test users"
        for done, (user_id, profile) in enumerate(profiles.items(), 1):
            answers[user_id] = app.recommend(profile, k, names)
            if done % 10 == 0 or done == len(profiles):
                progress_log.info(stage, extra={"done": done, "total": len(profiles)})
    return Trained(app, profiles, answers, names, fit_seconds, skipped)
