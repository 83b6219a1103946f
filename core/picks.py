"""Picks: one list of recommendations for a person, fused from every plugin that answered.

Each plugin's answer to a recommend call is a ranked list; the picks are their weighted
reciprocal rank fusion (:func:`reelpick.fusion.fuse`, the rule movie nights use), so plugins
whose scores live on different scales mix by rank only. Weights and ``rrf_k`` are the
``[picks]`` section (:class:`PickSettings`); they were chosen on a validation split inside the
training data (``reelpick evaluate --task topn --tune`` derives them again).

:func:`pick` is a pure function of the answers; :meth:`reelpick.app.Reelpick.picks` asks the
plugins and fuses their answers with the app's settings.

With ``calibration`` λ > 0 the picks are re-ranked to match the genres of the person's
profile (:mod:`reelpick.calibration`): the plugins are asked for ``calibration_pool`` movies,
fused, and the ``k`` picks chosen greedily from those for relevance and calibration
(:func:`pick_for`). A calibrated pick's ``score`` is then ``1 / (rrf_k + rank)`` of its
place in the calibrated list (the fused scores would not fall down the list any more).

A person who is still rating (:meth:`reelpick.types.Profile.still_rating`: their latest rating
is less than an hour old) gets the ``*_while_rating`` settings instead
(:meth:`PickSettings.for_profile`): what they rate next follows their last few ratings, which
the recency-weighted plugins see, while a person who comes back later is served best by the
other mix. Each set is chosen by ``--tune`` with the protocol that tests that situation
(``last10`` and ``session``).

A pick's ``because`` is the union of the contributing plugins' ``because``, the plugin that
contributed most to the pick first, each plugin's reasons in its own order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Self

from .calibration import Genres, calibrate
from .errors import ConfigError
from .fusion import DEFAULT_RRF_K, check_weights, fuse, ranked_lists
from .types import PluginAnswer, Profile, Recommendation

if TYPE_CHECKING:
    pass

PICKS = "picks"  # the name the fused list goes by in reports and JSON


@dataclass(frozen=True)
class PickSettings:
    """The ``[picks]`` section: each plugin's weight (unlisted: 1.0; 0 leaves it out) and the
    fusion constant. Chosen by ``reelpick evaluate --task topn --tune`` on ml-latest-small."""

    weights: dict[str, float] = field(
        default_factory=lambda: {
            "cosine-cf": 1.0,
            "sgd-mf": 0.5,
            "vgg16-poster": 0.0,
            "ease": 0.5,
            "hybrid": 0.25,
        }
    )
    rrf_k: float = 20.0
    # Calibration λ (0: off; 0-1). Chosen by `reelpick evaluate --task topn --tune` on
    # validation users inside the training data (see config.toml [picks]).
    calibration: float = 0.8
    calibration_pool: int = 50  # fused candidates the calibrated picks are chosen from
    # For a person still rating; chosen by `reelpick evaluate --task topn --protocol last10
    # --tune` (see config.toml [picks]).
    weights_while_rating: dict[str, float] = field(
        default_factory=lambda: {
            "cosine-cf": 1.0,
            "sgd-mf": 0.5,
            "vgg16-poster": 0.0,
            "ease": 2.0,
            "hybrid": 1.0,
        }
    )
    rrf_k_while_rating: float = 60.0
    calibration_while_rating: float = 0.0

    def depth(self, k: int) -> int:
        """How many movies to ask each plugin for, to make ``k`` picks."""
        return max(k, self.calibration_pool) if self.calibration > 0 else k

    def for_profile(self, profile: Profile) -> PickSettings:
        """The settings that serve ``profile``: the ``*_while_rating`` ones while the person is
        still rating, else these."""
        if not profile.still_rating():
            return self
        return replace(
            self,
            weights=self.weights_while_rating,
            rrf_k=self.rrf_k_while_rating,
            calibration=self.calibration_while_rating,
        )

    def for_everyone(self) -> PickSettings:
        """These settings whether or not the person is still rating (the tuner's grid)."""
        return replace(
            self,
            weights_while_rating=self.weights,
            rrf_k_while_rating=self.rrf_k,
            calibration_while_rating=self.calibration,
        )

    def calibrated(self, lam: float) -> PickSettings:
        """These settings with calibration λ ``lam`` in both situations."""
        return replace(self, calibration=lam, calibration_while_rating=lam)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: Callable[..., str]) -> Self:
        """The ``[picks]`` table checked, each error in one line."""

        def rrf_k(key: str) -> float:
            value = float(table[key])
            if value < 0:
                raise ConfigError(f"{where(key)}: must be >= 0")
            return value

        def calibration(key: str) -> float:
            value = float(table[key])
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{where(key)}: must be between 0 and 1")
            return value

        def weights(key: str) -> dict[str, float]:
            try:
                return check_weights(table[key], where(key))
            except ValueError as exc:
                raise ConfigError(str(exc)) from None

        pool = int(table["calibration_pool"])
        if pool < 1:
            raise ConfigError(f"{where('calibration_pool')}: must be at least 1")
        return cls(
            weights=weights("weights"),
            rrf_k=rrf_k("rrf_k"),
            calibration=calibration("calibration"),
            calibration_pool=pool,
            weights_while_rating=weights("weights_while_rating"),
            rrf_k_while_rating=rrf_k("rrf_k_while_rating"),
            calibration_while_rating=calibration("calibration_while_rating"),
        )


def pick(
    answers: list[PluginAnswer],
    k: int,
    weights: Mapping[str, float] | None = None,
    rrf_k: float = DEFAULT_RRF_K,
) -> list[Recommendation]:
    """The ``k`` best movies over all usable ``answers`` (errors and no-answers are ignored).

    ``weights`` maps plugin name to weight (unlisted: 1.0; 0 leaves a plugin out). Plugins
    already left out of each answer the profile's movies and the excluded ones, so nothing
    is excluded here.
    """
    weights = check_weights(weights or {}, "picks weights")
    fused = fuse(ranked_lists(None, answers), weights=weights, rrf_k=rrf_k, limit=k)
    # For each movie: (contribution, plugin order, because) of every plugin that named it.
    reasons: dict[int, list[tuple[float, int, tuple[int, ...]]]] = {}
    wanted = {f.movie_id for f in fused}
    for order, answer in enumerate(a for a in answers if a.ok):
        weight = weights.get(answer.plugin, 1.0)
        for rank, item in enumerate(answer.neighbours, 1):
            if item.movie_id in wanted and weight > 0:
                because = getattr(item, "because", ())
                reasons.setdefault(item.movie_id, []).append(
                    (weight / (rrf_k + rank), order, tuple(because))
                )
    picks = []
    for f in fused:
        ranked = sorted(reasons.get(f.movie_id, []), key=lambda r: (-r[0], r[1]))
        because = tuple(dict.fromkeys(m for _, _, ids in ranked for m in ids))
        picks.append(Recommendation(f.movie_id, f.score, because))
    return picks


def pick_for(
    profile: Profile,
    answers: list[PluginAnswer],
    k: int,
    settings: PickSettings,
    genres: Genres,
) -> list[Recommendation]:
    """The ``k`` picks for ``profile`` with ``settings``: each answer cut to
    ``settings.depth(k)`` movies, fused, and re-ranked for calibration when λ > 0. The same
    answers, however deep, give the same picks."""
    depth = settings.depth(k)
    cut = [replace(a, neighbours=list(a.neighbours)[:depth]) if a.ok else a for a in answers]
    fused = pick(cut, depth, settings.weights, settings.rrf_k)
    if settings.calibration <= 0:
        return fused[:k]
    history = [*profile.ratings, *profile.seen]
    by_id = {p.movie_id: p for p in fused}
    order = calibrate(
        [p.movie_id for p in fused],
        [p.score for p in fused],
        history,
        genres,
        k,
        settings.calibration,
    )
    # The fused scores would no longer fall down the list, so each calibrated pick carries
    # the reciprocal-rank score of its own place, 1 / (rrf_k + rank): what one plugin's
    # list scores in the fusion, falling with rank, and the same scale as the fused scores.
    return [
        replace(by_id[m], score=1.0 / (settings.rrf_k + rank)) for rank, m in enumerate(order, 1)
    ]
