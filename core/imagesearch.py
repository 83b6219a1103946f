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

Protocol (pickled tuples over a ``multiprocessing`` pipe): parent sends
``("search", image, k)``, child answers ``("ok", [PluginAnswer, ...])``, ``("refused",
text)`` (the picture is over a ``[photo]`` limit, raised as :class:`ImageRefused`) or
``("error", text)``; ``("stop",)`` or a closed pipe ends the child.

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
from multiprocessing.connection import Connection
from pathlib import Path

from .app import Reelpick
from .config import Config
from .posters.images import BadImage, check_image
from .types import PluginAnswer

log = logging.getLogger(__name__)


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
        """Each plugin's movies whose posters look like ``image``; blocks until answered.

        Raises :class:`ImageSearchFailed` when the worker dies, hangs past the timeout (it is
        then killed) or cannot start; the next call starts a new worker.
        """
        with self._lock:
            if self._closed:
                raise ImageSearchFailed("the image search is shut down")
            self._cancel_idle_timer()
            try:
                return self._request(image, k)
            finally:
                self._busy = False
                self._last_used = time.monotonic()
                self._schedule_idle_stop()

    def _request(self, image: bytes, k: int) -> list[PluginAnswer]:
        if self._process is None or not self._process.is_alive():
            self._start()
        assert self._conn is not None and self._process is not None
        limit = self.start_timeout if self._fresh else self.timeout
        self._busy = True
        try:
            self._conn.send(("search", bytes(image), int(k)))
            deadline = time.monotonic() + limit
            # Poll in short steps: a dead worker closes its end (EOFError on recv), but a
            # worker that hangs must be noticed by the clock.
            while not self._conn.poll(0.2):
                if not self._process.is_alive():
                    raise EOFError
                if time.monotonic() > deadline:
                    self._kill(f"no answer within {limit:.0f} s")
                    raise ImageSearchFailed(f"the image search gave no answer within {limit:.0f} s")
            kind, payload = self._conn.recv()
        except (EOFError, OSError) as exc:
            code = self._process.exitcode if self._process is not None else None
            self._kill(f"it died ({type(exc).__name__}, exit code {code})")
            raise ImageSearchFailed("the image search worker stopped mid-request") from None
        self._fresh = False
        if kind == "refused":
            raise ImageRefused(f"the image search refused the picture: {payload}")
        if kind != "ok":
            raise ImageSearchFailed(f"the image search failed: {payload}")
        answers: list[PluginAnswer] = payload
        return answers

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
        _, image, k = message
        if app is None:
            conn.send(("error", problem))
            continue
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
        conn.send(("ok", answers))
    conn.close()
    os._exit(0)  # skip TensorFlow's slow and sometimes crashing interpreter teardown
