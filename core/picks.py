"""Picks: one list of recommendations for a person, fused from every plugin that answered.

Each plugin's answer to a recommend call is a ranked list; the picks are their weighted
reciprocal rank fusion (:func:`reelpick.fusion.fuse`, the rule movie nights use), so plugins
whose scores live on different scales mix by rank only. Weights and ``rrf_k`` are the
``[picks]`` section (:class:`PickSettings`); they were chosen on a validation split inside the
training data (``reelpick evaluate --task topn --tune`` derives them again).

:func:`pick` is a pure function of the answers; :meth:`reelpick.app.Reelpick.picks` asks the
plugins and fuses their answers with the app's settings.

A pick's ``because`` is the union of the contributing plugins' ``because``, the plugin that
contributed most to the pick first, each plugin's reasons in its own order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from .errors import ConfigError
from .fusion import DEFAULT_RRF_K, check_weights, fuse, ranked_lists
from .types import PluginAnswer, Recommendation

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
            "sgd-mf": 0.0,
            "vgg16-poster": 0.25,
            "ease": 2.0,
            "hybrid": 0.25,
        }
    )
    rrf_k: float = DEFAULT_RRF_K

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: Callable[..., str]) -> Self:
        """The ``[picks]`` table checked, each error in one line."""
        rrf_k = float(table["rrf_k"])
        if rrf_k < 0:
            raise ConfigError(f"{where('rrf_k')}: must be >= 0")
        try:
            weights = check_weights(table["weights"], where("weights"))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        return cls(weights=weights, rrf_k=rrf_k)


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
