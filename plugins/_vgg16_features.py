"""The TensorFlow half of the vgg16-poster plugin: posters in, VGG16 feature vectors out.

Imported only when features are missing from the cache, so that loading a fitted table and
answering queries never pay for (or need) TensorFlow.

Posters are decoded and resized by a thread pool (Pillow releases the GIL) a couple of
batches ahead, while the main thread runs the compiled model on the current batch.
"""

from __future__ import annotations

import io
import logging
import os
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from reelpick import PluginError  # noqa: E402

from ._vgg16_store import Compute, FeatureSpec, Pooling  # noqa: E402

Item = TypeVar("Item", bound=Hashable)

log = logging.getLogger(__name__)
# Long stages are reported here; the command line shows them with counts and time left.
progress_log = logging.getLogger("reelpick.progress")

SIZE = (224, 224)
PREFETCH_BATCHES = 2


def decode(data: bytes) -> np.ndarray:
    """Poster bytes -> 224x224 RGB uint8, squashed to the square as the article's load_img does."""
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", SIZE)  # JPEG: decode at a reduced scale when the poster is large
        return np.asarray(
            image.convert("RGB").resize(SIZE, Image.Resampling.BILINEAR), dtype=np.uint8
        )


@lru_cache(maxsize=4)
def model(
    weights: str, weights_id: str, pooling: str, compute: str
) -> Callable[[np.ndarray], np.ndarray]:
    """A compiled function: batch of 224x224 RGB images (0-255) -> feature rows (float32).

    Built once per process and weights (``weights_id`` keys the memo: a replaced file is new).
    """
    previous = keras.mixed_precision.global_policy()
    # The policy is read when layers are built: set it for this model only.
    keras.mixed_precision.set_global_policy(
        "mixed_bfloat16" if compute == Compute.BFLOAT16 else "float32"
    )
    try:
        net = keras.applications.VGG16(
            include_top=False,
            weights=weights,
            input_shape=(*SIZE, 3),
            pooling="avg" if pooling == Pooling.AVG else None,
        )
    except Exception as exc:
        raise PluginError(_weights_problem(weights, exc)) from exc
    finally:
        keras.mixed_precision.set_global_policy(previous)

    @tf.function(input_signature=[tf.TensorSpec([None, *SIZE, 3], tf.float32)])
    def features(batch: tf.Tensor) -> tf.Tensor:
        out = net(batch, training=False)
        return tf.reshape(tf.cast(out, tf.float32), [tf.shape(batch)[0], -1])

    def run(images: np.ndarray) -> np.ndarray:
        batch = keras.applications.vgg16.preprocess_input(images.astype(np.float32))
        return features(tf.constant(batch)).numpy()

    return run


def _weights_problem(weights: str, exc: Exception) -> str:
    if weights == "imagenet":
        home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
        return (
            f"could not get the ImageNet VGG16 weights ({type(exc).__name__}: {exc}). Without "
            f"internet access, put vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 in {home}, "
            "or point [plugins.vgg16-poster] weights (or REELPICK_VGG16_WEIGHTS) at a local "
            "weights file."
        )
    return f"could not load VGG16 weights from {weights}: {type(exc).__name__}: {exc}"


def extract(
    items: Iterable[Item],
    load: Callable[[Item], bytes | None],
    spec: FeatureSpec,
    batch_size: int = 16,
    progress: bool = True,
) -> Iterator[tuple[Item, np.ndarray | None]]:
    """Feature vectors of ``items`` in order; ``load(item)`` gives an item's image bytes.

    Yields ``(item, vector)``, with ``vector`` None for an item whose image could not be
    loaded or decoded (logged). ``spec`` is a FeatureSpec (weights, pooling, compute).
    """
    todo = list(items)
    run = model(spec.weights, spec.weights_id, spec.pooling, spec.compute)
    batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]

    def prepare(item: Item) -> np.ndarray | None:
        try:
            data = load(item)
            return None if data is None else decode(data)
        except Exception as exc:  # a broken poster must not stop the others
            log.warning("poster %s could not be decoded (%s); left out", item, exc)
            return None

    done = 0

    def report() -> None:
        if progress and todo:
            progress_log.info("poster features", extra={"done": done, "total": len(todo)})

    report()
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        queue: deque = deque()
        upcoming = iter(batches)

        def submit() -> None:
            batch = next(upcoming, None)
            if batch is not None:
                queue.append((batch, [pool.submit(prepare, item) for item in batch]))

        for _ in range(PREFETCH_BATCHES):
            submit()
        while queue:
            batch, futures = queue.popleft()
            submit()  # decode the next batch while this one runs
            images = [f.result() for f in futures]
            good = [i for i, image in enumerate(images) if image is not None]
            vectors = run(np.stack([images[i] for i in good])) if good else np.zeros((0, 0))
            found = dict(zip(good, vectors, strict=True))
            for i, item in enumerate(batch):
                yield item, found.get(i)
            done += len(batch)
            report()


def features_of(images: list[bytes], spec: FeatureSpec, batch_size: int = 16) -> np.ndarray:
    """Feature rows of raw image bytes (for tests and the benchmark); undecodable rows are 0."""
    rows = [
        vector
        for _, vector in extract(
            range(len(images)), lambda i: images[i], spec, batch_size, progress=False
        )
    ]
    dim = next((len(v) for v in rows if v is not None), 0)
    return np.stack([v if v is not None else np.zeros(dim, np.float32) for v in rows])
