"""Finding movies by a picture, in a worker process, so that no model enters a front end.

Plugins that compare pictures implement ``reelpick_similar_image`` (vgg16-poster does, with
TensorFlow). A process that answers people must not load such a model: importing TensorFlow
alone costs seconds and hundreds of MB, and a crash in it would take the process down. So::

    worker = ImageSearchWorker(config, ["vgg16-poster"], idle_seconds=600)
    answers = worker.search(image_bytes, k=10)      # blocking; one PluginAnswer per plugin
    worker.close()

The worker is a ``spawn`` child (a fresh interpreter: nothing of the parent's threads or
state is forked) that opens its own :class:`~reelpick.app.Reelpick` with just those plugins
(their fitted tables come from the cache) and asks them through the registry. It is started
on first use, serves one request at a time over a pipe, and is stopped after
``idle_seconds`` without a request. A worker that dies or hangs mid-request makes that call
raise :class:`ImageSearchFailed`; the next call starts a fresh one.

Nearest by features is not yet "the same poster": a sequel's poster with the same logo and
layout is near too. So the worker also checks the ``VERIFIED`` nearest posters point by point
(:func:`matching_share`: the share of the photo's ORB keypoints that one perspective
transform maps onto the poster, with OpenCV): a photo of the poster itself keeps a third or
more, a lookalike whose logo alone matches under a fifth. :meth:`ImageSearchWorker.identify` returns both.

The same worker answers for a catalogue movie (a film newer than the rating data) through
its plugins' ``reelpick_similar_new``: comparing a new poster means computing its features
with the model, so that too happens here (:meth:`ImageSearchWorker.similar`), never where
people wait (:func:`reelpick.models_allowed`).

Protocol (pickled tuples over a ``multiprocessing`` pipe): parent sends
``("search", image, k)`` or ``("similar", movie_id, k)``, child answers
``("ok", [PluginAnswer, ...], {movie id: share})`` (no shares for ``similar``),
``("refused", text)`` (the picture is over a ``[photo]`` limit, raised as
:class:`ImageRefused`) or ``("error", text)``; ``("stop",)`` or a closed pipe ends the child.

The child checks every picture with :func:`~reelpick.posters.check_image` before a plugin
decodes it: the caller checks too, but the one worker every photo shares must not be the
place where a picture that slipped past (another caller, a changed limit) costs gigabytes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from .app import Reelpick
from .config import Config
from .errors import ReelpickError
from .posters import PosterStore
from .posters.images import BadImage, check_image
from .types import PluginAnswer

log = logging.getLogger(__name__)

VERIFIED = 3  # nearest posters checked point by point against the photo
MATCH_HEIGHT = 400  # photo and poster are compared at this height (posters are ~278 px)
KEYPOINTS = 1000  # ORB keypoints per picture
RATIO = 0.8  # Lowe's ratio test: best match clearly better than the second best
RANSAC_PIXELS = 6.0  # a point within this many pixels of the transformed position agrees
MIN_POINTS = 15  # fewer matching points than this share nothing (a near-blank picture)


@dataclass(frozen=True)
class Identified:
    """What the worker found for a photo: each plugin's nearest posters, and for the
    ``VERIFIED`` nearest of the first plugin that answered, the share of the photo's points
    they match (:func:`matching_share`)."""

    answers: list[PluginAnswer]
    shares: dict[int, float] = field(default_factory=dict)  # movie id -> matching_share


def matching_share(photo: bytes, posters: Mapping[int, bytes]) -> dict[int, float]:
    """For each poster, the share of the photo's ORB keypoints that one perspective transform
    maps onto it (RANSAC inliers over keypoints found): a photo of that very poster (scaled,
    cropped, turned, darker, slanted, with glare) keeps a third or more, another poster a few
    hundredths, a lookalike (a sequel with the same logo) under a fifth: the logo matches,
    the rest does not. Fewer than ``MIN_POINTS`` matching points, or a picture that cannot be
    read, scores 0."""
    import cv2  # OpenCV: only in the image worker, the bench and the tests

    orb = cv2.ORB.create(nfeatures=KEYPOINTS)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)

    def describe(data: bytes) -> Any:
        grey = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
        if grey is None or min(grey.shape) < 8:
            return None
        scale = MATCH_HEIGHT / grey.shape[0]
        grey = cv2.resize(grey, (max(8, round(grey.shape[1] * scale)), MATCH_HEIGHT))
        points, descriptors = orb.detectAndCompute(grey, None)
        return None if descriptors is None or len(points) < MIN_POINTS else (points, descriptors)

    query = describe(photo)
    found: dict[int, float] = {}
    for movie_id, data in posters.items():
        other = describe(data) if query is not None else None
        inliers = 0 if query is None or other is None else _inliers(query, other, matcher)
        found[movie_id] = round(inliers / len(query[0]), 4) if inliers >= MIN_POINTS else 0.0
    return found


def _inliers(query: Any, other: Any, matcher: Any) -> int:
    import cv2

    (query_points, query_desc), (other_points, other_desc) = query, other
    pairs = matcher.knnMatch(query_desc, other_desc, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < 4:  # a perspective transform needs four points
        return 0
    source = np.array([query_points[m.queryIdx].pt for m in good], dtype=np.float32)
    target = np.array([other_points[m.trainIdx].pt for m in good], dtype=np.float32)
    _, mask = cv2.findHomography(source, target, cv2.RANSAC, RANSAC_PIXELS)
    return int(mask.sum()) if mask is not None else 0


def verify(app: Reelpick, photo: bytes, answers: list[PluginAnswer]) -> dict[int, float]:
    """:func:`matching_share` of the ``VERIFIED`` nearest posters of the first plugin that
    found any (posters without a local file are left out)."""
    answer = next((a for a in answers if a.ok and a.neighbours), None)
    if answer is None:
        return {}
    with PosterStore(app.config, app.dataset) as store:
        posters = {}
        for n in answer.neighbours[:VERIFIED]:
            poster = store.local(n.movie_id)
            if poster is not None and not poster.placeholder:
                posters[n.movie_id] = poster.data
    return matching_share(photo, posters)


class ImageSearchFailed(RuntimeError):
    """The worker died, hung or could not start; the request got no answer."""


class ImageRefused(ImageSearchFailed):
    """The worker refused the picture: over a ``[photo]`` limit or not an image."""


class ImageSearchWorker:
    """A lazily started, idle-stopped child process answering ``reelpick_similar_image``."""

    def __init__(
        self,
        config: Config,
        plugins: list[str],
        *,
        idle_seconds: float = 600.0,
        timeout: float = 30.0,
        start_timeout: float = 180.0,
    ) -> None:
        self.config = config
        self.plugins = list(plugins)
        self.idle_seconds = idle_seconds
        self.timeout = timeout  # per request to a running worker
        self.start_timeout = start_timeout  # a fresh worker loads data and the model first
        self.starts = 0  # worker processes started so far (tests and the bench read it)
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._fresh = False  # no request answered yet by the current process
        self._busy = False
        self._lock = threading.Lock()  # one request at a time; also guards start and stop
        self._last_used = 0.0
        self._idle_timer: threading.Timer | None = None
        self._closed = False

    # -- state, for callers, tests and the bench -------------------------------------------
    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    @property
    def busy(self) -> bool:
        """A request has been sent and not answered yet."""
        return self._busy

    def rss(self) -> int | None:
        """The worker's resident memory in bytes (Linux), or None when it is not running."""
        pid = self.pid
        if pid is None:
            return None
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    # -- requests -------------------------------------------------------------------------
    def search(self, image: bytes, k: int) -> list[PluginAnswer]:
        """Each plugin's movies whose posters look like ``image``; blocks until answered."""
        return self.identify(image, k).answers

    def identify(self, image: bytes, k: int) -> Identified:
        """Each plugin's movies whose posters look like ``image``, and the nearest posters'
        matching shares (:func:`verify`); blocks until answered.

        Raises :class:`ImageSearchFailed` when the worker dies, hangs past the timeout (it is
        then killed) or cannot start; the next call starts a new worker.
        """
        with self._lock:
            if self._closed:
                raise ImageSearchFailed("the image search is shut down")
            self._cancel_idle_timer()
            try:
                return self._request(("search", bytes(image), int(k)))
            finally:
                self._busy = False
                self._last_used = time.monotonic()
                self._schedule_idle_stop()

    def similar(self, movie_id: int, k: int) -> list[PluginAnswer]:
        """Each plugin's ``k`` movies similar to catalogue movie ``movie_id`` (its poster
        fetched and its features computed here on first sight); blocks until answered.
        Raises :class:`ImageSearchFailed` as :meth:`identify` does."""
        with self._lock:
            if self._closed:
                raise ImageSearchFailed("the image search is shut down")
            self._cancel_idle_timer()
            try:
                return self._request(("similar", int(movie_id), int(k))).answers
            finally:
                self._busy = False
                self._last_used = time.monotonic()
                self._schedule_idle_stop()

    def _request(self, message: tuple[Any, ...]) -> Identified:
        if self._process is None or not self._process.is_alive():
            self._start()
        assert self._conn is not None and self._process is not None
        limit = self.start_timeout if self._fresh else self.timeout
        self._busy = True
        try:
            self._conn.send(message)
            deadline = time.monotonic() + limit
            # Poll in short steps: a dead worker closes its end (EOFError on recv), but a
            # worker that hangs must be noticed by the clock.
            while not self._conn.poll(0.2):
                if not self._process.is_alive():
                    raise EOFError
                if time.monotonic() > deadline:
                    self._kill(f"no answer within {limit:.0f} s")
                    raise ImageSearchFailed(f"the image search gave no answer within {limit:.0f} s")
            kind, payload, *shares = self._conn.recv()
        except (EOFError, OSError) as exc:
            code = self._process.exitcode if self._process is not None else None
            self._kill(f"it died ({type(exc).__name__}, exit code {code})")
            raise ImageSearchFailed("the image search worker stopped mid-request") from None
        self._fresh = False
        if kind == "refused":
            raise ImageRefused(f"the image search refused the picture: {payload}")
        if kind != "ok":
            raise ImageSearchFailed(f"the image search failed: {payload}")
        return Identified(payload, shares[0] if shares else {})

    # -- life cycle ---------------------------------------------------------------------------
    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe(duplex=True)
        process = context.Process(
            target=_serve,
            args=(child, self.config, self.plugins),
            name="reelpick-image-search",
            daemon=True,  # never outlive the front end
        )
        started = time.perf_counter()
        try:
            process.start()
        except OSError as exc:
            raise ImageSearchFailed(f"could not start the image search worker: {exc}") from exc
        child.close()  # only the child holds that end now: its death reads as EOF here
        self._process, self._conn, self._fresh = process, parent, True
        self.starts += 1
        log.info(
            "image search worker started (pid %s, plugins %s) in %.2f s",
            process.pid,
            ", ".join(self.plugins),
            time.perf_counter() - started,
        )

    def _kill(self, why: str) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is not None:
            log.warning("image search worker (pid %s) stopped: %s", process.pid, why)
            process.kill()
            process.join(5)
        if conn is not None:
            conn.close()

    def stop(self) -> None:
        """Stop the worker now (a later request starts a fresh one)."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is None:
            return
        try:
            if conn is not None:
                conn.send(("stop",))
        except OSError:
            pass
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join(5)
        if conn is not None:
            conn.close()
        log.info("image search worker (pid %s) stopped", process.pid)

    def close(self) -> None:
        """Stop the worker and refuse further requests (the front end is shutting down)."""
        self._cancel_idle_timer()
        with self._lock:
            self._closed = True
            self._stop_locked()

    def _schedule_idle_stop(self) -> None:
        if self.idle_seconds <= 0 or self._process is None:
            return
        timer = threading.Timer(self.idle_seconds, self._stop_if_idle)
        timer.daemon = True
        self._idle_timer = timer
        timer.start()

    def _cancel_idle_timer(self) -> None:
        timer, self._idle_timer = self._idle_timer, None
        if timer is not None:
            timer.cancel()

    def _stop_if_idle(self) -> None:
        # A request that started meanwhile holds the lock; it reschedules when it ends.
        if not self._lock.acquire(blocking=False):
            return
        try:
            if time.monotonic() - self._last_used >= self.idle_seconds * 0.99:
                log.info("image search idle for %.0f s", self.idle_seconds)
                self._stop_locked()
        finally:
            self._lock.release()


def _serve(conn: Connection, config: Config, plugins: list[str]) -> None:
    """The worker's main loop (runs in the child process)."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s image-search %(levelname)s %(name)s: %(message)s"
    )
    try:
        app = Reelpick.open(config, plugins=plugins)
    except Exception as exc:  # answer every request with the reason, rather than die silently
        log.exception("image search worker could not open the data")
        problem = f"{type(exc).__name__}: {exc}"
        app = None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the front end went away
            break
        if message[0] == "stop":
            break
        if app is None:
            conn.send(("error", problem))
            continue
        if message[0] == "similar":
            _, movie_id, k = message
            try:
                conn.send(("ok", [app.ask(name, movie_id, k) for name in plugins]))
            except ReelpickError as exc:  # a catalogue id stored nowhere (an old button)
                labels = {n: app.registry.plugins[n].info.label for n in plugins}
                conn.send(("ok", [PluginAnswer(n, labels[n], no_answer=str(exc)) for n in plugins]))
            except Exception as exc:
                log.exception("a new movie's poster comparison failed")
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
            continue
        _, image, k = message
        try:
            photo = config.settings.photo
            check_image(image, photo.max_bytes, photo.max_pixels)
        except BadImage as exc:
            conn.send(("refused", str(exc)))
            continue
        try:
            answers = [app.registry.ask_image(name, image, k) for name in plugins]
        except Exception as exc:
            log.exception("image search failed")
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
            continue
        try:
            shares = verify(app, image, answers)
        except Exception:  # the answer stands without the check: the judge then doubts it
            log.exception("checking the nearest posters failed")
            shares = {}
        conn.send(("ok", answers, shares))
    conn.close()
    os._exit(0)  # skip TensorFlow's slow and sometimes crashing interpreter teardown
