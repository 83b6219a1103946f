"""genre-tags: similar movies from what they are about (genres, user tags), not who rated them.

Each movie becomes a sparse TF-IDF vector over tokens: its genres, the tags users gave it
(weighted by how many users gave each tag) and its decade. Neighbours are the movies with the
highest cosine similarity, computed blockwise by ``reelpick.topk_cosine_sparse`` and cached
as a ``NeighbourTable``. A movie needs no ratings at all to get an answer, which is what the
rating-based plugins cannot offer for new or rarely rated movies.

Recommendations for a profile compare every movie with what the liked movies are about: the
sum of their unit TF-IDF vectors (a seen movie counts half) against each movie's, by cosine.
``because`` names the liked movies closest to the pick. The vectors are cached with the table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from reelpick import (
    ConfigError,
    NeighbourTable,
    NoAnswer,
    PluginInfo,
    Profile,
    Recommendation,
    hookimpl,
    topk_cosine_sparse,
)

__version__ = "0.1.0"
SEEN_WEIGHT = 0.5  # a movie only seen (no rating) counts half a liked one
REASONS = 3  # liked movies named in a recommendation's ``because``


class GenreTags:
    def __init__(self) -> None:
        self.table: NeighbourTable | None = None
        self.described: set[int] = set()
        self.unit: sp.csr_matrix | None = None  # movies x tokens, rows of length 1 (or 0)

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            label="Genres & tags",
            description="Movies about the same things: TF-IDF over genres and user tags, cosine.",
            version=__version__,
            params={
                "neighbours": 50,  # width of the stored table (the most a query can ask for)
                "genre_weight": 1.0,
                "tag_weight": 1.0,
                "decade_weight": 0.5,  # a light nudge towards movies of the same era
                "min_tag_users": 1,  # ignore tags given by fewer users than this
            },
        )

    @hookimpl
    def reelpick_fit(self, dataset, params, store) -> None:
        _check(params)
        self.table = NeighbourTable.load(store)
        described = store.load_arrays("described")
        vectors = store.load_arrays("vectors")
        if self.table is None or described is None or vectors is None:
            features = movie_features(dataset.movies, dataset.tags, params)
            # topk_cosine_sparse compares the columns of a rows x items matrix; here the rows
            # are tokens, so two movies meet only through tokens they share.
            index, score = topk_cosine_sparse(features.matrix.T.tocsr(), params["neighbours"])
            self.table = NeighbourTable(features.movie_ids, index, score)
            described = {"movie_ids": features.movie_ids[features.described]}
            unit = _unit_rows(features.matrix)
            vectors = {"data": unit.data, "indices": unit.indices, "indptr": unit.indptr}
            vectors["shape"] = np.array(unit.shape)
            self.table.save(store)
            store.save_arrays("described", **described)
            store.save_arrays("vectors", **vectors)
        self.described = set(described["movie_ids"].tolist())
        self.unit = sp.csr_matrix(
            (vectors["data"], vectors["indices"], vectors["indptr"]),
            shape=tuple(vectors["shape"]),
        )

    @hookimpl
    def reelpick_recommend(
        self, profile: Profile, k: int, exclude: frozenset[int]
    ) -> list[Recommendation]:
        weights = {m: SEEN_WEIGHT for m in profile.seen} | dict.fromkeys(profile.liked(), 1.0)
        ids = np.array(sorted(m for m in weights if m in self.described), dtype=np.int64)
        if not len(ids):
            raise NoAnswer("none of the movies liked or seen here has genres or tags")
        rows = np.searchsorted(self.table.movie_ids, ids)
        liked = self.unit[rows]
        taste = sp.csr_matrix(np.array([weights[int(m)] for m in ids])) @ liked
        scores = np.asarray((self.unit @ taste.T).todense()).ravel()
        banned = np.fromiter(set(exclude) | set(weights), dtype=np.int64)
        banned = np.searchsorted(
            self.table.movie_ids, banned[np.isin(banned, self.table.movie_ids)]
        )
        scores[banned] = 0.0
        chosen = np.flatnonzero(scores > 0)  # movies sharing nothing with the taste stay out
        if len(chosen) > k > 0:  # argpartition, then settle the ties at the k-th score by id
            kth = scores[chosen[np.argpartition(-scores[chosen], k - 1)[k - 1]]]
            chosen = chosen[scores[chosen] >= kth]
        chosen = chosen[np.lexsort((chosen, -scores[chosen]))][: max(k, 0)]
        # Why: the liked movies closest to each pick (a liked x picks block of cosines).
        closeness = np.asarray((liked @ self.unit[chosen].T).todense())
        found = []
        for column, row in enumerate(chosen):
            near = closeness[:, column]
            order = np.lexsort((ids, -near))[:REASONS]
            because = tuple(int(ids[i]) for i in order if near[i] > 0)
            found.append(
                Recommendation(int(self.table.movie_ids[row]), float(scores[row]), because)
            )
        return found

    @hookimpl
    def reelpick_similar(self, movie_id: int, k: int):
        if self.table.position(movie_id) is not None and movie_id not in self.described:
            raise NoAnswer("this movie has no genres or tags to compare")
        return self.table.similar(
            movie_id,
            k,
            unknown="genre-tags does not know this movie",
            alone="no other movie shares a genre or tag with this one",
        )


def _check(params: dict) -> None:
    """Values the registry cannot judge from the defaults' types alone."""
    for key in ("genre_weight", "tag_weight", "decade_weight"):
        if params[key] < 0:
            raise ConfigError(f"[plugins.genre-tags] {key} must be 0 or more, got {params[key]}")
    for key in ("neighbours", "min_tag_users"):
        if params[key] < 1:
            raise ConfigError(f"[plugins.genre-tags] {key} must be 1 or more, got {params[key]}")


@dataclass
class Features:
    """TF-IDF vectors: ``matrix`` is movies x tokens (sparse), rows in ``movie_ids`` order.

    A movie is ``described`` when it has a genre or a tag; its decade alone says too little.
    """

    matrix: sp.csr_matrix
    movie_ids: np.ndarray
    tokens: list[str]  # "g:comedy", "t:pixar", "d:1990"
    described: np.ndarray


def movie_features(movies: pd.DataFrame, tags: pd.DataFrame, params: dict) -> Features:
    """The TF-IDF vectors of ``movies`` (a Dataset's movies and tags frames)."""
    movie_ids = movies.index.to_numpy(dtype=np.int64)
    genre_rows = movies["genres"].explode().dropna()
    parts = [
        _tokens(genre_rows.index, "g:" + genre_rows.str.lower(), 1.0, params["genre_weight"]),
    ]
    if len(tags):
        tag = tags["tag"].str.strip().str.lower()
        tagged = pd.DataFrame({"movieId": tags["movieId"], "tag": tag, "user": tags["userId"]})
        users = tagged[tag != ""].groupby(["movieId", "tag"])["user"].nunique().reset_index()
        users = users[users["user"] >= params["min_tag_users"]]
        # Sublinear term frequency: the tenth user adding "pixar" says less than the first.
        tf = 1.0 + np.log(users["user"].to_numpy(dtype=np.float64))
        parts.append(_tokens(users["movieId"], "t:" + users["tag"], tf, params["tag_weight"]))
    described = np.isin(movie_ids, pd.concat([p["movieId"] for p in parts]).unique())
    years = movies["year"].dropna()
    decades = "d:" + (years.astype(int) // 10 * 10).astype(str)
    parts.append(_tokens(decades.index, decades, 1.0, params["decade_weight"]))

    frame = pd.concat(parts, ignore_index=True)
    token_ids, token_names = pd.factorize(frame["token"], sort=True)
    rows = np.searchsorted(movie_ids, frame["movieId"].to_numpy())
    counts = sp.csr_matrix(
        (frame["tf"].to_numpy(), (rows, token_ids)), shape=(len(movie_ids), len(token_names))
    )
    # Smoothed IDF as in scikit-learn: rare tokens ("pixar") count more than common ones ("drama").
    df = np.bincount(token_ids, minlength=len(token_names))
    idf = np.log((1 + len(movie_ids)) / (1 + df)) + 1.0
    token_weight = frame.groupby(token_ids)["weight"].first().to_numpy()
    tfidf = counts @ sp.diags(idf * token_weight)
    return Features(sp.csr_matrix(tfidf, dtype=np.float32), movie_ids, list(token_names), described)


def _unit_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """``matrix`` with each row scaled to length 1 (empty rows stay empty)."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(scale) @ matrix, dtype=np.float32)


def _tokens(movie_ids, tokens, tf, weight: float) -> pd.DataFrame:
    if weight == 0:  # a zero weight switches a kind of token off
        movie_ids, tokens, tf = [], [], []
    return pd.DataFrame(
        {
            "movieId": np.asarray(movie_ids, dtype=np.int64),
            "token": np.asarray(tokens, dtype=object),
            "tf": np.broadcast_to(np.asarray(tf, dtype=np.float64), len(tokens)),
            "weight": float(weight),
        }
    )
