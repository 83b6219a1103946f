"""What the hybrid plugin knows about a movie without its ratings: one numeric row per movie.

A row is made of blocks, each scaled so that its mean squared norm over the movies the encoder
was fitted on is 1 (so no block wins the ridge penalty just by having more columns):

- genres, one-hot;
- user tags, TF-IDF over the ``tag_terms`` tags found on the most movies, rows L2-normalised;
- release year, standardised, and its decade one-hot;
- the poster: the :data:`reelpick.POSTER_FEATURES` the registry hands over from the plugin
  that provides them (``vgg16-poster``: 512 VGG16 channel averages), L2-normalised and centred;
- indicators: has genres, has tags, has a year, has a poster.

The vocabularies, IDF weights and normalisations are learnt once, on the movies the content
map is trained on, and frozen in :class:`ContentEncoder`: a movie added later is encoded
with them, so the map learnt on the old rows still applies to the new one.

Each movie also gets a digest of everything its row depends on (genres, year, tags, poster
content), so that a later fit recomputes only the rows whose digest changed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reelpick import POSTER_FEATURES, Dataset, NewMovie, PluginError, PosterFeatures

log = logging.getLogger(__name__)

POSTER_DIM = 512  # width of the poster block: the length of every poster feature vector


@dataclass
class MovieContent:
    """The raw content of some movies, in ``movie_ids`` order (inputs of the encoder)."""

    movie_ids: np.ndarray
    genres: list[tuple[str, ...]]
    years: np.ndarray  # float, NaN when unknown
    tags: list[dict[str, int]]  # tag -> number of users who gave it
    poster_hashes: list[str]  # "" when the movie has no real poster with cached features

    def digests(self) -> np.ndarray:
        """One short hash per movie of everything its content row depends on."""
        out = []
        for genres, year, tags, poster in zip(
            self.genres, self.years, self.tags, self.poster_hashes, strict=True
        ):
            text = "|".join(
                [",".join(genres), "" if np.isnan(year) else str(int(year)), poster]
                + [f"{t}:{n}" for t, n in sorted(tags.items())]
            )
            out.append(hashlib.sha256(text.encode()).hexdigest()[:16])
        return np.array(out, dtype="U16")

    def described(self) -> np.ndarray:
        """Movies with a genre, a tag or a poster: a year alone says too little to place one."""
        return np.array(
            [
                bool(g) or bool(t) or bool(p)
                for g, t, p in zip(self.genres, self.tags, self.poster_hashes, strict=True)
            ]
        )


def movie_content(
    dataset: Dataset, posters: Mapping[int, str], use_tags: bool = True
) -> MovieContent:
    """The content of every movie of ``dataset``; ``posters`` maps movie id -> content hash of a
    real poster with features (:meth:`reelpick.PosterFeatures.content_hashes`). Without
    ``use_tags`` no movie has tags (not even as the "has tags" indicator)."""
    movies = dataset.movies
    movie_ids = movies.index.to_numpy(dtype=np.int64)
    tags: list[dict[str, int]] = [{} for _ in movie_ids]
    if len(dataset.tags) and use_tags:
        frame = pd.DataFrame(
            {
                "movieId": dataset.tags["movieId"].to_numpy(),
                "tag": dataset.tags["tag"].astype(str).str.strip().str.lower(),
                "user": dataset.tags["userId"].to_numpy(),
            }
        )
        frame = frame[(frame["tag"] != "") & frame["movieId"].isin(movie_ids)]
        users = frame.groupby(["movieId", "tag"])["user"].nunique()
        rows = np.searchsorted(movie_ids, users.index.get_level_values(0).to_numpy())
        for row, tag, n in zip(
            rows, users.index.get_level_values(1), users.to_numpy(), strict=True
        ):
            tags[row][tag] = int(n)
    years = movies["year"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    return MovieContent(
        movie_ids=movie_ids,
        genres=[tuple(g) for g in movies["genres"]],
        years=years,
        tags=tags,
        poster_hashes=[posters.get(int(m), "") for m in movie_ids],
    )


def new_movie_content(movie: NewMovie) -> MovieContent:
    """The content of one movie outside the data: TMDB's keywords stand where user tags were
    (each as if one user gave it); no poster."""
    return MovieContent(
        movie_ids=np.array([movie.movie_id], dtype=np.int64),
        genres=[tuple(movie.genres)],
        years=np.array([np.nan if movie.year is None else float(movie.year)]),
        tags=[{k.strip().lower(): 1 for k in movie.keywords if k.strip()}],
        poster_hashes=[""],
    )


@dataclass
class ContentEncoder:
    """Frozen vocabularies and scales: turns :class:`MovieContent` into rows."""

    genres: np.ndarray  # str
    tags: np.ndarray  # str
    tag_idf: np.ndarray
    decades: np.ndarray  # int
    year_mean: float
    year_std: float
    poster_mean: np.ndarray  # 512 values
    scales: np.ndarray  # one per block, see BLOCKS

    BLOCKS = ("genres", "tags", "year", "poster", "flags")

    @classmethod
    def fit(
        cls,
        content: MovieContent,
        rows: np.ndarray,
        poster_vectors: dict[int, np.ndarray],
        tag_terms: int,
    ) -> ContentEncoder:
        """Learn the vocabularies and scales on the movies at positions ``rows``."""
        genres = sorted({g for r in rows for g in content.genres[r]})
        document_frequency: dict[str, int] = {}
        for r in rows:
            for tag in content.tags[r]:
                document_frequency[tag] = document_frequency.get(tag, 0) + 1
        # The tags found on the most movies (ties by name, for a stable vocabulary).
        ranked = sorted(document_frequency.items(), key=lambda item: (-item[1], item[0]))
        tags = [t for t, _ in ranked[: max(tag_terms, 0)]]
        df = np.array([document_frequency[t] for t in tags], dtype=np.float64)
        idf = np.log((1 + len(rows)) / (1 + df)) + 1.0
        years = content.years[rows]
        known = years[~np.isnan(years)]
        decades = sorted({int(y) // 10 * 10 for y in known})
        posters = [poster_vectors[r] for r in rows if r in poster_vectors]
        poster_mean = np.mean(posters, axis=0) if posters else np.zeros(POSTER_DIM, np.float32)
        encoder = cls(
            genres=np.array(genres, dtype=str),
            tags=np.array(tags, dtype=str),
            tag_idf=idf,
            decades=np.array(decades, dtype=np.int64),
            year_mean=float(known.mean()) if len(known) else 2000.0,
            year_std=float(known.std()) if len(known) > 1 and known.std() > 0 else 10.0,
            poster_mean=np.asarray(poster_mean, dtype=np.float32),
            scales=np.ones(len(cls.BLOCKS)),
        )
        blocks = encoder._blocks(content, rows, poster_vectors)
        for b, block in enumerate(blocks):
            norms = np.sum(block**2, axis=1)
            present = norms[norms > 0]
            encoder.scales[b] = 1.0 / np.sqrt(present.mean()) if len(present) else 1.0
        return encoder

    def encode(
        self, content: MovieContent, rows: np.ndarray, poster_vectors: dict[int, np.ndarray]
    ) -> np.ndarray:
        """The content rows of the movies at positions ``rows`` (float64, one row each)."""
        blocks = self._blocks(content, rows, poster_vectors)
        return np.hstack([block * scale for block, scale in zip(blocks, self.scales, strict=True)])

    def _blocks(
        self, content: MovieContent, rows: np.ndarray, poster_vectors: dict[int, np.ndarray]
    ) -> list[np.ndarray]:
        n = len(rows)
        genre_col = {g: i for i, g in enumerate(self.genres.tolist())}
        genres = np.zeros((n, len(genre_col)))
        tag_col = {t: i for i, t in enumerate(self.tags.tolist())}
        tags = np.zeros((n, len(tag_col)))
        decade_col = {int(d): i for i, d in enumerate(self.decades.tolist())}
        year = np.zeros((n, 1 + len(decade_col)))
        poster = np.zeros((n, POSTER_DIM))
        flags = np.zeros((n, 4))
        for i, r in enumerate(rows):
            for g in content.genres[r]:
                if g in genre_col:
                    genres[i, genre_col[g]] = 1.0
            for t, users in content.tags[r].items():
                if t in tag_col:
                    # Sublinear: the tenth user adding a tag says less than the first.
                    tags[i, tag_col[t]] = (1.0 + np.log(users)) * self.tag_idf[tag_col[t]]
            y = content.years[r]
            if not np.isnan(y):
                year[i, 0] = np.clip((y - self.year_mean) / self.year_std, -4, 4)
                decade = int(y) // 10 * 10
                if decade in decade_col:
                    year[i, 1 + decade_col[decade]] = 1.0
            if r in poster_vectors:
                poster[i] = poster_vectors[r] - self.poster_mean
            flags[i] = [
                bool(content.genres[r]),
                bool(content.tags[r]),
                not np.isnan(y),
                r in poster_vectors,
            ]
        norms = np.linalg.norm(tags, axis=1, keepdims=True)
        tags = np.divide(tags, norms, out=np.zeros_like(tags), where=norms > 0)
        return [genres, tags, year, poster, flags]

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "genres": self.genres,
            "tags": self.tags,
            "tag_idf": self.tag_idf,
            "decades": self.decades,
            "year_mean": np.array(self.year_mean),
            "year_std": np.array(self.year_std),
            "poster_mean": self.poster_mean,
            "scales": self.scales,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ContentEncoder:
        values: dict[str, Any] = dict(arrays)
        values["year_mean"] = float(values["year_mean"])
        values["year_std"] = float(values["year_std"])
        return cls(**values)


def unit(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to length 1 (zero stays zero)."""
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


# -- posters, from the poster features the registry handed over ------------------------


def poster_vectors(
    content: MovieContent, rows: np.ndarray, features: PosterFeatures | None
) -> dict[int, np.ndarray]:
    """row -> unit poster vector, for the ``rows`` whose poster features load."""
    out = {}
    for r in rows:
        if features is not None and content.poster_hashes[r]:
            vector = features.vector(int(content.movie_ids[r]))
            if vector is not None:
                if np.size(vector) != POSTER_DIM:
                    raise PluginError(
                        f"hybrid: poster features have {np.size(vector)} values, not {POSTER_DIM}"
                    )
                out[int(r)] = unit(np.asarray(vector, dtype=np.float32))
    return out


def poster_features(needs: Mapping[str, object]) -> PosterFeatures:
    """The poster features the registry handed over (``posters = true`` declares the need)."""
    features = needs.get(POSTER_FEATURES)
    if not isinstance(features, PosterFeatures):
        raise PluginError(
            f"hybrid: the registry handed over {type(features).__name__} as {POSTER_FEATURES}"
        )
    return features
