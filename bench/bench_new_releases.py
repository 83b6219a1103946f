"""New releases: the hybrid's similar movies for films known only by what TMDB would give.

    REELPICK_DATA=../shared/data/ml-latest-small REELPICK_POSTERS_DIR=../shared/data/posters \\
    REELPICK_VGG16_WEIGHTS=../shared/models/vgg16_imagenet_notop.weights.h5 \\
    REELPICK_CACHE=/tmp/reelpick-bench-new-releases \\
    .venv/bin/python bench/bench_new_releases.py [--share 0.1] [--min-ratings 10] [--json FILE]
        [--variant PLUGIN:KEY=VALUE]

Protocol (all in one process, one run):

- **Split.** The "new releases" are the movies of the newest whole release years: the cut-off
  year Y is the one for which the share of movies released in Y or later is closest to
  ``--share`` (10 %). They lose *all* their ratings and *all* their tags; what is left of them
  is what TMDB gives for a new film: title, year, genres and the poster (``[posters] dir``).
  The hybrid (and vgg16-poster, whose features it needs) is fitted on that training data.
- **Truth.** Each new movie's true neighbours are its top-10 of cosine-CF (item-item cosine on
  the ratings, with the configured ``[plugins.cosine-cf]`` parameters, ``min_support``
  included) fitted through the registry on the *full* data, new movies' ratings included.
- **Metric.** neighbour recall@10 = |plugin's top-10 ∩ true top-10| / 10, averaged over the
  new movies with at least ``--min-ratings`` (N) ratings in the full data *and* a full true
  top-10 (so that the truth means something and the denominator is always 10). A method that
  gives no answer for a movie scores 0 there: every method is averaged over the same movies.
- **Baselines**, beside it: ``genre+year`` ranks every movie by genre Jaccard + w * year
  proximity exp(-|Δyear| / s) among the movies with at least p training ratings, and, as a
  choice, the movies without any (the hybrid's candidates; ties: the more rated first). w, s,
  p and that choice are chosen on *validation* splits built the same way inside
  the training data (the newest ``--share`` of the older movies lose their ratings and tags;
  truth is cosine-CF on the training data; a second fold does the same in the world before
  the first fold's films), never on the new movies: the same folds on which
  ``bench/tune_hybrid_unrated.py`` chooses the hybrid's settings. ``popularity``: the ten
  most-rated training movies, for every new movie.
- **As shipped.** A film newer than the rating data reaches people as a *catalogue* movie
  (from TMDB), not as a dataset movie without ratings. ``hybrid (catalogue)`` measures that
  path: the hybrid is fitted on the world before the new releases (they are not in the
  dataset at all) and every new release is a catalogue row (title, year, genres; no poster:
  the fixture posters are keyed by movieId, which a catalogue movie has not), asked through
  ``reelpick_similar_new`` like the bot and the CLI ask, its candidates the dataset's movies
  and the other catalogue movies.
- **Intervals.** 95 % bootstrap intervals over the evaluated movies (paired resampling, so
  the ratio hybrid / genre+year gets its own interval).

The hybrid's settings for movies without ratings (``unrated_*``) are chosen the same way, on
validation films inside the training data, by ``bench/tune_hybrid_unrated.py``.

Goal: hybrid's recall >= 2x genre+year's, both as a dataset movie and as shipped.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import itertools
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from reelpick import Dataset, PosterStore
from reelpick.catalogue import catalogue_id
from reelpick.catalogue.store import CatalogueStore, StoredMovie, new_movie
from reelpick.config import Config, load_config
from reelpick.data import load_dataset
from reelpick.data.movielens import NO_GENRES
from reelpick.evaluation.cold import TRUTH_PLUGIN, true_neighbours
from reelpick.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
K = 10
GOAL = 2.0
# The genre+year baseline's grid, searched on the validation split.
YEAR_WEIGHTS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 1.0, 2.0, 5.0, 20.0)
YEAR_SCALES = (1.0, 2.0, 5.0, 10.0, 20.0)
POOL_MIN_RATINGS = (0, 1, 5, 10, 20, 40)


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- the split -----------------------------------------------------------------------------


@dataclasses.dataclass
class Split:
    cutoff: int  # movies released in this year or later are the held-out ones
    movies: np.ndarray  # their ids, sorted
    data: Dataset  # the rest: held-out movies without ratings or tags
    held_ratings: int
    held_tags: int


def newest_years(dataset: Dataset, among: np.ndarray, share: float) -> int:
    """The cut-off year Y: the share of ``among`` released in Y or later is closest to
    ``share`` (the later year on a tie)."""
    years = dataset.movies.loc[among, "year"].dropna().astype(int).to_numpy()
    candidates = np.unique(years)[::-1]
    shares = np.array([(years >= y).sum() / len(among) for y in candidates])
    return int(candidates[int(np.argmin(np.abs(shares - share)))])


def hold_out_newest(dataset: Dataset, among: np.ndarray, share: float, label: str) -> Split:
    """Remove all ratings and tags of the newest ``share`` of the movies ``among``."""
    cutoff = newest_years(dataset, among, share)
    years = dataset.movies.loc[among, "year"]
    held = np.sort(among[(years.notna() & (years.fillna(0) >= cutoff)).to_numpy()])
    rated = dataset.ratings["movieId"].isin(held).to_numpy()
    tagged = dataset.tags["movieId"].isin(held).to_numpy()
    data = dataset.with_ratings(
        dataset.ratings[~rated], f"{label}: movies of {cutoff}+ without ratings and tags"
    )
    # TMDB gives no MovieLens tags: the held-out movies lose theirs too (the label above,
    # part of the fingerprint, says so, so caches never mix this data with the full one).
    data = dataclasses.replace(data, tags=dataset.tags[~tagged].reset_index(drop=True))
    return Split(cutoff, held, data, int(rated.sum()), int(tagged.sum()))


def world_without(dataset: Dataset, movies: np.ndarray, label: str) -> Dataset:
    """``dataset`` as it was before ``movies`` existed (they must have no ratings left)."""
    assert not dataset.ratings["movieId"].isin(movies).any()
    digest = hashlib.sha256(f"{dataset.fingerprint}|{label}|{len(movies)}".encode())
    return dataclasses.replace(
        dataset,
        movies=dataset.movies.drop(index=movies),
        tags=dataset.tags[~dataset.tags["movieId"].isin(movies)].reset_index(drop=True),
        fingerprint=digest.hexdigest()[:20],
        source=f"{dataset.source} [{label}]",
    )


def truth_for(
    config: Config, full: Dataset, movies: np.ndarray, min_ratings: int
) -> tuple[dict[int, set[int]], dict[str, int]]:
    """True top-K of the movies with ``min_ratings`` ratings in ``full`` and a full top-K."""
    counts = full.rating_counts
    eligible = movies[counts.reindex(movies).to_numpy() >= min_ratings]
    found = true_neighbours(config, full, eligible, K)
    truth = {m: n for m, n in found.items() if len(n) == K}
    return truth, {
        "held_out": len(movies),
        "with_min_ratings": len(eligible),
        "with_truth": len(found),
        "evaluated": len(truth),
    }


# -- baselines --------------------------------------------------------------------------------


class GenreYear:
    """Genre Jaccard + year proximity over the movies, popularity from ``data``'s ratings."""

    def __init__(self, data: Dataset, absent: np.ndarray | None = None) -> None:
        """``absent``: movies that do not exist yet in this world (never answered)."""
        movies = data.movies
        self.movie_ids = movies.index.to_numpy(dtype=np.int64)
        names = sorted({g for gs in movies["genres"] for g in gs if g != NO_GENRES})
        column = {g: i for i, g in enumerate(names)}
        rows, cols = [], []
        for r, genres in enumerate(movies["genres"]):
            for g in genres:
                if g in column:
                    rows.append(r)
                    cols.append(column[g])
        self.genres = sp.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(self.movie_ids), len(names))
        )
        self.sizes = np.asarray(self.genres.sum(axis=1)).ravel()
        self.years = movies["year"].astype("float64").to_numpy()
        self.counts = data.rating_counts.reindex(movies.index).to_numpy()
        # Ties go to the more rated movie: a bonus far below any score step.
        order = np.argsort(np.argsort(self.counts, kind="stable"), kind="stable")
        self.tiebreak = 1e-9 * order / len(order)
        self.absent = np.isin(self.movie_ids, absent if absent is not None else [])

    def parts(self, movie_ids: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Jaccard (queries x movies), |Δyear| (inf where unknown), and the queries' columns."""
        at = np.searchsorted(self.movie_ids, movie_ids)
        inter = (self.genres[at] @ self.genres.T).toarray()
        union = self.sizes[at][:, None] + self.sizes[None, :] - inter
        jaccard = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        gap = np.abs(self.years[at][:, None] - self.years[None, :])
        return jaccard, np.where(np.isnan(gap), np.inf, gap), at

    def top(
        self,
        parts: tuple[np.ndarray, np.ndarray, np.ndarray],
        weight: float,
        scale: float,
        pool: int,
        unrated: bool = False,
    ) -> np.ndarray:
        """Top-K movie ids per query (rows), with year weight, scale and pool; ``unrated``:
        movies without ratings are candidates too, whatever the pool (the hybrid's rule)."""
        jaccard, gap, at = parts
        score = jaccard + weight * np.exp(-gap / scale) + self.tiebreak
        too_few = (self.counts < pool) & ~(unrated & (self.counts == 0))
        score[:, too_few | self.absent] = -np.inf
        score[np.arange(len(at)), at] = -np.inf
        best = np.argpartition(-score, K, axis=1)[:, :K]
        ranked = np.take_along_axis(
            best, np.argsort(-np.take_along_axis(score, best, 1), axis=1), 1
        )
        return self.movie_ids[ranked]

    def popular(self) -> np.ndarray:
        return self.movie_ids[np.argsort(-self.counts - self.tiebreak)[: K + 1]]


def recalls(truth: dict[int, set[int]], answers: dict[int, list[int]]) -> np.ndarray:
    """Per movie (truth's order): |answer's top-K ∩ truth| / K; 0 where there is no answer."""
    return np.array([len(set(answers.get(m, [])[:K]) & t) / K for m, t in truth.items()])


def tune_genre_year(
    config: Config,
    data: Dataset,
    future: np.ndarray,
    share: float,
    min_ratings: int,
    folds: int = 2,
) -> tuple[dict[str, Any], list[tuple[float, float, float, int, bool]]]:
    """Choose the baseline's year weight, scale and pool on validation movies in ``data``:
    ``folds`` folds, each the newest ``share`` of the movies of the world before the last
    (as ``bench/tune_hybrid_unrated.py`` chooses the hybrid's), recall pooled over them."""
    # The world as it was before the new releases: they are neither validation movies nor
    # answers (on the test split, the other new releases are answers, as TMDB knows them).
    absent = np.asarray(future)
    grids = []
    cutoffs, evaluated = [], 0
    for number in range(1, folds + 1):
        among = np.setdiff1d(data.movies.index.to_numpy(), absent)
        label = "validation" if number == 1 else f"validation {number}"
        split = hold_out_newest(data, among, share, label)
        truth, counts = truth_for(config, data, split.movies, min_ratings)
        say(
            f"validation fold {number}: movies of {split.cutoff}+ among the training movies, "
            f"{counts}; truth: {TRUTH_PLUGIN} on the training data before them"
        )
        baseline = GenreYear(split.data, absent=absent)
        movies = list(truth)
        parts = baseline.parts(movies)
        per_fold = {}
        for weight, scale, pool, unrated in itertools.product(
            YEAR_WEIGHTS, YEAR_SCALES, POOL_MIN_RATINGS, (False, True)
        ):
            top = baseline.top(parts, weight, scale, pool, unrated)
            answers = {m: [int(x) for x in row] for m, row in zip(movies, top, strict=True)}
            per_fold[(weight, scale, pool, unrated)] = recalls(truth, answers)
        grids.append(per_fold)
        cutoffs.append(split.cutoff)
        evaluated += len(movies)
        data, absent = split.data, np.union1d(absent, split.movies)
    scores = [(float(np.concatenate([g[key] for g in grids]).mean()), *key) for key in grids[0]]
    best = max(scores, key=lambda s: (s[0], -s[1], -s[3], -s[4]))
    return {
        "cutoff": cutoffs[0],
        "cutoffs": cutoffs,
        "evaluated": evaluated,
        "recall": best[0],
        "weight": best[1],
        "scale": best[2],
        "pool": best[3],
        "unrated": best[4],
    }, scores


# -- the run ----------------------------------------------------------------------------------


def plugin_answers(
    config: Config,
    data: Dataset,
    names: list[str],
    variants: list[str],
    movies: list[int],
) -> dict[str, dict[int, list[int]]]:
    """Each plugin's top-K for ``movies``, fitted on ``data``; ``variants`` are
    ``plugin:key=value`` (JSON values), each fitted as a plugin of its own."""
    registry = Registry(config, load_entry_points=False)
    for variant in variants:
        base, _, setting = variant.partition(":")
        key, _, value = setting.partition("=")
        registry.register_variant(base, variant, {key: json.loads(value)})
        names = [*names, variant]
    out: dict[str, dict[int, list[int]]] = {}
    for name in names:
        started = time.perf_counter()
        error = registry.fit(data, [name])[name]
        if error is not None:
            say(f"{name}: not fitted ({error}); left out")
            continue
        answers = {}
        for movie_id in movies:
            answer = registry.ask(name, movie_id, K)
            if answer.ok and answer.neighbours:
                answers[movie_id] = [n.movie_id for n in answer.neighbours]
        out[name] = answers
        say(f"{name}: fitted and asked in {time.perf_counter() - started:.0f} s")
    return out


def catalogue_answers(
    config: Config, split: Split, full: Dataset, movies: list[int]
) -> dict[int, list[int]]:
    """The hybrid's top-K for ``movies`` asked as catalogue movies (see "As shipped"): fitted
    on the world before the new releases, every new release a catalogue row."""
    world = world_without(split.data, split.movies, "before the new releases")
    with tempfile.TemporaryDirectory(prefix="reelpick-bench-catalogue-") as folder:
        values = copy.deepcopy(config.values)
        values.setdefault("catalogue", {})["db"] = str(Path(folder) / "catalogue.sqlite3")
        shipped = dataclasses.replace(config, values=values)
        # TMDB ids from links.csv; a movie without one gets an id past TMDB's range.
        tmdb = full.movies["tmdb_id"]
        ids = {
            int(m): int(tmdb[m]) if not tmdb.isna()[m] else 900_000_000 + int(m)
            for m in split.movies
        }
        back = {catalogue_id(t): m for m, t in ids.items()}
        rows = [
            StoredMovie.described(
                ids[int(m)],
                str(full.movies.at[m, "name"]),
                int(full.movies.at[m, "year"]),
                tuple(g for g in full.genres(int(m)) if g != NO_GENRES),
            )
            for m in split.movies
        ]
        store = CatalogueStore(Path(folder) / "catalogue.sqlite3")
        try:
            store.put(rows)
            asked = {m: new_movie(store.get(ids[m])) for m in movies}  # type: ignore[arg-type]
        finally:
            store.close()
        registry = Registry(shipped, load_entry_points=False)
        started = time.perf_counter()
        error = registry.fit(world, ["hybrid"])["hybrid"]
        if error is not None:
            say(f"hybrid (catalogue): not fitted ({error}); left out")
            return {}
        answers = {}
        for movie_id, movie in asked.items():
            answer = registry.ask_new("hybrid", movie, K)
            if answer.ok and answer.neighbours:
                answers[movie_id] = [back.get(n.movie_id, n.movie_id) for n in answer.neighbours]
        registry.plugin_object("hybrid").others.close()
        say(f"hybrid (catalogue): fitted and asked in {time.perf_counter() - started:.0f} s")
        return answers


def bootstrap(
    per_movie: dict[str, np.ndarray], reference: str, rounds: int, seed: int
) -> dict[str, tuple[float, float]]:
    """95 % intervals of each mean and of each mean / ``reference``'s, paired resampling."""
    n = len(per_movie[reference])
    draws = np.random.default_rng(seed).integers(0, n, size=(rounds, n))
    means = {name: values[draws].mean(axis=1) for name, values in per_movie.items()}
    out = {}
    for name, m in means.items():
        out[name] = tuple(np.percentile(m, [2.5, 97.5]))
        ratio = np.divide(
            m, means[reference], out=np.full(rounds, np.inf), where=means[reference] > 0
        )
        out[f"{name}/{reference}"] = tuple(np.percentile(ratio, [2.5, 97.5]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config",
        default=None,
        help="config.toml (default: REELPICK_CONFIG "
        "or ./config.toml); REELPICK_DATA/CACHE/POSTERS_DIR override it",
    )
    parser.add_argument("--share", type=float, default=0.1)
    parser.add_argument(
        "--min-ratings",
        type=int,
        default=10,
        help="N: ratings a new movie needs in the full data to be evaluated",
    )
    parser.add_argument("--plugins", default="hybrid,vgg16-poster")
    parser.add_argument(
        "--variant",
        action="append",
        default=None,
        help="PLUGIN:KEY=VALUE, also evaluated as a plugin of its own, e.g. "
        "hybrid:unrated_audience_weight=0 (repeatable)",
    )
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    config = load_config(Path(args.config) if args.config else None)
    full = load_dataset(config.data_source, config.cache_dir)
    say(f"data: {config.data_source}; cache: {config.cache_dir}")

    split = hold_out_newest(full, full.movies.index.to_numpy(), args.share, "new releases")
    truth, counts = truth_for(config, full, split.movies, args.min_ratings)
    movies = list(truth)
    say(
        f"new releases: {len(split.movies)} movies of {split.cutoff}+ lose "
        f"{split.held_ratings:,} ratings and {split.held_tags:,} tags; {counts}"
    )
    chosen, _ = tune_genre_year(config, split.data, split.movies, args.share, args.min_ratings)
    say(f"genre+year chosen on validation: {chosen}")

    baseline = GenreYear(split.data)
    top = baseline.top(
        baseline.parts(movies), chosen["weight"], chosen["scale"], chosen["pool"], chosen["unrated"]
    )
    answers: dict[str, dict[int, list[int]]] = {
        "genre+year": {m: [int(x) for x in row] for m, row in zip(movies, top, strict=True)},
        "genre only": {},
        "popularity": {},
    }
    genre_only = baseline.top(baseline.parts(movies), 0.0, 1.0, chosen["pool"], chosen["unrated"])
    answers["genre only"] = {
        m: [int(x) for x in row] for m, row in zip(movies, genre_only, strict=True)
    }
    popular = [int(x) for x in baseline.popular()]
    answers["popularity"] = {m: [x for x in popular if x != m][:K] for m in movies}
    names = [n.strip() for n in args.plugins.split(",") if n.strip()]
    variants = args.variant or []
    answers |= plugin_answers(config, split.data, names, variants, movies)
    if "hybrid" in names:
        answers["hybrid (catalogue)"] = catalogue_answers(config, split, full, movies)

    per_movie = {name: recalls(truth, a) for name, a in answers.items()}
    intervals = bootstrap(per_movie, "genre+year", args.bootstrap, args.seed)
    posters = _poster_movies(config, full)
    has_poster = np.array([m in posters for m in movies])
    held = set(split.movies.tolist())
    reachable = float(np.mean([len(t - held) / K for t in truth.values()])) if truth else 0.0
    report = table(per_movie, answers, intervals, has_poster, movies)
    print(
        f"new releases: movies of {split.cutoff}+ ({len(split.movies)}, "
        f"{len(split.movies) / len(full.movies):.1%} of {len(full.movies)}), "
        f"{split.held_ratings:,} ratings and {split.held_tags:,} tags removed\n"
        f"evaluated: {len(movies)} of them (N = {args.min_ratings}+ ratings in the full data: "
        f"{counts['with_min_ratings']}; with a full {TRUTH_PLUGIN} top-{K}: {len(movies)}); "
        f"truth: {TRUTH_PLUGIN} {truth_params(config)} on the full data; "
        f"{int(has_poster.sum())} have a poster\n"
        f"{reachable:.1%} of their true neighbours are older movies (a plugin fitted without "
        f"the new movies' ratings can only place those by content)\n"
        f"genre+year (chosen on validation movies of "
        f"{', '.join(f'{c}+' for c in chosen['cutoffs'])}, {chosen['evaluated']} evaluated): "
        f"year weight {chosen['weight']:g}, scale "
        f"{chosen['scale']:g} years, pool: movies with {chosen['pool']}+ training ratings"
        f"{' and movies without any' if chosen['unrated'] else ''} "
        f"(validation recall {chosen['recall']:.4f})\n"
    )
    print(report["text"])
    print(f"\n(run: {time.perf_counter() - started:.0f} s)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "cutoff": split.cutoff,
                    "held_out": len(split.movies),
                    "counts": counts,
                    "min_ratings": args.min_ratings,
                    "validation": chosen,
                    "results": report["rows"],
                    "per_movie": {
                        n: dict(zip(map(str, movies), v.tolist(), strict=True))
                        for n, v in per_movie.items()
                    },
                },
                indent=1,
            )
        )
    return 0


def truth_params(config: Config) -> dict[str, Any]:
    """The parameters the truth plugin is fitted with (its defaults under config.toml's)."""
    params = Registry(config, load_entry_points=False).plugins[TRUTH_PLUGIN].params
    return {k: params[k] for k in ("min_support", "adjusted") if k in params}


def _poster_movies(config: Config, dataset: Dataset) -> set[int]:
    """Movies with a real poster on disk (``[posters] dir`` or the poster cache)."""
    with PosterStore(config, dataset) as store:
        return {m for m in store.local_ids() if m in dataset}


def table(
    per_movie: dict[str, np.ndarray],
    answers: dict[str, dict[int, list[int]]],
    intervals: dict[str, tuple[float, float]],
    has_poster: np.ndarray,
    movies: list[int],
) -> dict[str, Any]:
    reference = per_movie["genre+year"].mean()
    width = max(len(name) for name in per_movie)
    lines = [
        f"{'method':<{width}} {'recall@10':>9} {'95% CI':>17} {'answered':>9} "
        f"{'poster':>7} {'no poster':>9} {'x genre+year':>13} {'95% CI':>15}"
    ]
    rows = []
    for name, values in per_movie.items():
        low, high = intervals[name]
        rlow, rhigh = intervals[f"{name}/genre+year"]
        ratio = values.mean() / reference if reference > 0 else float("inf")
        with_poster = values[has_poster].mean() if has_poster.any() else float("nan")
        without = values[~has_poster].mean() if (~has_poster).any() else float("nan")
        answered = sum(m in answers[name] for m in movies)
        lines.append(
            f"{name:<{width}} {values.mean():>9.4f} [{low:.4f}, {high:.4f}] {answered:>9} "
            f"{_num(with_poster, 7)} {_num(without, 9)} {ratio:>12.2f}x [{rlow:.2f}, {rhigh:.2f}]"
        )
        rows.append(
            {
                "method": name,
                "recall@10": float(values.mean()),
                "ci95": [float(low), float(high)],
                "answered": answered,
                "with_poster": float(with_poster),
                "without_poster": float(without),
                "ratio_to_genre_year": float(ratio),
                "ratio_ci95": [float(rlow), float(rhigh)],
            }
        )
    if "hybrid" in per_movie:
        ratio = per_movie["hybrid"].mean() / reference if reference > 0 else float("inf")
        low, high = intervals["hybrid/genre+year"]
        lines.append(
            f"\ngoal: hybrid / genre+year = {ratio:.2f}x (95% CI {low:.2f}-{high:.2f}), "
            f"goal >= {GOAL:g}x: {'MET' if ratio >= GOAL else 'MISSED'}"
        )
    return {"text": "\n".join(lines), "rows": rows}


def _num(value: float, width: int) -> str:
    return f"{'-':>{width}}" if np.isnan(value) else f"{value:>{width}.4f}"


if __name__ == "__main__":
    sys.exit(main())
