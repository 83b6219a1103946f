"""The bot's one image worker: TensorFlow never enters the bot process.

:class:`PictureWorker` (``BotServices.pictures``) hands work that needs a picture model to
:class:`~reelpick.imagesearch.ImageSearchWorker`, a child process started on first use and
stopped when idle: photos (the photo feature) and the poster comparisons of a film newer
than the rating data (``BotServices.ask`` for a catalogue movie). Requests go to it one at
a time from a single thread of our own, so a queue of them never takes the threads that
title searches, plugins and posters use.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from reelpick.app import Reelpick
from reelpick.config import Config
from reelpick.imagesearch import Identified, ImageSearchWorker
from reelpick.types import PluginAnswer


class PictureWorker:
    def __init__(self, config: Config, worker: ImageSearchWorker | None = None) -> None:
        """``worker``: an image-search worker owned by the caller (tests share one between
        bots; it is left running at close). By default one is made on first use."""
        section = config.settings.photo
        self.config = config
        self.idle_seconds = section.idle_seconds
        self.timeout = section.timeout
        self.start_timeout = section.start_timeout
        self.worker: ImageSearchWorker | None = worker
        self._owns_worker = worker is None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reelpick-picture")

    def searchers(self, app: Reelpick) -> list[str]:
        """Fitted plugins that compare pictures (their tables are cached, so the worker only
        loads them)."""
        registry = app.registry
        return [n for n in registry.image_searchers() if registry.plugins[n].fitted]

    async def identify(self, app: Reelpick, image: bytes, k: int) -> Identified:
        """Each picture plugin's nearest posters to ``image`` and the matching shares of the
        nearest few; raises ImageSearchFailed (worker died, hung) or LookupError (no plugin
        compares pictures)."""
        worker = self._worker(app)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, worker.identify, image, k)

    async def similar(self, app: Reelpick, name: str, movie_id: int, k: int) -> PluginAnswer:
        """Picture plugin ``name``'s ``k`` movies similar to catalogue movie ``movie_id``,
        its new poster compared in the worker; raises ImageSearchFailed."""
        worker = self._worker(app)
        loop = asyncio.get_running_loop()
        answers = await loop.run_in_executor(self._pool, worker.similar, movie_id, k)
        found = next((a for a in answers if a.plugin == name), None)
        if found is None:
            raise LookupError(f"the image worker does not run {name}")
        return found

    def _worker(self, app: Reelpick) -> ImageSearchWorker:
        names = self.searchers(app)
        if not names:
            raise LookupError("no plugin compares pictures")
        if self.worker is None or (self._owns_worker and self.worker.plugins != names):
            if self.worker is not None:  # /reload changed which plugins compare pictures
                self.worker.close()
            self.worker = ImageSearchWorker(
                self.config,
                names,
                idle_seconds=self.idle_seconds,
                timeout=self.timeout,
                start_timeout=self.start_timeout,
            )
        return self.worker

    def restart(self) -> None:
        """Stop our worker (after /reload: it holds the old fits); the next request starts a
        fresh one. Blocks until a request in hand is answered: call it in a thread."""
        if self.worker is not None and self._owns_worker:
            self.worker.close()
            self.worker = None

    def close(self) -> None:
        if self.worker is not None and self._owns_worker:
            self.worker.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
