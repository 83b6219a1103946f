"""The photo feature's state: the image-search worker, who is waiting, and recent results.

One :class:`PhotoService` per bot, the feature's state in ``BotServices.features``. TensorFlow never
enters the bot: :class:`~reelpick.imagesearch.ImageSearchWorker` runs the plugins'
``reelpick_similar_image`` in a child process, started on the first photo and stopped when
idle. Requests go to it one at a time from a single thread of our own, so a queue of photos
never takes the threads that title searches and posters use.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from reelpick.app import Reelpick
from reelpick.config import Config
from reelpick.imagesearch import Identified, ImageSearchFailed, ImageSearchWorker

from .judge import Thresholds, Verdict

RESULTS_PER_CHAT = 8  # photos whose buttons still work, per chat
CHATS_REMEMBERED = 10_000


@dataclass(frozen=True)
class PhotoResult:
    """What a photo's buttons may ask for: only these movies, only in this chat."""

    verdict: Verdict


class PhotoService:
    def __init__(self, config: Config, worker: ImageSearchWorker | None = None) -> None:
        """``worker``: an image-search worker owned by the caller (tests share one between
        bots; it is left running at close). By default one is made on the first photo."""
        section = config.settings.photo
        self.config = config
        self.max_bytes = section.max_bytes
        self.max_pixels = section.max_pixels
        self.idle_seconds = section.idle_seconds
        self.timeout = section.timeout
        self.start_timeout = section.start_timeout
        self.thresholds = Thresholds(section.confident_share, section.candidate_score)
        self.worker: ImageSearchWorker | None = worker
        self._owns_worker = worker is None
        self.busy: set[int] = set()  # chats whose photo is being looked at
        self.busy_people: set[int] = set()  # senders (scheduling.sender_key) of those photos
        self.waiting = max(1, section.waiting)  # photos at once, in every chat together
        self._results: OrderedDict[int, OrderedDict[str, PhotoResult]] = OrderedDict()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reelpick-photo")

    def searchers(self, app: Reelpick) -> list[str]:
        """Fitted plugins that find movies by a picture (their tables are cached, so the
        worker only loads them)."""
        registry = app.registry
        return [n for n in registry.image_searchers() if registry.plugins[n].fitted]

    async def search(self, app: Reelpick, image: bytes, k: int) -> Identified:
        """Each image plugin's nearest posters and the matching shares of the nearest few;
        raises ImageSearchFailed (worker died, hung)."""
        names = self.searchers(app)
        if not names:
            raise LookupError("no plugin finds movies by a picture")
        if self.worker is None or (self._owns_worker and self.worker.plugins != names):
            if self.worker is not None:  # /reload changed which plugins search pictures
                self.worker.close()
            self.worker = ImageSearchWorker(
                self.config,
                names,
                idle_seconds=self.idle_seconds,
                timeout=self.timeout,
                start_timeout=self.start_timeout,
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.worker.identify, image, k)

    def line_full(self) -> bool:
        """Whether as many photos as ``[photo] waiting`` are being looked at or queued."""
        return len(self.busy) >= self.waiting

    def remember(self, chat_id: int, verdict: Verdict) -> str:
        """Keep ``verdict`` for this chat's buttons; returns the token they carry."""
        token = secrets.token_hex(4)
        kept = self._results.setdefault(chat_id, OrderedDict())
        kept[token] = PhotoResult(verdict)
        while len(kept) > RESULTS_PER_CHAT:
            kept.popitem(last=False)
        self._results.move_to_end(chat_id)
        while len(self._results) > CHATS_REMEMBERED:
            self._results.popitem(last=False)
        return token

    def recall(self, chat_id: int, token: str) -> PhotoResult | None:
        """The result a button of this chat refers to (another chat's tokens find nothing)."""
        kept = self._results.get(chat_id)
        return kept.get(token) if kept is not None else None

    def close(self) -> None:
        if self.worker is not None and self._owns_worker:
            self.worker.close()
        self._pool.shutdown(wait=False, cancel_futures=True)


__all__ = ["ImageSearchFailed", "PhotoResult", "PhotoService"]
