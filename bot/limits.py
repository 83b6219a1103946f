"""Rate limits in both directions.

- :class:`ChatLimiter`: how many requests one chat may make per minute (against spam).
- :class:`RetryingRateLimiter`: python-telegram-bot's :class:`AIORateLimiter` (Telegram's flood
  limits: ~30 messages/s overall, 20/min per group; waits ``retry_after`` on 429), about one
  message per second per private chat after a short burst, and retries with backoff for 5xx
  answers and network errors, which PTB does not retry by itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from enum import StrEnum
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import AIORateLimiter

from reelpick.redact import redact

log = logging.getLogger(__name__)

# Methods that put a message in a chat (and so count against Telegram's per-chat limit).
MESSAGE_ENDPOINTS = ("send", "copyMessage", "forwardMessage")


class LimitVerdict(StrEnum):
    """What :meth:`ChatLimiter.check` says about one more request."""

    OK = "ok"
    WARN = "warn"  # the first refusal: tell the person once
    DROP = "drop"  # refused again within the same window: stay silent


class ChatLimiter:
    """Sliding one-minute window of accepted requests per chat (see :class:`LimitVerdict`)."""

    def __init__(self, per_minute: int, window: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window = window
        self._seen: dict[int, deque[float]] = {}
        self._warned: dict[int, float] = {}

    def check(self, chat_id: int, now: float | None = None) -> LimitVerdict:
        if self.per_minute <= 0:
            return LimitVerdict.OK
        now = time.monotonic() if now is None else now
        if len(self._seen) > 10_000:
            self.forget_idle(now)
        seen = self._seen.setdefault(chat_id, deque())
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        if len(seen) < self.per_minute:
            seen.append(now)
            self._warned.pop(chat_id, None)
            return LimitVerdict.OK
        if chat_id in self._warned:
            return LimitVerdict.DROP
        self._warned[chat_id] = now
        return LimitVerdict.WARN

    def wait_seconds(self, chat_id: int, now: float | None = None) -> float:
        """How long until ``chat_id`` may ask again."""
        now = time.monotonic() if now is None else now
        seen = self._seen.get(chat_id)
        return max(0.0, seen[0] + self.window - now) if seen else 0.0

    def forget_idle(self, now: float | None = None) -> None:
        """Drop chats with no request in the window (keeps memory flat over months)."""
        now = time.monotonic() if now is None else now
        for chat_id in [c for c, s in self._seen.items() if not s or s[-1] <= now - self.window]:
            self._seen.pop(chat_id, None)
            self._warned.pop(chat_id, None)


class RetryingRateLimiter(AIORateLimiter):
    """AIORateLimiter plus pacing of private chats and retries of 5xx and network errors.

    Private chats: about one message per second, after a burst of ``chat_burst`` messages
    (one whole answer: header and albums go out at once). Groups get AIORateLimiter's
    ``group_max_rate`` per minute; the whole bot ``overall_max_rate`` per second.
    """

    def __init__(
        self,
        overall_max_rate: float = 30,
        group_max_rate: float = 20,
        retries: int = 3,
        backoff: float = 0.5,
        chat_rate: float = 1.0,
        chat_burst: int = 5,
    ) -> None:
        super().__init__(
            overall_max_rate=overall_max_rate,
            group_max_rate=group_max_rate,
            max_retries=retries,
        )
        self.retries = retries
        self.backoff = backoff
        self.chat_rate = chat_rate
        self.chat_burst = chat_burst
        self._chat_limiters: dict[int, AsyncLimiter] = {}

    def _chat_limiter(self, endpoint: str, data: dict[str, Any]) -> AsyncLimiter | None:
        """The pacing limiter for a message to a private chat (positive chat id), else None."""
        if self.chat_rate <= 0 or not endpoint.startswith(MESSAGE_ENDPOINTS):
            return None
        if endpoint == "sendChatAction":
            return None
        raw = data.get("chat_id")
        if raw is None:
            return None
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            return None
        if chat_id <= 0:
            return None
        if len(self._chat_limiters) > 1024:  # forget chats whose bucket is full again
            for key, limiter in list(self._chat_limiters.items()):
                if limiter.has_capacity(limiter.max_rate):
                    del self._chat_limiters[key]
        if chat_id not in self._chat_limiters:
            self._chat_limiters[chat_id] = AsyncLimiter(
                self.chat_burst, self.chat_burst / self.chat_rate
            )
        return self._chat_limiters[chat_id]

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        pacing = self._chat_limiter(endpoint, data)
        if pacing is not None:
            await pacing.acquire()
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except RetryAfter:
                raise  # the parent already waited and retried as often as allowed
            except BadRequest:
                raise  # Telegram refused the request itself: sending it again cannot help
            except NetworkError as exc:  # 5xx, timeouts, refused or dropped connections
                if attempt == self.retries:
                    raise
                log.warning(
                    "Telegram %s failed (%s); retry %d/%d in %.1f s",
                    endpoint,
                    redact(exc),
                    attempt + 1,
                    self.retries,
                    delay,
                )
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")
