"""hybrid: movies placed in SGD-MF's taste space from their posters and metadata.

Collaborative factors say nothing about a movie no one has rated. This plugin learns, on the
movies with at least ``min_ratings`` ratings, a map from what a movie *is* (genres, release
year, the poster features that ``vgg16-poster`` provides, and user tags if ``tag_terms`` > 0:
off by default, since a new movie has none) to what SGD-MF learnt about it (its factor vector
and bias), and applies it to every movie. A movie with n ratings blends its own SGD
parameters with the mapped ones by n/(n+c). The model and c are chosen on validation movies
inside the training data (see :mod:`._hybrid_model`).

Three caches, so that adding a movie to movies.csv does not refit everything:

* ``<cache>/hybrid-factors/<key>``: the SGD-MF fit, keyed by the ratings and the genres and
  years of the rated movies (SGD-MF's genre and decade terms read them) — not by movies
  nobody rated, which SGD-MF is fitted without; that key is remembered per dataset in
  ``<cache>/hybrid-keys/``, since computing it reads every rating;
* ``<cache>/hybrid-model/<key>``: the content encoder, the map, the validation choices and
  the content rows of the movies known then, keyed by the factors' key and the content of the
  map's training movies;
* the registry's store (keyed by the whole dataset): the blended taste vectors, the neighbour
  table and what serving derives from them, named after all movies' content digests. A new
  movie only needs its own content row; the table over all movies is rebuilt (seconds).

With ``posters = true`` the hybrid declares that it needs :data:`reelpick.POSTER_FEATURES`:
the registry fits the plugin that provides them (``vgg16-poster``) first and hands them to
``reelpick_fit``. Their ``id`` (weights, pooling, precision) keys the model, so features of
other weights are never mixed in. Placeholders are never content. A movie without features
simply has no poster (an indicator says so); nothing is computed here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from reelpick import (
    POSTER_FEATURES,
    ArtifactStore,
    CatalogueReader,
    Config,
    Dataset,
    Need,
    Neighbour,
    NeighbourTable,
    NewMovie,
    NoAnswer,
    PluginError,
    PluginInfo,
    PosterFeatures,
    Profile,
    Recommendation,
    hookimpl,
    sgd,
)

from ._hybrid_catalogue import (
    CataloguePlacements,
    Placing,
    load_placing,
    new_poster,
    open_catalogue,
    place,
)
from ._hybrid_content import (
    ContentEncoder,
    MovieContent,
    movie_content,
    poster_features,
    poster_vectors,
    unit,
)
from ._hybrid_content import unit as scaled_to_one
from ._hybrid_model import (
    Choice,
    ContentMap,
    UserSide,
    blend_weights,
    choose_and_fit,
    topk_among,
)
from ._hybrid_params import DEFAULT_PARAMS, check_params
from ._hybrid_store import (
    digest,
    load_model,
    rated_only,
    remembered_ratings_key,
    rows_arrays,
    serving_arrays,
    sgd_params,
)
from ._hybrid_unrated import (
    Candidates,
    CatalogueCandidates,
    Described,
    UnratedNeighbours,
    settings_from,
)

log = logging.getLogger(__name__)

VERSION = "1"


class Hybrid:
    """The reelpick plugin. After a fit, ``last_fit`` says what was loaded and what computed."""

    def __init__(self) -> None:
        self.params = dict(DEFAULT_PARAMS)
        self.factors: sgd.Factors | None = None  # SGD-MF over the rated movies
        self.taste: sgd.Factors | None = None  # the same users, every movie with blended parameters
        self.unit: np.ndarray | None = None  # centred unit taste vectors (for "because")
        self.usable: np.ndarray | None = None
        self.table: NeighbourTable | None = None
        self.choice: Choice | None = None
        self.placing: Placing | None = None
        self.features: PosterFeatures | None = None  # what the fit used (posters = true)
        self.catalogue: CataloguePlacements | None = None
        self.unrated: UnratedNeighbours | None = None  # similar movies of unrated movies
        self.others: CatalogueCandidates | None = None  # catalogue movies, as candidates
        self.last_fit: dict = {}

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            label="Hybrid (posters + metadata → taste)",
            description="SGD-MF's taste space, with unrated movies placed from poster, "
            "genres, tags and year.",
            version=VERSION,
            params=dict(DEFAULT_PARAMS),
            needs=(Need(POSTER_FEATURES, when="posters"),),
        )

    @hookimpl
    def reelpick_fit(
        self,
        dataset: Dataset,
        params: dict,
        store: ArtifactStore,
        config: Config,
        needs: Mapping[str, object],
    ) -> None:
        check_params(params)
        self.params = dict(params)
        started = time.perf_counter()
        features = poster_features(needs) if params["posters"] else None
        self.features = features
        posters = features.content_hashes() if features is not None else {}
        spec_id = features.id if features is not None else "no posters"
        self.last_fit = {
            "factors": "loaded",
            "model": "not needed",
            "rows_computed": 0,
            "posters": len(posters),
        }
        content = movie_content(dataset, posters, use_tags=params["tag_terms"] > 0)
        digests = content.digests()
        counts = dataset.rating_counts.to_numpy()
        factors_store = ArtifactStore(
            config.cache_dir,
            "hybrid-factors",
            data=remembered_ratings_key(dataset, config.cache_dir, VERSION),
            version=VERSION,
            params=sgd_params(params),
        )
        factors = self.factors = self._factors(dataset, factors_store, params)
        teaching = factors.movie_ids[factors.item_counts >= params["min_ratings"]]
        model_store = ArtifactStore(
            config.cache_dir,
            "hybrid-model",
            data=digest(
                [factors_store.key, spec_id, *digests[np.isin(content.movie_ids, teaching)]]
            ),
            version=VERSION,
            # Only what the map depends on: the similar-movie settings do not refit it.
            params={
                k: v
                for k, v in params.items()
                if not k.startswith(("sgd_", "unrated_"))
                and k not in ("neighbours", "similar_min_ratings", "catalogue")
            },
        )
        # Named after every movie's content: a changed poster or tag set gets a new entry.
        movie_set = digest([model_store.key, *digests])
        taste = store.load_arrays(f"taste-{movie_set}")
        table = NeighbourTable.load(store, f"neighbours-{movie_set}")
        if taste is None or table is None:
            taste = self._taste(dataset, content, digests, model_store, features)
            store.save_arrays(f"taste-{movie_set}", **taste)
            (store.path / f"serving-{movie_set}.npz").unlink(missing_ok=True)  # derived
            vectors = taste["item_vec"] - taste["centre"]
            placed = counts >= params["similar_min_ratings"]
            index, score = topk_among(vectors, taste["usable"], placed, params["neighbours"])
            table = NeighbourTable(content.movie_ids, index, score)
            table.save(store, f"neighbours-{movie_set}")
            for old in store.path.glob("*-*.npz"):  # taste, neighbours, serving
                if not old.stem.endswith(movie_set):  # entries of earlier movie sets
                    old.unlink(missing_ok=True)
        else:
            self.placing = load_placing(model_store)
        self.table = table
        self._assemble(taste, serving_arrays(store, movie_set, self._sgd(), taste), counts, table)
        self.unrated = UnratedNeighbours(dataset)
        if self.others is not None:
            self.others.close()
        self.others = CatalogueCandidates(CatalogueReader(config), self.unrated)
        if self.catalogue is not None:
            self.catalogue.close()
        self.catalogue = open_catalogue(
            config, model_store.key, self.placing, self.features, params, VERSION
        )
        if self.catalogue is not None:  # placed now (cached), not while a person waits
            self.catalogue.current()
        self.last_fit["seconds"] = time.perf_counter() - started

    # -- fitting -----------------------------------------------------------------------
    def _factors(self, dataset: Dataset, factors_store: ArtifactStore, params: dict) -> sgd.Factors:
        arrays = factors_store.load_arrays("factors")
        if arrays is not None:
            try:
                return sgd.Factors.from_arrays(arrays)
            except (TypeError, KeyError):  # written by another version of Factors
                pass
        self.last_fit["factors"] = "fitted"
        factors = sgd.fit_factors(rated_only(dataset), sgd_params(params))
        factors_store.save_arrays("factors", **factors.arrays())
        return factors

    def _taste(
        self,
        dataset: Dataset,
        content: MovieContent,
        digests: np.ndarray,
        model_store: ArtifactStore,
        features: PosterFeatures | None,
    ) -> dict[str, np.ndarray]:
        """Blended parameters of every movie (fit or load the map, encode the missing rows)."""
        f = self._sgd()
        loaded = load_model(model_store)
        if loaded is None:
            self.last_fit["model"] = "fitted"
            encoder, mapped, choice, rows = self._fit_model(dataset, content, features)
            model_store.save_arrays("encoder", **encoder.arrays())
            model_store.save_arrays("map", **mapped.arrays())
            model_store.save_arrays("choice", **choice.arrays())
            model_store.save_arrays("rows", **rows_arrays(content.movie_ids, digests, rows))
        else:
            self.last_fit["model"] = "loaded"
            encoder, mapped, choice, cached = loaded
            rows = self._reuse_rows(cached, content, digests, encoder, features)
        self.choice = choice
        # Kept to place movies outside the data later: the encoder, the map and the centre.
        self.placing = (encoder, mapped, mapped.y_mean[1:].astype(np.float32))
        bias_hat, vec_hat = mapped.predict(rows)
        cols = np.searchsorted(f.movie_ids, content.movie_ids)
        cols = np.minimum(cols, len(f.movie_ids) - 1)
        known = f.movie_ids[cols] == content.movie_ids
        counts = np.where(known, f.item_counts[cols], 0)
        w = blend_weights(counts, choice.shrinkage)
        sgd_vec = np.where(known[:, None], f.item_vec[cols], 0)
        sgd_bias = np.where(known, f.item_bias[cols], 0)
        return {
            "item_vec": (w[:, None] * sgd_vec + (1 - w[:, None]) * vec_hat).astype(np.float32),
            "item_bias": w * sgd_bias + (1 - w) * bias_hat,
            # The mean taste vector of the teaching movies: similarity is measured around it,
            # or every mapped vector (pulled towards the mean) would resemble every other.
            "centre": mapped.y_mean[1:].astype(np.float32),
            "usable": content.described() | (counts > 0),
            "sgd_column": np.where(known, cols, -1),
        }

    def _fit_model(
        self, dataset: Dataset, content: MovieContent, features: PosterFeatures | None
    ) -> tuple[ContentEncoder, ContentMap, Choice, np.ndarray]:
        f, params = self._sgd(), self.params
        teaching = np.flatnonzero(
            np.isin(content.movie_ids, f.movie_ids[f.item_counts >= params["min_ratings"]])
        )
        if len(teaching) < 10:
            raise PluginError(
                f"hybrid: only {len(teaching)} movies have {params['min_ratings']} ratings or "
                "more; too few to learn from (lower min_ratings)"
            )
        every = np.arange(len(content.movie_ids))
        vectors = poster_vectors(content, every, features)
        encoder = ContentEncoder.fit(content, teaching, vectors, params["tag_terms"])
        rows = encoder.encode(content, every, vectors)
        self.last_fit["rows_computed"] = len(every)
        cols = np.searchsorted(f.movie_ids, content.movie_ids[teaching])
        targets = np.column_stack([f.item_bias[cols], f.item_vec[cols]]).astype(np.float64)
        side = self._user_side(rated_only(dataset).matrix.matrix, cols)
        mapped, choice = choose_and_fit(rows[teaching], targets, side, params)
        log.info("hybrid: %s chosen on validation (%s)", choice.kind, choice.scores)
        return encoder, mapped, choice, rows

    def _user_side(self, ratings: sp.csr_matrix, cols: np.ndarray) -> UserSide:
        """The SGD users and their ratings of the movies at factor columns ``cols``."""
        matrix = ratings.tocsc()
        users, items, values = [], [], []
        for position, col in enumerate(cols):
            start, stop = matrix.indptr[col], matrix.indptr[col + 1]
            users.append(matrix.indices[start:stop])
            items.append(np.full(stop - start, position))
            values.append(matrix.data[start:stop])
        f = self._sgd()
        return UserSide(
            f.mu,
            f.user_bias,
            f.user_vec.astype(np.float64),
            np.concatenate(users).astype(np.int64),
            np.concatenate(items).astype(np.int64),
            np.concatenate(values).astype(np.float64),
        )

    def _reuse_rows(
        self,
        cached: dict[str, np.ndarray],
        content: MovieContent,
        digests: np.ndarray,
        encoder: ContentEncoder,
        features: PosterFeatures | None,
    ) -> np.ndarray:
        """Content rows from the model's cache where a movie's digest is unchanged; the rest
        (new or changed movies) are encoded now."""
        old = sp.csr_matrix(
            (cached["data"], cached["indices"], cached["indptr"]), shape=tuple(cached["shape"])
        )
        where = {
            (int(m), str(d)): n
            for n, (m, d) in enumerate(zip(cached["movie_ids"], cached["digests"], strict=True))
        }
        found = np.array(
            [
                where.get((int(m), str(d)), -1)
                for m, d in zip(content.movie_ids, digests, strict=True)
            ]
        )
        rows = np.zeros((len(found), old.shape[1]))
        hit = found >= 0
        rows[hit] = old[found[hit]].toarray()
        missing = np.flatnonzero(~hit)
        if len(missing):
            vectors = poster_vectors(content, missing, features)
            rows[missing] = encoder.encode(content, missing, vectors)
        self.last_fit["rows_computed"] = len(missing)
        return rows

    def _assemble(
        self,
        taste: dict[str, np.ndarray],
        serving: dict[str, np.ndarray],
        counts: np.ndarray,
        table: NeighbourTable,
    ) -> None:
        """The fitted model as :class:`reelpick.sgd.Factors` over every movie, for predict and
        fold-in (``serving``: :func:`serving_arrays`)."""
        self.taste = replace(
            self._sgd(),
            movie_ids=table.movie_ids,
            item_vec=taste["item_vec"],
            item_bias=taste["item_bias"],
            item_cf=np.zeros((0, 0), dtype=np.float32),
            implicit=serving["implicit"],
            asymmetric=serving["asymmetric"],
            item_bias_raw=serving["item_bias_raw"],
            item_counts=counts.astype(np.int64),
        )
        self.unit = serving["unit"]
        self.usable = taste["usable"]

    # -- hooks ---------------------------------------------------------------------------
    @hookimpl
    def reelpick_similar(self, movie_id: int, k: int) -> list[Neighbour]:
        t, table, vectors, usable = self._fitted()
        position = table.position(movie_id)
        if position is not None and not usable[position]:
            raise NoAnswer("this movie has no ratings, genres, tags or poster to place it by")
        if position is not None and t.item_counts[position] == 0 and self.unrated is not None:
            taste = vectors @ vectors[position] if self.params["unrated_taste_weight"] else None
            return self._similar_unrated(self.unrated.describe(movie_id), k, taste, {movie_id})
        return table.similar(
            movie_id,
            k,
            unknown="the hybrid does not know this movie",
            alone="no other movie to compare this one with",
        )

    @hookimpl
    def reelpick_similar_new(self, movie: NewMovie, k: int) -> list[Neighbour]:
        """A movie outside the data (a catalogue movie): similar movies by the unrated score
        (genres, year, audience, title; the content map's view too when
        ``unrated_taste_weight`` asks), among the dataset's movies and the other catalogue
        movies. Its poster's features come from their provider (computed where a model may
        load, else read if stored) and stay with its placement: no refit, one row encoded."""
        vectors = self._fitted()[2]
        if self.placing is None:
            raise NoAnswer("the hybrid is not fitted")
        poster = new_poster(self.features, movie) if self.params["posters"] else None
        if poster is None and not (movie.genres or movie.keywords):
            raise NoAnswer("no genres or keywords to place this movie by")
        if self.catalogue is not None and self.params["catalogue"]:  # kept for picks
            self.catalogue.remember(movie, poster)
        taste = None
        others = [] if self.others is None else self.others.current()
        catalogue: list[tuple[Candidates, np.ndarray | None]] = [(p, None) for p in others]
        if self.params["unrated_taste_weight"]:  # a product over every movie: only when asked
            encoder, mapped, centre = self.placing
            query = unit(place(encoder, mapped, [movie], [poster])[1][0] - centre)
            taste = vectors @ query.astype(np.float32)
            if self.catalogue is not None:
                catalogue = [
                    (p, self.catalogue.cosines(p.movie_ids, query, centre)) for p in others
                ]
        exclude = set() if self.unrated is None else self.unrated.itself(movie)
        return self._similar_unrated(Described.of(movie), k, taste, exclude, catalogue)

    def _similar_unrated(
        self,
        movie: Described,
        k: int,
        taste: np.ndarray | None,
        exclude: set[int],
        catalogue: list[tuple[Candidates, np.ndarray | None]] | None = None,
    ) -> list[Neighbour]:
        """Similar movies of a movie without ratings (see :mod:`._hybrid_unrated`)."""
        if self.unrated is None:
            raise NoAnswer("the hybrid is not fitted")
        settings = settings_from(self.params)
        top = self.unrated.top(movie, k, settings, taste, exclude, catalogue or ())
        return [Neighbour(movie_id, score) for movie_id, score in top]

    @hookimpl
    def reelpick_predict(self, user_id: int, movie_ids: list[int]) -> list[float]:
        """Ratings of a user of the training data. A movie with nothing to place it by gets
        the map's guess for an empty row: the average movie (biases, no taste)."""
        t = self._fitted()[0]
        row = int(np.searchsorted(t.user_ids, user_id))
        if row >= len(t.user_ids) or t.user_ids[row] != user_id:
            raise NoAnswer(f"user {user_id} has no ratings")
        cols = self._columns(movie_ids)
        raw = t.mu + t.user_bias[row] + t.item_bias[cols] + t.item_vec[cols] @ t.user_vec[row]
        return [float(x) for x in np.clip(raw, 0.5, 5.0)]

    @hookimpl
    def reelpick_recommend(
        self, profile: Profile, k: int, exclude: frozenset[int]
    ) -> list[Recommendation]:
        t, table, unit, usable = self._fitted()
        known = {m: r for m, r in profile.ratings.items() if table.position(m) is not None}
        if not known:
            raise NoAnswer("none of this profile's rated movies are known to the hybrid")
        user = sgd.fold_in(t, known, self.params["fold_in_reg"])
        scores = user.scores()
        banned = np.isin(t.movie_ids, list(set(exclude) | profile.movies)) | ~usable
        scores = np.where(banned, -np.inf, scores)
        ids, appended = t.movie_ids, t.item_vec[:0]
        if self.catalogue is not None and self.params["catalogue"]:
            ids, scores, appended = self.catalogue.ranked_with(
                ids, scores, t.mu + user.bias, user.vector, set(exclude) | profile.movies
            )
        top = [i for i in np.argsort(-scores, kind="stable")[: max(k, 0)] if np.isfinite(scores[i])]
        liked = profile.liked() or known
        reasons = np.array([table.position(m) for m in liked if m in known], dtype=np.int64)
        centre = self.placing[2] if self.placing is not None else 0.0
        n, out = len(unit), []  # rows from n on: the appended catalogue movies
        for i in top:
            because: tuple[int, ...] = ()
            if len(reasons):
                direction = unit[i] if i < n else scaled_to_one(appended[i - n] - centre)
                aligned = unit[reasons] @ direction
                order = np.argsort(-aligned, kind="stable")[:3]
                because = tuple(int(t.movie_ids[reasons[o]]) for o in order if aligned[o] > 0)
            out.append(Recommendation(int(ids[i]), float(min(scores[i], 5.0)), because))
        return out

    def _columns(self, movie_ids: list[int]) -> np.ndarray:
        taste_ids = self._fitted()[0].movie_ids
        ids = np.asarray(movie_ids, dtype=np.int64)
        cols = np.searchsorted(taste_ids, ids)
        inside = cols < len(taste_ids)
        if not np.all(inside) or np.any(taste_ids[cols] != ids):
            raise NoAnswer("unknown movie id")
        return cols

    def _sgd(self) -> sgd.Factors:
        """The SGD factors of the rated movies, which a fit computes or loads first."""
        if self.factors is None:
            raise PluginError("hybrid: the SGD factors are not fitted yet")
        return self.factors

    def _fitted(self) -> tuple[sgd.Factors, NeighbourTable, np.ndarray, np.ndarray]:
        """Taste factors over every movie, the similar-movie table, the centred unit taste
        vectors and which movies can be placed; NoAnswer before a fit."""
        if self.taste is None or self.table is None or self.unit is None or self.usable is None:
            raise NoAnswer("the hybrid is not fitted")
        return self.taste, self.table, self.unit, self.usable
