"""What the hybrid plugin stores and keys its caches by.

The SGD factors are keyed by the ratings and the genres and years of the rated movies
(:func:`ratings_key`, remembered per dataset by :func:`remembered_ratings_key`), fitted on
:func:`rated_only` with :func:`sgd_params`; the content model is saved as four named arrays
(:func:`load_model` reads them back, :func:`rows_arrays` packs the content rows);
:func:`serving_arrays` keeps what answering reads in the taste entry's order, so that a warm
start maps it instead of rebuilding it; :func:`digest` names entries after what they were
made from.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from reelpick import ArtifactStore, Dataset, sgd

from ._hybrid_content import ContentEncoder
from ._hybrid_model import Choice, ContentMap

log = logging.getLogger(__name__)
RATINGS_KEY_SCHEME = 1  # raise whenever ratings_key hashes something else


def sgd_params(params: dict) -> dict:
    """SGD-MF's defaults with the hybrid's three overrides."""
    return dict(
        sgd.DEFAULT_PARAMS,
        factors=params["sgd_factors"],
        epochs=params["sgd_epochs"],
        ensemble=params["sgd_ensemble"],
    )


def rated_only(dataset: Dataset) -> Dataset:
    """The dataset without the movies nobody rated: SGD-MF's fit then does not depend on them
    (its random start would shift with every movie added), nor on tags (min_tagged is 0)."""
    rated = np.unique(dataset.ratings["movieId"].to_numpy())
    return Dataset(
        movies=dataset.movies.loc[rated],
        ratings=dataset.ratings,
        tags=dataset.tags.iloc[0:0],
        fingerprint=ratings_key(dataset),
        source=f"{dataset.source} [rated movies]",
    )


def remembered_ratings_key(dataset: Dataset, cache_dir: Path, version: str) -> str:
    """:func:`ratings_key`, remembered in the cache under the dataset's fingerprint: hashing
    32 M ratings took 8 s of every start, for a key that changes only with the data. Stamped
    with the plugin's ``version``, as its other stores, for ``reelpick cache prune``, and
    with :data:`RATINGS_KEY_SCHEME`, so that a change to what the key covers is never
    answered by a key remembered before it."""
    store = ArtifactStore(
        cache_dir,
        "hybrid-keys",
        data=dataset.fingerprint,
        version=version,
        scheme=RATINGS_KEY_SCHEME,
    )
    saved = store.load_arrays("ratings")
    if saved is not None and "key" in saved and saved["key"].ndim == 0:
        return str(saved["key"])
    key = ratings_key(dataset)
    try:
        store.save_arrays("ratings", key=np.array(key))
    except OSError as exc:  # a full disk or a read-only cache: hash again next time
        log.warning("hybrid: could not remember the ratings key (%s)", exc)
    return key


def ratings_key(dataset: Dataset) -> str:
    """A hash of what the SGD fit reads: the ratings, and the genres and years of rated movies."""
    digest = hashlib.sha256()
    ratings = dataset.ratings[["userId", "movieId", "rating"]]
    digest.update(pd.util.hash_pandas_object(ratings, index=False).to_numpy().tobytes())
    rated = dataset.movies.loc[np.unique(ratings["movieId"].to_numpy())]
    for movie_id, genres, year in zip(rated.index, rated["genres"], rated["year"], strict=True):
        digest.update(f"{movie_id}|{','.join(genres)}|{year}\n".encode())
    return digest.hexdigest()[:20]


def load_model(
    store: ArtifactStore,
) -> tuple[ContentEncoder, ContentMap, Choice, dict[str, np.ndarray]] | None:
    """The content model a fit saved in ``store``, or None when a part is missing."""
    encoder, mapped, choice, rows = (
        store.load_arrays(n) for n in ("encoder", "map", "choice", "rows")
    )
    if encoder is None or mapped is None or choice is None or rows is None:
        return None
    return (
        ContentEncoder.from_arrays(encoder),
        ContentMap.from_arrays(mapped),
        Choice.from_arrays(choice),
        rows,
    )


def rows_arrays(movie_ids: np.ndarray, digests: np.ndarray, rows: np.ndarray) -> dict:
    """Content rows as a sparse matrix: most of a row (tags, poster) is zero."""
    matrix = sp.csr_matrix(rows.astype(np.float32))
    return {
        "movie_ids": movie_ids,
        "digests": digests,
        "data": matrix.data,
        "indices": matrix.indices,
        "indptr": matrix.indptr,
        "shape": np.array(matrix.shape),
    }


def digest(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(map(str, parts)).encode()).hexdigest()[:16]


SERVING = frozenset({"implicit", "asymmetric", "item_bias_raw", "unit"})


def serving_arrays(
    store: ArtifactStore, movie_set: str, factors: sgd.Factors, taste: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """SGD's implicit and asymmetric vectors and raw biases over every movie in the taste
    entry's order (zeros, or the taste bias, for movies SGD never saw), and the centred unit
    taste vectors. Derived from the factors and the taste entry once, then stored beside it:
    at MovieLens 32M's size these are 0.5 GB that a fold-in reads a few rows of, so a warm
    start maps them (:class:`reelpick.ArtifactStore`) rather than holding a copy."""
    name = f"serving-{movie_set}"
    saved = store.load_arrays(name)
    if saved is not None and set(saved) == SERVING:
        return saved
    column = taste["sgd_column"]
    known = column >= 0

    def aligned(values: np.ndarray, fill: np.ndarray | float) -> np.ndarray:
        if values.size == 0:
            return values
        at = known.reshape(-1, *[1] * (values.ndim - 1))
        return np.where(at, values[np.maximum(column, 0)], fill).astype(values.dtype)

    centred = taste["item_vec"] - taste["centre"]
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    computed = {
        "implicit": aligned(factors.implicit, 0.0),
        "asymmetric": aligned(factors.asymmetric, 0.0),
        "item_bias_raw": aligned(factors.item_bias_raw, taste["item_bias"]),
        "unit": np.divide(centred, norms, out=np.zeros_like(centred), where=norms > 0),
    }
    try:
        store.save_arrays(name, **computed)
    except OSError as exc:  # a full disk or a read-only cache: answer from memory
        log.warning("hybrid: could not store %s (%s); it stays in memory", name, exc)
        return computed
    return store.load_arrays(name) or computed
