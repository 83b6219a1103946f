"""The photo feature's state: who is waiting, and recent results.

One :class:`PhotoService` per bot, the feature's state in ``BotServices.features``. The
pictures themselves are compared by the bot's image worker (``BotServices.pictures``,
:class:`~reelpick.bot.pictures.PictureWorker`): TensorFlow never enters the bot.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass

from reelpick.config import Config
from reelpick.imagesearch import ImageSearchFailed

from .judge import Thresholds, Verdict

RESULTS_PER_CHAT = 8  # photos whose buttons still work, per chat
CHATS_REMEMBERED = 10_000


@dataclass(frozen=True)
class PhotoResult:
    """What a photo's buttons may ask for: only these movies, only in this chat."""

    verdict: Verdict


class PhotoService:
    def __init__(self, config: Config) -> None:
        section = config.settings.photo
        self.config = config
        self.max_bytes = section.max_bytes
        self.max_pixels = section.max_pixels
        self.thresholds = Thresholds(section.confident_share, section.candidate_score)
        self.busy: set[int] = set()  # chats whose photo is being looked at
        self.busy_people: set[int] = set()  # senders (scheduling.sender_key) of those photos
        self.waiting = max(1, section.waiting)  # photos at once, in every chat together
        self._results: OrderedDict[int, OrderedDict[str, PhotoResult]] = OrderedDict()

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


__all__ = ["ImageSearchFailed", "PhotoResult", "PhotoService"]
