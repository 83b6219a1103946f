"""``reelpick evaluate --task cold``: how plugins do on movies nobody has rated yet.

Protocol: ``share`` (10 %) of the movies with at least ``MIN_RATINGS`` (10) ratings are drawn
with numpy seed ``seed`` (0) and lose *all* their ratings and *all* their tags from training
("cold movies": a new movie has neither; 96 % of MovieLens tags are written by people who rated
the movie, so a cold movie's tags would tell a plugin who watched it). Their ratings are the
test set. Every plugin is fitted on the rest (:func:`cold_training`) through a fresh
:class:`~reelpick.registry.Registry`, and scored where it answers:

- ``rmse``: on the cold movies' held-out ratings (plugins that predict). Two baselines fitted
  on the same training ratings run beside them: ``bias`` (global mean + the user's bias) and
  ``genre-mean`` (that + the mean of the movie's genres' offsets, each a damped mean residual
  of the training ratings of the genre);
- ``neighbour_recall@10``: the share of a cold movie's true top-10 neighbours found in the
  plugin's top-10, where the truth is cosine-CF fitted on the *full* data (cold movies' ratings
  included), through the registry. Averaged over the cold movies the plugin answers for
  (``recall_movies`` says how many: vgg16-poster answers only for movies with a poster).
  Since plugins answer for different movies, each plugin also gets
  ``neighbour_recall@10_shared``: its recall over only the cold movies that both it and
  ``vgg16-poster`` (``SHARED_REFERENCE``) answer for (``shared_movies`` says how many; ``null``
  and 0 when there are none, e.g. vgg16-poster not evaluated), so the two compare like for
  like. The per-movie recalls are kept in the report (``neighbour_recall_per_movie``);
- ``ndcg@10``: top-N restricted to cold movies: for each user with held-out ratings, every
  cold movie is ranked by the plugin's predicted rating; binary gain, 1 when the user rated it
  4 or more (a rating below 4, or no rating, is no gain); users with no such rating are
  skipped (nDCG is undefined for them). ``bias`` ranks every movie alike, so it has none.

``null`` marks a metric that does not apply (a plugin that does not predict has no RMSE).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from ..config import Config
from ..data.movielens import Dataset
from ..errors import NoAnswer
from ..registry import Registry
from .metrics import score_list
from .ratings import ONLINE_SKIP, RatingErrors, id_key, score_ratings

log = logging.getLogger(__name__)

MIN_RATINGS = 10  # a movie needs this many ratings to be drawn as a cold movie
K = 10
RELEVANT = 4.0  # a held-out rating at least this high is a hit in nDCG
DAMPING = 10.0  # pseudo-ratings pulling user biases and genre offsets towards 0
TRUTH_PLUGIN = "cosine-cf"
SHARED_REFERENCE = "vgg16-poster"  # recall is also compared over the movies this one answers for


@dataclass
class ColdSplit:
    train: pd.DataFrame
    test: pd.DataFrame
    movies: np.ndarray  # the cold movie ids, sorted


def cold_split(
    ratings: pd.DataFrame, share: float = 0.1, seed: int = 0, min_ratings: int = MIN_RATINGS
) -> ColdSplit:
    """Draw ``share`` of the movies with ``min_ratings`` ratings and hold out all their ratings."""
    counts = ratings["movieId"].value_counts()
    eligible = np.sort(counts.index[counts >= min_ratings].to_numpy())
    size = max(1, int(round(share * len(eligible)))) if len(eligible) else 0
    cold = np.sort(np.random.default_rng(seed).choice(eligible, size=size, replace=False))
    held = ratings["movieId"].isin(cold).to_numpy()
    return ColdSplit(ratings[~held], ratings[held], cold)


def cold_training(dataset: Dataset, split: ColdSplit, label: str) -> Dataset:
    """The data plugins are fitted on: the training ratings, and no tag of a cold movie.

    Its fingerprint names the tag rule too, so no fit made with the cold movies' tags (an
    older version's cache) is ever reused.
    """
    train = dataset.with_ratings(split.train, label)
    tags = dataset.tags[~dataset.tags["movieId"].isin(split.movies)].reset_index(drop=True)
    digest = hashlib.sha256(f"{train.fingerprint}|tags without cold movies|{len(tags)}".encode())
    return replace(train, tags=tags, fingerprint=digest.hexdigest()[:20])


# -- baselines --------------------------------------------------------------------------------


class Baselines:
    """``bias`` and ``genre-mean`` predictions learnt from the training ratings."""

    def __init__(self, train: pd.DataFrame, movies: pd.DataFrame) -> None:
        self.mu = float(train["rating"].mean())
        residual = train["rating"] - self.mu
        grouped = residual.groupby(train["userId"])
        self.user_bias = (grouped.sum() / (grouped.size() + DAMPING)).to_dict()
        after_user = residual - train["userId"].map(self.user_bias)
        genres = movies["genres"].reindex(train["movieId"]).to_numpy()
        frame = pd.DataFrame({"genre": genres, "residual": after_user.to_numpy()}).explode("genre")
        by_genre = frame.dropna().groupby("genre")["residual"]
        self.genre_offset = (by_genre.sum() / (by_genre.size() + DAMPING)).to_dict()
        self.movie_genres = movies["genres"].to_dict()

    def bias(self, user_id: int, movie_ids: list[int]) -> list[float]:
        return [self.mu + self.user_bias.get(user_id, 0.0)] * len(movie_ids)

    def genre_mean(self, user_id: int, movie_ids: list[int]) -> list[float]:
        base = self.mu + self.user_bias.get(user_id, 0.0)
        out = []
        for movie_id in movie_ids:
            offsets = [self.genre_offset.get(g, 0.0) for g in self.movie_genres.get(movie_id, ())]
            out.append(base + (float(np.mean(offsets)) if offsets else 0.0))
        return list(np.clip(out, 0.5, 5.0))


# -- metrics ------------------------------------------------------------------------------------


def ndcg_at_k(
    predict: Callable[[int, list[int]], list[float] | None],
    test: pd.DataFrame,
    candidates: list[int],
    k: int = K,
) -> float | None:
    """Mean nDCG@k over users with a relevant held-out rating (see the module docstring).

    ``predict(user, movies)`` gives scores or raises NoAnswer (that user is then skipped).
    Ties keep the candidates' order (movie id), so a constant predictor earns no credit.
    """
    scores = []
    for user_id, rows in test.groupby("userId"):
        relevant = set(rows.loc[rows["rating"] >= RELEVANT, "movieId"].tolist())
        if not relevant:
            continue
        try:
            predicted = predict(id_key(user_id), candidates)
        except NoAnswer:
            continue
        if predicted is None:
            return None
        order = np.argsort(-np.asarray(predicted, dtype=np.float64), kind="stable")[:k]
        scores.append(score_list([candidates[i] for i in order], relevant, k).ndcg)
    return float(np.mean(scores)) if scores else None


def neighbour_recall(
    registry: Registry, name: str, truth: dict[int, set[int]], k: int = K
) -> dict[int, float]:
    """Share of each cold movie's true neighbours in plugin ``name``'s top-k, for the movies it
    answers for (movie id -> share)."""
    shares = {}
    for movie_id, expected in truth.items():
        answer = registry.ask(name, movie_id, k)
        if not answer.ok or not answer.neighbours:
            continue
        found = {n.movie_id for n in answer.neighbours}
        shares[movie_id] = len(found & expected) / len(expected)
    return shares


def mean_recall(
    shares: dict[int, float], only: dict[int, float] | None = None
) -> tuple[float | None, int]:
    """Mean of ``shares`` (over the movies also in ``only`` when given), and over how many."""
    values = [v for m, v in shares.items() if only is None or m in only]
    return (float(np.mean(values)) if values else None), len(values)


def true_neighbours(
    config: Config, dataset: Dataset, cold: np.ndarray, k: int = K
) -> dict[int, set[int]]:
    """Each cold movie's top-k cosine-CF neighbours on the full data ({} without cosine-CF)."""
    registry = Registry(config)
    if TRUTH_PLUGIN not in registry.plugins:
        return {}
    error = registry.fit(dataset, [TRUTH_PLUGIN])[TRUTH_PLUGIN]
    if error is not None:
        log.warning("no neighbour truth: %s could not be fitted (%s)", TRUTH_PLUGIN, error)
        return {}
    truth = {}
    for movie_id in cold:
        answer = registry.ask(TRUTH_PLUGIN, int(movie_id), k)
        if answer.ok and answer.neighbours:
            truth[int(movie_id)] = {n.movie_id for n in answer.neighbours}
    return truth


# -- the evaluation ---------------------------------------------------------------------------


def evaluate_cold(
    config: Config,
    dataset: Dataset,
    plugins: list[str] | None = None,
    seed: int = 0,
    share: float = 0.1,
    extra: dict[str, Callable[[], object]] | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Run the cold-movie protocol (module docstring); returns the JSON-able report.

    ``extra`` registers more plugins by name (a factory each) in every registry, e.g. an
    external plugin that is importable but not installed; they are always evaluated.
    """
    split = cold_split(dataset.ratings, share, seed)
    cold = [int(m) for m in split.movies]
    progress(
        f"{len(cold)} cold movies (of those with {MIN_RATINGS}+ ratings, seed {seed}); "
        f"{len(split.test):,} held-out ratings"
    )
    train = cold_training(dataset, split, f"cold movies seed={seed} share={share}")
    truth = true_neighbours(config, dataset, split.movies)
    progress(f"neighbour truth: {TRUTH_PLUGIN} on the full data, {len(truth)} cold movies")
    baselines = Baselines(split.train, dataset.movies)
    results = []
    recalls: dict[str, dict[int, float]] = {}
    for name, predict in (("bias", baselines.bias), ("genre-mean", baselines.genre_mean)):
        errors = RatingErrors()
        for user_id, rows in split.test.groupby("userId"):
            errors.add(
                np.asarray(predict(id_key(user_id), rows["movieId"].tolist())),
                rows["rating"].to_numpy(),
            )
        ndcg = ndcg_at_k(predict, split.test, cold) if name != "bias" else None
        results.append(_result(name, errors, None, 0, ndcg))
    registry = Registry(config)
    for name, factory in (extra or {}).items():
        registry.register(factory(), name, origin="registered for this evaluation")
    names = registry.enabled(plugins) + [n for n in extra or {} if n not in (plugins or [])]
    for name in dict.fromkeys(names):
        if registry.plugins[name].info.online:
            progress(f"  {name}: skipped, {ONLINE_SKIP}")
            continue
        error = registry.fit(train, [name])[name]
        if error is not None:
            progress(f"  {name}: skipped, could not be fitted ({error})")
            continue
        errors, ndcg = RatingErrors(), None
        if registry.predicts(name):
            score_ratings(registry, name, split.test, errors)
            ndcg = ndcg_at_k(partial(registry.predict, name), split.test, cold)
        recalls[name] = neighbour_recall(registry, name, truth) if truth else {}
        recall, answered = mean_recall(recalls[name])
        results.append(
            _result(name, errors if registry.predicts(name) else None, recall, answered, ndcg)
        )
        progress(f"  {name}: done")
    reference = recalls.get(SHARED_REFERENCE, {})
    for result in results:
        shared, count = mean_recall(recalls.get(result["plugin"], {}), reference)
        result["neighbour_recall@10_shared"] = shared
        result["shared_movies"] = count
    return {
        "task": "cold",
        "movies": len(cold),
        "seed": seed,
        "share": share,
        "held_out_ratings": len(split.test),
        "truth_movies": len(truth),
        "shared_reference": SHARED_REFERENCE,
        "results": results,
        "neighbour_recall_per_movie": {
            name: {str(m): share for m, share in shares.items()}
            for name, shares in recalls.items()
            if shares
        },
    }


def _result(
    name: str, errors: RatingErrors | None, recall: float | None, answered: int, ndcg: float | None
) -> dict[str, Any]:
    summary = errors.summary() if errors is not None else {}
    return {
        "plugin": name,
        "rmse": summary.get("rmse"),
        "neighbour_recall@10": recall,
        "ndcg@10": ndcg,
        "predicted": summary.get("predicted"),
        "recall_movies": answered,
    }


def format_cold(report: dict[str, Any]) -> str:
    """The report as a table."""
    lines = [
        f"{report['movies']} cold movies, {report['held_out_ratings']:,} held-out ratings; "
        f"neighbour truth for {report['truth_movies']} of them (cosine-CF, full data)",
        "",
        f"{'plugin':<20} {'RMSE':>7} {'recall@10':>10} {'(movies)':>9} {'shared':>8} "
        f"{'(movies)':>9} {'nDCG@10':>8}",
    ]
    for r in report["results"]:
        lines.append(
            f"{r['plugin']:<20.20} {_num(r['rmse'], 7)} {_num(r['neighbour_recall@10'], 10)} "
            f"{r['recall_movies'] or '-':>9} {_num(r.get('neighbour_recall@10_shared'), 8)} "
            f"{r.get('shared_movies') or '-':>9} {_num(r['ndcg@10'], 8)}"
        )
    reference = report.get("shared_reference", SHARED_REFERENCE)
    lines += [
        "",
        "recall@10: share of the true top-10 neighbours found, over the movies a plugin answers",
        f"for ((movies)); shared: the same over only the movies both it and {reference}",
        "answer for ((movies)), like for like; nDCG@10: cold movies ranked per user, gain 1 for",
        "a rating of 4 or more.",
    ]
    return "\n".join(lines)


def _num(value: float | None, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.4f}"
