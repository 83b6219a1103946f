"""Small real datasets for tests: a slice of a dataset, exactly some movies, or one written out
as a MovieLens folder for the command line."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import NO_GENRES, Dataset


def pick_queries(dataset: Dataset, n: int = 24, seed: int = 0) -> list[int]:
    """A spread of movie ids to ask about: most rated, least rated, unrated and random ones."""
    counts = dataset.rating_counts.sort_values(ascending=False, kind="stable")
    rated = counts[counts > 0]
    unrated = counts.index[counts == 0]
    rng = np.random.default_rng(seed)
    chosen = [*rated.index[:6], *rated.index[::-1][:4], *unrated[:2]]
    rest = np.setdiff1d(dataset.movies.index.to_numpy(), np.asarray(chosen, dtype=np.int64))
    chosen += rng.choice(rest, size=min(len(rest), max(n - len(chosen), 0)), replace=False).tolist()
    return list(dict.fromkeys(int(m) for m in chosen))


def small_dataset(
    dataset: Dataset, n_movies: int = 400, seed: int = 0, keep: Iterable[int] = ()
) -> Dataset:
    """A smaller real dataset: the most rated half of ``n_movies`` plus a random other half.

    Keeps every rating and tag of the chosen movies (and every movie in ``keep``), so rare
    and unrated movies stay represented. Its fingerprint is derived from the parent's.
    """
    counts = dataset.rating_counts.sort_values(ascending=False, kind="stable")
    top = counts.index[: n_movies // 2].to_numpy()
    others = np.setdiff1d(dataset.movies.index.to_numpy(), top)
    rng = np.random.default_rng(seed)
    picked = rng.choice(others, size=min(len(others), n_movies - len(top)), replace=False)
    ids = np.union1d(np.union1d(top, picked), np.fromiter(keep, dtype=np.int64))
    return subset_dataset(dataset, ids, label=f"small n={n_movies} seed={seed}")


def subset_dataset(dataset: Dataset, movie_ids: Iterable[int], label: str = "subset") -> Dataset:
    """``dataset`` restricted to ``movie_ids`` (their ratings and tags), under a new fingerprint."""
    ids = pd.Index(sorted({int(m) for m in movie_ids}), dtype=np.int64)
    unknown = ids.difference(dataset.movies.index)
    if len(unknown):
        raise ValueError(f"movie ids not in the dataset: {list(unknown[:5])}")
    ratings = dataset.ratings[dataset.ratings["movieId"].isin(ids)].reset_index(drop=True)
    tags = dataset.tags[dataset.tags["movieId"].isin(ids)].reset_index(drop=True)
    digest = hashlib.sha256(f"{dataset.fingerprint}|{label}|".encode() + ids.to_numpy().tobytes())
    return Dataset(
        movies=dataset.movies.loc[ids],
        ratings=ratings,
        tags=tags,
        fingerprint=digest.hexdigest()[:20],
        source=f"{dataset.source} [{label}]",
    )


def save_dataset(dataset: Dataset, folder: str | Path) -> Path:
    """Write ``dataset`` as a MovieLens folder (movies, ratings, links, tags .csv) and return it.

    With :func:`small_dataset` this gives the command line a small real dataset to run on:
    ``[data] source = "<folder>"``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    movies = dataset.movies
    pd.DataFrame(
        {
            "movieId": movies.index,
            "title": movies["title"],
            "genres": ["|".join(g) or NO_GENRES for g in movies["genres"]],
        }
    ).to_csv(folder / "movies.csv", index=False)
    links = pd.DataFrame({"movieId": movies.index})
    links["imdbId"] = [f"{i:07d}" if pd.notna(i) else "" for i in movies["imdb_id"]]
    links["tmdbId"] = movies["tmdb_id"].to_numpy()
    links.to_csv(folder / "links.csv", index=False)
    ratings = dataset.ratings[["userId", "movieId", "rating", "timestamp"]]
    ratings.to_csv(folder / "ratings.csv", index=False)
    dataset.tags[["userId", "movieId", "tag", "timestamp"]].to_csv(folder / "tags.csv", index=False)
    return folder
