"""Scoring top-N lists: per-user metrics (:mod:`.metrics`), their bootstrap interval, and the
list-level measures (coverage, genre miscalibration, popularity lift), shared by
``evaluate --task topn``, its tuning and bench/bench_topn.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..calibration import Genres, genres_of, miscalibration, popularity_lift
from ..picks import PickSettings
from .metrics import bootstrap_ci, coverage, score_list
from .training import Trained

K = 10


def recall_ndcg(recommended: list[int], relevant: set[int], k: int = K) -> tuple[float, float]:
    """Recall@k and nDCG@k (binary gain) of one ranked list against the relevant movies."""
    scores = score_list(recommended, relevant, k)
    return scores.recall, scores.ndcg


@dataclass(frozen=True)
class ScoringContext:
    """What the list-level measures need besides the truth: each user's profile movies, the
    genres, the training rating counts and the number of movies that can be recommended."""

    history: Mapping[int, list[int]]
    genres: Genres
    counts: Mapping[int, int]
    catalogue: int

    @classmethod
    def of(cls, trained: Trained) -> ScoringContext:
        ratings = trained.app.dataset.ratings
        counts = ratings["movieId"].value_counts()
        return cls(
            history={u: [*p.ratings, *p.seen] for u, p in trained.profiles.items()},
            genres=genres_of(trained.app.dataset),
            counts=dict(zip(counts.index.tolist(), counts.tolist(), strict=True)),
            catalogue=int(counts.size),
        )


@dataclass
class TopnResult:
    plugin: str
    recall: float
    ndcg: float
    answered: int  # users the plugin gave a list to
    fit_seconds: float = 0.0
    mrr: float = 0.0
    hit: float = 0.0
    coverage: float | None = None
    ci95: tuple[float, float] = (float("nan"), float("nan"))  # nDCG@10, bootstrap over users
    miscalibration: float | None = None
    popularity_lift: float | None = None
    per_user: dict[int, float] = field(default_factory=dict, repr=False)  # user -> nDCG@10

    def to_json(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "ndcg@10": self.ndcg,
            "recall@10": self.recall,
            "ci95": list(self.ci95),
            "mrr@10": self.mrr,
            "hit@10": self.hit,
            "coverage": self.coverage,
            "miscalibration": self.miscalibration,
            "popularity_lift": self.popularity_lift,
            "answered": self.answered,
            "fit_seconds": self.fit_seconds,
        }


def score_lists(
    lists: dict[int, list[int]],
    truth: dict[int, set[int]],
    plugin: str,
    k: int = K,
    context: ScoringContext | None = None,
) -> TopnResult:
    """Mean metrics over every user in ``truth`` (a user without a list scores 0)."""
    per_user, recalls, mrrs, hits = {}, [], [], []
    for user_id, relevant in truth.items():
        scores = score_list(lists.get(user_id, []), relevant, k)
        per_user[user_id] = scores.ndcg
        recalls.append(scores.recall)
        mrrs.append(scores.mrr)
        hits.append(scores.hit)
    ndcgs = list(per_user.values())
    result = TopnResult(
        plugin,
        recall=float(np.mean(recalls)),
        ndcg=float(np.mean(ndcgs)),
        answered=sum(1 for u in truth if lists.get(u)),
        mrr=float(np.mean(mrrs)),
        hit=float(np.mean(hits)),
        ci95=bootstrap_ci(ndcgs),
        per_user=per_user,
    )
    if context is not None:
        answered = {u: lists[u][:k] for u in truth if lists.get(u)}
        result.coverage = coverage(answered.values(), context.catalogue, k)
        miscal = [
            miscalibration(context.history.get(u, []), items, context.genres)
            for u, items in answered.items()
        ]
        lifts = [
            popularity_lift(context.history.get(u, []), items, context.counts)
            for u, items in answered.items()
        ]
        result.miscalibration = float(np.mean(miscal)) if miscal else None
        found = [x for x in lifts if x is not None]
        result.popularity_lift = float(np.mean(found)) if found else None
    return result


def picks_lists(
    trained: Trained, k: int, settings: PickSettings | None = None
) -> dict[int, list[int]]:
    """Every user's picks from the plugins' answers (``settings``: other than configured)."""
    app = trained.app
    return {
        user_id: [
            r.movie_id
            for r in app.picks(trained.profiles[user_id], k, answers=answers, settings=settings)
        ]
        for user_id, answers in trained.answers.items()
    }
