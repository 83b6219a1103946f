"""Catalogue movies (TMDB movies beyond the rating data) placed in the hybrid's taste space.

The hybrid ranks them beside the dataset's movies in ``reelpick_recommend`` (``catalogue =
true``), and compares them by taste with a catalogue movie whose similar movies are asked
(``unrated_taste_weight`` above 0). Each catalogue row is placed once by the frozen content
encoder and map (genres, year, TMDB keywords where user tags were, the poster's features when
they are already stored) and the placement is cached on disk, keyed by the row's content: a
later call re-reads the catalogue only when the file changed (its row count or last write),
and places only new or changed rows. No refit, and nothing dense beyond one taste vector per
catalogue movie (20,000 movies x 100 factors is 8 MB); encoding goes in chunks so the wide
content rows never pile up.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reelpick import (
    ArtifactStore,
    CatalogueReader,
    Config,
    NewMovie,
    NewPosterFeatures,
    PluginError,
    PosterFeatures,
)

from ._hybrid_content import POSTER_DIM, ContentEncoder, MovieContent, new_movie_content, unit
from ._hybrid_model import ContentMap

log = logging.getLogger(__name__)

CHUNK = 1000  # rows encoded at once (each is ~1,000 floats wide)
PLACED = "placed"
SIGNATURE = "signature"


@dataclass
class Placed:
    """Catalogue movies placed in the taste space (aligned arrays, movie id order)."""

    movie_ids: np.ndarray  # int64
    digests: np.ndarray  # U16: the row content each placement was computed from
    posters: np.ndarray  # bool: the poster's features took part
    item_vec: np.ndarray  # float32, one taste vector per movie
    item_bias: np.ndarray  # float64
    usable: np.ndarray  # bool: genres, keywords or a poster to place it by

    @classmethod
    def empty(cls, factors: int) -> Placed:
        return cls(
            np.zeros(0, np.int64),
            np.zeros(0, "U16"),
            np.zeros(0, bool),
            np.zeros((0, factors), np.float32),
            np.zeros(0),
            np.zeros(0, bool),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        return dict(self.__dict__)


def row_digest(movie: NewMovie) -> str:
    """What a placement depends on in a catalogue row (its poster by path: a new poster is a
    new row content)."""
    text = "|".join(
        [
            ",".join(movie.genres),
            "" if movie.year is None else str(movie.year),
            movie.poster_path or "",
            *sorted(k.strip().lower() for k in movie.keywords),
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


Placing = tuple[ContentEncoder, ContentMap, np.ndarray]
"""What places a movie outside the data: encoder, map and the taste centre."""


def load_placing(model_store: ArtifactStore) -> Placing | None:
    """The encoder and map of a warm start (taste vectors and table came from the store),
    read from the model's cache; None when that cache was pruned."""
    encoder = model_store.load_arrays("encoder")
    mapped = model_store.load_arrays("map")
    if encoder is None or mapped is None:
        log.warning("hybrid: the content model is not cached; new movies cannot be placed")
        return None
    content_map = ContentMap.from_arrays(mapped)
    centre = content_map.y_mean[1:].astype(np.float32)
    return ContentEncoder.from_arrays(encoder), content_map, centre


def new_poster(features: PosterFeatures | None, movie: NewMovie) -> np.ndarray | None:
    """The unit poster vector of a movie outside the data when the provider reaches such
    movies (it fetches and computes on first sight); None without one."""
    if not isinstance(features, NewPosterFeatures):
        return None
    vector = features.new_vector(movie, True)
    if vector is None:
        return None
    if np.size(vector) != POSTER_DIM:
        raise PluginError(f"hybrid: poster features have {np.size(vector)} values")
    return unit(np.asarray(vector, dtype=np.float32))


def open_catalogue(
    config: Config,
    model_key: str,
    placing: Placing | None,
    features: PosterFeatures | None,
    params: dict,
    version: str,
) -> CataloguePlacements | None:
    """Where catalogue movies are placed with a fit's encoder and map (placements are cached
    per model, so a refit with the same map keeps them). Needed to recommend catalogue
    movies, and for the taste term of a catalogue movie's similar movies (the other
    catalogue movies are compared by their placements); None when neither asks for it."""
    if not (params["catalogue"] or params["unrated_taste_weight"]) or placing is None:
        return None
    encoder, mapped, _ = placing
    return CataloguePlacements(
        CatalogueReader(config),
        ArtifactStore(config.cache_dir, "hybrid-catalogue", data=model_key, version=version),
        encoder,
        mapped,
        int(mapped.y_mean.shape[0]) - 1,
        features.new_vector
        if params["posters"] and isinstance(features, NewPosterFeatures)
        else None,
    )


def place(
    encoder: ContentEncoder,
    mapped: ContentMap,
    movies: list[NewMovie],
    posters: list[np.ndarray | None],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bias, taste vector, usable) of each movie, from its content and unit poster vector."""
    content = MovieContent(
        movie_ids=np.array([m.movie_id for m in movies], dtype=np.int64),
        genres=[],
        years=np.zeros(len(movies)),
        tags=[],
        poster_hashes=[],
    )
    for i, movie in enumerate(movies):
        one = new_movie_content(movie)
        content.genres.append(one.genres[0])
        content.years[i] = one.years[0]
        content.tags.append(one.tags[0])
        content.poster_hashes.append("poster" if posters[i] is not None else "")
    vectors = {i: v for i, v in enumerate(posters) if v is not None}
    rows = encoder.encode(content, np.arange(len(movies)), vectors)
    _, vec = mapped.predict(rows)
    # The taste vector comes from the content; the bias (how well liked a movie is overall)
    # is the average teaching movie's: genres and keywords guess it poorly, and the guess put
    # every new movie above the dataset's best in a profile's picks.
    bias = np.full(len(movies), float(mapped.y_mean[0]))
    return bias, vec.astype(np.float32), content.described()


PosterVector = Callable[[NewMovie, bool], "np.ndarray | None"]


class CataloguePlacements:
    """The placed catalogue of one fitted model (encoder + map), refreshed on demand."""

    def __init__(
        self,
        catalogue: CatalogueReader,
        cache: ArtifactStore,
        encoder: ContentEncoder,
        mapped: ContentMap,
        factors: int,
        poster_vector: PosterVector | None,
    ) -> None:
        self.reader = catalogue
        self.cache = cache
        self.encoder = encoder
        self.mapped = mapped
        self.factors = factors
        self.poster_vector = poster_vector
        self._signature: tuple[int, float] | None = None
        self._lock = threading.Lock()
        self.placed = self._load()
        self.last_refresh = {"placed": 0, "kept": 0}

    def _load(self) -> Placed:
        arrays = self.cache.load_arrays(PLACED)
        if arrays is not None:
            try:
                placed = Placed(**arrays)
                if placed.item_vec.shape[1:] == (self.factors,):
                    return placed
            except TypeError:
                pass
        return Placed.empty(self.factors)

    def close(self) -> None:
        with self._lock:
            self.reader.close()

    def current(self) -> Placed:
        """Every catalogue movie, placed (new and changed rows placed now)."""
        with self._lock:
            signature = self.reader.signature()
            if signature is None:  # no catalogue yet
                return Placed.empty(self.factors)
            if self._signature is None and signature == self._saved_signature():
                self._signature = signature  # a restart over the same file: nothing to read
                self.last_refresh = {"placed": 0, "kept": len(self.placed.movie_ids)}
            if signature == self._signature:
                return self.placed
            last = self._signature
            if last is not None and signature[0] >= last[0]:
                # Rows were only added or rewritten (none removed): read just those.
                changed = self.reader.written_after(last[1])
                merged = self._update(changed)
                if len(merged.movie_ids) == signature[0]:
                    self.placed = merged
                    self._signature = signature
                    self._save_signature(signature)
                    return self.placed
            rows = self.reader.movies()
            self.placed = self._refresh(rows)
            self._signature = signature
            self._save_signature(signature)
            return self.placed

    def _saved_signature(self) -> tuple[int, float] | None:
        """The catalogue file's signature when the cached placements were last complete."""
        saved = self.cache.load_arrays(SIGNATURE)
        if saved is None or len(self.placed.movie_ids) != int(saved["count"]):
            return None
        return int(saved["count"]), float(saved["last"])

    def _save_signature(self, signature: tuple[int, float]) -> None:
        self.cache.save_arrays(SIGNATURE, count=np.array(signature[0]), last=np.array(signature[1]))

    def ranked_with(
        self, ids: np.ndarray, scores: np.ndarray, offset: float, user: np.ndarray, banned: set[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The dataset's ``ids`` and ``scores`` with every catalogue movie appended, scored like
        a dataset movie (``offset`` + bias + vector . ``user``; banned and unplaceable ones
        -inf), and the appended movies' taste vectors, in order: row ``i - len(ids)`` is the
        appended movie ``i``'s (not a copy of every vector beside the dataset's)."""
        placed = self.current()
        if not len(placed.movie_ids):
            return ids, scores, placed.item_vec
        # In the vectors' float32: a float64 user would copy every placed vector first.
        extra = offset + placed.item_bias + placed.item_vec @ user.astype(placed.item_vec.dtype)
        out = np.isin(placed.movie_ids, list(banned)) | ~placed.usable
        return (
            np.concatenate([ids, placed.movie_ids]),
            np.concatenate([scores, np.where(out, -np.inf, extra)]),
            placed.item_vec,
        )

    def cosines(self, movie_ids: np.ndarray, query: np.ndarray, centre: np.ndarray) -> np.ndarray:
        """Cosine of each of ``movie_ids``' centred taste vector with the unit ``query``; 0
        for a movie not placed (yet)."""
        placed = self.current()
        cosines = np.zeros(len(movie_ids))
        if not len(placed.movie_ids):
            return cosines
        at = np.minimum(np.searchsorted(placed.movie_ids, movie_ids), len(placed.movie_ids) - 1)
        found = (placed.movie_ids[at] == movie_ids) & placed.usable[at]
        rows = placed.item_vec[at[found]] - centre
        norms = np.linalg.norm(rows, axis=1)
        cosines[found] = (rows @ query) / np.where(norms > 0, norms, 1.0)
        return cosines

    def _update(self, changed: list[NewMovie]) -> Placed:
        """The placements with ``changed`` rows (new or rewritten) placed and merged in."""
        old = self.placed
        fresh = self._place_rows(changed, old)
        keep = ~np.isin(old.movie_ids, fresh.movie_ids)
        parts = [
            {k: v[keep] for k, v in old.arrays().items()},
            fresh.arrays(),
        ]
        merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        order = np.argsort(merged["movie_ids"], kind="stable")
        placed = Placed(**{k: v[order] for k, v in merged.items()})
        computed = self.last_refresh["placed"]
        self._save(placed, computed, len(placed.movie_ids) - computed)
        return placed

    def _refresh(self, rows: list[NewMovie]) -> Placed:
        """Placements of exactly ``rows`` (the whole catalogue)."""
        old = self.placed
        placed = self._place_rows(rows, old)
        changed = self.last_refresh["placed"] > 0 or len(old.movie_ids) != len(rows)
        if changed:
            self._save(placed, self.last_refresh["placed"], self.last_refresh["kept"])
        return placed

    def _save(self, placed: Placed, computed: int, kept: int) -> None:
        self.cache.save_arrays(PLACED, **placed.arrays())
        self.last_refresh = {"placed": computed, "kept": kept}
        if computed:
            log.info("hybrid: %d catalogue movies placed, %d kept", computed, kept)

    def _place_rows(self, rows: list[NewMovie], old: Placed) -> Placed:
        """Placements of ``rows``: read from ``old`` where a row's content is unchanged,
        computed for the rest (in chunks). Sets ``last_refresh``."""
        where = {
            (int(m), str(d)): i
            for i, (m, d) in enumerate(zip(old.movie_ids, old.digests, strict=True))
        }
        digests = np.array([row_digest(m) for m in rows], dtype="U16")
        found = np.array(
            [where.get((m.movie_id, d), -1) for m, d in zip(rows, digests, strict=True)],
            dtype=np.int64,
        )
        n = len(rows)
        placed = Placed(
            movie_ids=np.array([m.movie_id for m in rows], dtype=np.int64),
            digests=digests,
            posters=np.zeros(n, bool),
            item_vec=np.zeros((n, self.factors), np.float32),
            item_bias=np.zeros(n),
            usable=np.zeros(n, bool),
        )
        hit = found >= 0
        for name in ("posters", "item_vec", "item_bias", "usable"):
            getattr(placed, name)[hit] = getattr(old, name)[found[hit]]
        missing = np.flatnonzero(~hit)
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start : start + CHUNK]
            movies = [rows[i] for i in chunk]
            vectors = [self._poster(m, compute=False) for m in movies]
            bias, vec, usable = self.place(movies, vectors)
            placed.item_bias[chunk], placed.item_vec[chunk] = bias, vec
            placed.usable[chunk] = usable
            placed.posters[chunk] = [v is not None for v in vectors]
        self.last_refresh = {"placed": len(missing), "kept": int(hit.sum())}
        return placed

    def _poster(self, movie: NewMovie, compute: bool) -> np.ndarray | None:
        if self.poster_vector is None:
            return None
        vector = self.poster_vector(movie, compute)
        return None if vector is None else unit(np.asarray(vector, dtype=np.float32))

    def place(
        self, movies: list[NewMovie], posters: list[np.ndarray | None]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return place(self.encoder, self.mapped, movies, posters)

    def remember(self, movie: NewMovie, poster: np.ndarray | None) -> tuple[np.ndarray, float]:
        """Place one movie now (with its poster vector, when given) and keep the placement if
        the movie is in the current catalogue: a poster computed on first sight then also
        counts when the movie is recommended. Returns (taste vector, bias)."""
        bias, vec, usable = self.place([movie], [poster])
        with self._lock:
            placed = self.placed
            at = np.searchsorted(placed.movie_ids, movie.movie_id)
            inside = at < len(placed.movie_ids) and placed.movie_ids[at] == movie.movie_id
            fresh = inside and placed.digests[at] == row_digest(movie)
            if fresh and poster is not None and not placed.posters[at]:
                placed.item_vec[at], placed.item_bias[at] = vec[0], bias[0]
                placed.usable[at], placed.posters[at] = usable[0], True
                self.cache.save_arrays(PLACED, **placed.arrays())
        return vec[0], float(bias[0])
