"""vgg16-poster: movies whose posters look alike, as in the seed article.

Every real poster (placeholders are skipped) goes through VGG16's convolution layers with
ImageNet weights; the flattened last block (25,088 values, or 512 with ``pooling = "avg"``)
is compared by cosine, by default after adding each feature map to its mirror image so that
a flipped poster still matches (``mirror = false``: the article's comparison exactly).
Three levels of caching keep TensorFlow off the common paths:

* features, one checksummed record per poster in a pack file per spec under
  ``<cache>/vgg16-features``, keyed by the poster's content hash + weights id + layer +
  pooling + precision. They survive data changes, so adding 10 posters computes 10 and a
  changed poster is recomputed;
* the top-k neighbour table, in the plugin's ArtifactStore, named after the indexed
  (movie, poster) set so that a changed set rebuilds it from the stored features;
* answering a query is a row lookup. TensorFlow is imported only to compute missing features
  (in ``reelpick.plugins._vgg16_features``).

Recommendations for a profile ("posters like the ones you liked") go through the same table:
a movie scores its highest similarity to a liked poster (a seen movie's poster counts half),
and ``because`` names the nearest liked posters. The table holds each poster's 50 nearest, so
this is max-similarity over the index without keeping ~500 MB of feature vectors in memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reelpick import (
    POSTER_FEATURES,
    ArtifactStore,
    Config,
    Dataset,
    Neighbour,
    NeighbourTable,
    NewMovie,
    NoAnswer,
    PluginError,
    PluginInfo,
    PosterStore,
    Profile,
    Recommendation,
    expand,
    hookimpl,
    models_allowed,
    topk_cosine_dense,
)

from ._vgg16_pictures import CataloguePictures, comparable, comparable_dim, unit_vector
from ._vgg16_store import (
    GRID,
    CachedPosterFeatures,
    Compute,
    FeatureSpec,
    FeatureStore,
    Pooling,
    Storage,
    channel_means,
)

log = logging.getLogger(__name__)

WEIGHTS_ENV = "REELPICK_VGG16_WEIGHTS"
FEATURES_DIR = "vgg16-features"
KERAS_WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
SEEN_WEIGHT = 0.5  # a poster of a movie only seen (no rating) counts half a liked one
RERANK = 200  # a new poster's candidates (by channel averages) re-scored on the full features


@dataclass(frozen=True)
class PosterRef:
    movie_id: int
    content_hash: str


class VGG16Poster:
    def __init__(self) -> None:
        self.table: NeighbourTable | None = None
        self._fit_inputs: tuple[FeatureSpec, dict, Config, Dataset] | None = None
        self._refs: list[PosterRef] = []  # the indexed posters of the last fit
        self._image_index: tuple[np.ndarray, np.ndarray] | None = None  # (movie ids, unit rows)
        self._pictures: CataloguePictures | None = None  # catalogue posters a photo may be
        # What the last fit did and where its time went, for the benchmark and the tests.
        self.last_fit: dict = {}
        self.timings: dict[str, float] = {}
        # Movies outside the data (catalogue movies): their posters, fetched on first sight,
        # and the channel averages of every indexed poster to compare them with.
        self._store: ArtifactStore | None = None
        self._set_id = ""
        self._new_posters: PosterStore | None = None
        self._new_lock = threading.Lock()
        self._means: tuple[np.ndarray, np.ndarray] | None = None  # (movie ids, unit rows)
        self.new_computed = 0  # new posters whose features were computed (not read back)

    @hookimpl
    def reelpick_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            label="VGG16 posters",
            description="Movies whose posters look alike (VGG16 ImageNet features, cosine).",
            version="1",
            params={
                "weights": "imagenet",  # or a local weights file; REELPICK_VGG16_WEIGHTS overrides
                "pooling": "flatten",  # the article's 25,088 features; "avg": 512 (global average)
                "compute": "auto",  # "bfloat16" where the CPU has it (AMX/AVX512-BF16), or "float32"
                "storage": "uint8",  # stored feature values: "uint8", "float16" or "float32"
                "mirror": True,  # compare posters up to a left-right flip (false: as the article)
                "batch_size": 16,
                "neighbours": 50,  # width of the stored table (the most a query can ask for)
            },
            provides=(POSTER_FEATURES,),
        )

    @hookimpl
    def reelpick_fit(
        self, dataset: Dataset, params: dict, store: ArtifactStore, config: Config
    ) -> None:
        started = time.perf_counter()
        spec = feature_spec(params, config)
        self.timings = {}
        # What an image query needs later (reelpick_similar_image builds its index lazily).
        self._fit_inputs = (spec, params, config, dataset)
        self._image_index = None
        self._means = None
        self._store = store
        self._close_new_posters()
        if self._pictures is not None:
            self._pictures.close()
        self._pictures = CataloguePictures(
            config,
            FeatureStore(config.cache_dir / FEATURES_DIR, spec),
            params["mirror"],
            lambda movie: self.new_features(movie, compute=False),
        )
        with PosterStore(config, dataset) as posters:
            refs = indexed_posters(posters, dataset)
            self._refs = refs
            self.timings["posters"] = time.perf_counter() - started
            set_id = hashlib.sha256(
                "\n".join([spec.id, *(f"{r.movie_id}:{r.content_hash}" for r in refs)]).encode()
            ).hexdigest()[:16]
            name = f"neighbours-{set_id}"
            self._set_id = set_id
            self.last_fit = {"posters": len(refs), "computed": 0, "table": "loaded"}
            self.table = NeighbourTable.load(store, name)
            if self.table is not None:
                self.timings["table"] = time.perf_counter() - started - self.timings["posters"]
                return
            features = FeatureStore(config.cache_dir / FEATURES_DIR, spec)
            vectors, usable = self._features(
                refs, features, posters, params["batch_size"], params["mirror"]
            )
        self.timings["features"] = time.perf_counter() - started - self.timings["posters"]
        movie_ids = np.array([r.movie_id for r in refs], dtype=np.int64)
        index, score = topk_cosine_dense(vectors, params["neighbours"], valid=usable)
        self.table = NeighbourTable(movie_ids[usable], *_keep(index, score, usable))
        self.table.save(store, name)
        self.last_fit["table"] = "built"
        self.timings["table"] = (
            time.perf_counter() - started - self.timings["posters"] - self.timings["features"]
        )
        for old in [*store.path.glob("neighbours-*.npz"), *store.path.glob("means-*.npz")]:
            if not old.stem.endswith(set_id):  # tables of earlier poster sets
                old.unlink(missing_ok=True)

    @hookimpl
    def reelpick_provide(self, product: str) -> CachedPosterFeatures | None:
        """:data:`reelpick.POSTER_FEATURES`: the stored features of the posters indexed by
        the last fit, read through the store of its spec (never computed here)."""
        if product != POSTER_FEATURES or self._fit_inputs is None:
            return None
        spec, _, config, _ = self._fit_inputs
        posters = {r.movie_id: r.content_hash for r in self._refs}
        return CachedPosterFeatures(
            FeatureStore(config.cache_dir / FEATURES_DIR, spec), posters, self.new_features
        )

    @hookimpl
    def reelpick_similar(self, movie_id: int, k: int) -> list[Neighbour]:
        if self.table is None:
            raise NoAnswer("the poster index is not fitted")
        return self.table.similar(
            movie_id,
            k,
            unknown="no poster for this movie",
            alone="no other poster to compare this one with",
        )

    @hookimpl
    def reelpick_similar_new(self, movie: NewMovie, k: int) -> list[Neighbour]:
        """The indexed posters nearest to a catalogue movie's poster. The poster is fetched
        (poster store, TMDB) and its features computed on first sight where a model may load
        (:func:`reelpick.models_allowed`; the bot asks this in its image worker), then read
        from the feature cache like every other poster's. Candidates are found by channel averages
        (a small matrix) and re-scored on the features the table compares, so scores mean
        what they mean in :meth:`reelpick_similar`."""
        if self._fit_inputs is None:
            raise NoAnswer("the poster index is not fitted")
        spec, params, config, _ = self._fit_inputs
        vector = self.new_features(movie)
        if vector is None and not models_allowed():
            raise NoAnswer("its poster is not compared yet")
        if vector is None:
            raise NoAnswer("no poster to compare for this movie")
        movie_ids, means = self._channel_means()
        if not len(movie_ids):
            raise NoAnswer("no posters are indexed")
        rough = means @ unit_vector(channel_means(vector))
        candidates = np.argsort(-rough, kind="stable")[: max(int(k), RERANK)]
        features = FeatureStore(config.cache_dir / FEATURES_DIR, spec)
        hashes = {r.movie_id: r.content_hash for r in self._refs}
        query = unit_vector(comparable(vector, spec.pooling, params["mirror"]))
        scored = []
        for i in candidates:
            stored = features.load(hashes[int(movie_ids[i])])
            if stored is not None:
                row = unit_vector(comparable(stored, spec.pooling, params["mirror"]))
                scored.append(Neighbour(int(movie_ids[i]), float(row @ query)))
        scored.sort(key=lambda n: -n.score)
        return scored[: max(0, int(k))]

    def new_features(self, movie: NewMovie, compute: bool = True) -> np.ndarray | None:
        """The stored features of a catalogue movie's poster, or None when it has none.

        With ``compute`` the poster is fetched (once; the poster store caches it) and its
        features computed if the feature cache lacks them (a damaged file is a miss); without,
        only what is already on disk is read (no network, no TensorFlow)."""
        if self._fit_inputs is None:
            return None
        spec, _, config, dataset = self._fit_inputs
        with self._new_lock:
            if self._new_posters is None:
                self._new_posters = PosterStore(config, dataset)
            posters = self._new_posters
            # Where people wait, neither: the image worker fetches and computes for them.
            poster = posters.new_movie(movie, fetch=compute and models_allowed())
            if poster is None or poster.placeholder:
                return None
            features = FeatureStore(config.cache_dir / FEATURES_DIR, spec)
            stored = features.load(poster.content_hash)
            if stored is not None or not compute or not models_allowed():
                return stored  # where people wait, the model is never loaded
            from ._vgg16_features import extract  # TensorFlow: only for a poster never seen

            for _, vector in extract([0], lambda _: poster.data, spec, 1, progress=False):
                if vector is None:
                    log.warning("the poster of catalogue movie %s cannot be read", movie.movie_id)
                    return None
                features.save(poster.content_hash, vector)
                self.new_computed += 1
            return features.load(poster.content_hash)

    def _channel_means(self) -> tuple[np.ndarray, np.ndarray]:
        """Movie ids and unit channel averages of every indexed poster: 512 values each, kept
        in the plugin's store after the first build (one pass over the feature files)."""
        if self._means is None:
            if self._fit_inputs is None or self._store is None:
                raise NoAnswer("the poster index is not fitted")
            spec, _, config, _ = self._fit_inputs
            name = f"means-{self._set_id}"
            arrays = self._store.load_arrays(name)
            if arrays is None:
                features = FeatureStore(config.cache_dir / FEATURES_DIR, spec)
                ids, rows = [], []
                for ref in self._refs:
                    stored = features.load(ref.content_hash)
                    if stored is not None:
                        ids.append(ref.movie_id)
                        rows.append(unit_vector(channel_means(stored)))
                arrays = {
                    "movie_ids": np.array(ids, dtype=np.int64),
                    "rows": np.array(rows, dtype=np.float32).reshape(len(ids), GRID[2]),
                }
                self._store.save_arrays(name, **arrays)
            self._means = (arrays["movie_ids"], arrays["rows"].astype(np.float32))
        return self._means

    def _close_new_posters(self) -> None:
        with self._new_lock:
            if self._new_posters is not None:
                self._new_posters.close()
                self._new_posters = None

    @hookimpl
    def reelpick_recommend(
        self, profile: Profile, k: int, exclude: frozenset[int]
    ) -> list[Recommendation]:
        weights = {m: SEEN_WEIGHT for m in profile.seen} | dict.fromkeys(profile.liked(), 1.0)
        if self.table is None or not any(self.table.has_neighbours(m) for m in weights):
            raise NoAnswer("none of the movies liked or seen here has a poster to compare")
        return self.table.recommend(weights, k, exclude, combine="max")

    @hookimpl
    def reelpick_similar_image(self, image: bytes, k: int) -> list[Neighbour]:
        """The indexed posters nearest to ``image`` by cosine, in the same comparable form as
        the table (so a flipped or slightly cropped photo of a poster finds it), and the
        catalogue movies' posters whose features are stored (:class:`CataloguePictures`).
        Loads TensorFlow and every indexed poster's features on the first call."""
        if self._fit_inputs is None:
            raise NoAnswer("the poster index is not fitted")
        spec, params, _, _ = self._fit_inputs
        movie_ids, rows = self._index()
        if not len(movie_ids):
            raise NoAnswer("no posters are indexed")
        from ._vgg16_features import features_of  # TensorFlow: only in an image query

        vector = features_of([image], spec)[0]
        if not vector.any():
            raise NoAnswer("the picture could not be read")
        query = comparable(vector, spec.pooling, params["mirror"])
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        scores = rows @ query
        if self._pictures is not None:
            new_ids, new_rows = self._pictures.index()
            if len(new_ids):  # scored apart: the dataset's matrix is never copied
                movie_ids = np.concatenate([movie_ids, new_ids])
                scores = np.concatenate([scores, new_rows @ query])
        best = np.argsort(-scores, kind="stable")[: max(0, int(k))]
        return [Neighbour(int(movie_ids[i]), float(scores[i])) for i in best]

    def _index(self) -> tuple[np.ndarray, np.ndarray]:
        """Movie ids and unit-length comparable features of every indexed poster (built once)."""
        if self._image_index is None:
            if self._fit_inputs is None:
                raise NoAnswer("the poster index is not fitted")
            spec, params, config, dataset = self._fit_inputs
            with PosterStore(config, dataset) as posters:
                refs = indexed_posters(posters, dataset)
                features = FeatureStore(config.cache_dir / FEATURES_DIR, spec)
                vectors, usable = self._features(
                    refs, features, posters, params["batch_size"], params["mirror"]
                )
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            usable &= norms[:, 0] > 0
            ids = np.array([r.movie_id for r in refs], dtype=np.int64)[usable]
            self._image_index = (ids, vectors[usable] / norms[usable])
        return self._image_index

    def _features(
        self,
        refs: list[PosterRef],
        features: FeatureStore,
        posters: PosterStore,
        batch_size: int,
        mirror: bool,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Features of ``refs`` in comparable form (one row each), computing the missing ones.

        Returns the matrix and a mask of usable rows (a poster that fails to decode is left out).
        """
        pooling = features.spec.pooling
        vectors = np.zeros((len(refs), comparable_dim(pooling, mirror)), dtype=np.float32)
        missing: list[int] = []
        for row, ref in enumerate(refs):
            vector = features.load(ref.content_hash)
            if vector is None:
                missing.append(row)
            else:
                vectors[row] = comparable(vector, pooling, mirror)
        usable = np.ones(len(refs), dtype=bool)
        if not missing:
            return vectors, usable
        from ._vgg16_features import extract  # TensorFlow: only when something is missing

        def load(row: int) -> bytes | None:
            # Read batch by batch inside the pipeline, so memory stays flat for 10k posters.
            poster = posters.local(refs[row].movie_id)
            if poster is None or poster.content_hash != refs[row].content_hash:
                log.warning("poster of movie %s changed during the fit", refs[row].movie_id)
                return None
            return poster.data

        for row, vector in extract(missing, load, features.spec, batch_size):
            if vector is None:
                usable[row] = False
                continue
            features.save(refs[row].content_hash, vector)
            stored = features.load(refs[row].content_hash)  # exactly what later fits will see
            if stored is None:  # unreadable at once: the disk is failing
                usable[row] = False
                continue
            vectors[row] = comparable(stored, pooling, mirror)
            self.last_fit["computed"] += 1
        return vectors, usable


def feature_spec(params: dict, config: Config) -> FeatureSpec:
    """Check the parameters and resolve weights and precision (no TensorFlow needed)."""
    where = "[plugins.vgg16-poster]"
    for key, choices in (("pooling", Pooling), ("compute", Compute), ("storage", Storage)):
        allowed = [choice.value for choice in choices]
        if params[key] not in allowed:
            raise PluginError(f"{where} {key} must be one of {', '.join(allowed)}")
    if params["batch_size"] < 1 or params["neighbours"] < 1:
        raise PluginError(f"{where} batch_size and neighbours must be at least 1")
    weights, weights_id = resolve_weights(params["weights"], config, config.cache_dir)
    compute = Compute(params["compute"])
    if compute == Compute.AUTO:
        compute = Compute.BFLOAT16 if cpu_has_bf16() else Compute.FLOAT32
    return FeatureSpec(
        weights, weights_id, Pooling(params["pooling"]), compute, Storage(params["storage"])
    )


def resolve_weights(value: str, config: Config, cache_dir: Path) -> tuple[str, str]:
    """(what to hand Keras, an id for cache keys). REELPICK_VGG16_WEIGHTS overrides ``value``.

    "imagenet" is Keras's md5-pinned download; a file is identified by its sha256 (remembered
    per path, size and mtime so that a warm fit does not reread 59 MB).
    """
    from_env = os.environ.get(WEIGHTS_ENV, "").strip()
    if (from_env or value) == "imagenet":
        return "imagenet", "imagenet"
    path = expand(from_env, None) if from_env else expand(value, config.path)
    origin = WEIGHTS_ENV if from_env else "[plugins.vgg16-poster] weights"
    if not path.is_file():
        raise PluginError(
            f"VGG16 weights file {path} (from {origin}) does not exist. Put the Keras "
            f"ImageNet 'notop' weights there (e.g. {KERAS_WEIGHTS_FILE}, or a .weights.h5 "
            f'saved from keras.applications.VGG16(include_top=False)), or set weights = "imagenet" '
            "on a machine with internet access."
        )
    stat = path.stat()
    memo_file = cache_dir / FEATURES_DIR / "weights-ids.json"
    memo_key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    try:
        memo = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        memo = {}
    if memo_key not in memo:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        memo[memo_key] = digest.hexdigest()
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=memo_file.parent, delete=False) as out:
            json.dump(memo, out)
        os.replace(out.name, memo_file)
    return str(path), memo[memo_key]


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (oneDNN then uses AMX or AVX512-BF16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def indexed_posters(posters: PosterStore, dataset: Dataset) -> list[PosterRef]:
    """The dataset's movies with a real local poster, in movie id order (placeholders never)."""
    refs = []
    on_disk = posters.local_ids()
    for movie_id in sorted(int(m) for m in dataset.movies.index if int(m) in on_disk):
        poster = posters.local(movie_id)
        if poster is not None and not poster.placeholder:
            refs.append(PosterRef(movie_id, poster.content_hash))
    return refs


def _keep(
    index: np.ndarray, score: np.ndarray, usable: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Restrict a table to the usable rows, renumbering neighbour positions to match."""
    new_position = np.cumsum(usable) - 1
    index, score = index[usable], score[usable]
    return np.where(index >= 0, new_position[np.maximum(index, 0)], -1), score
