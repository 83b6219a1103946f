"""Keep one slow plugin from taking every answer down with it.

A Python thread cannot be stopped, so a plugin call that runs past the time budget keeps its
worker thread busy until it returns, maybe never. Two limits keep other plugins answering:

- at most ``max_running`` calls of one plugin run at a time; more are refused at once;
- a circuit breaker per plugin: after ``failures`` timeouts in a row the plugin is not asked
  for ``pause`` seconds (one log line); then a single trial call is let through (half-open):
  an answer in time closes the breaker again, another timeout pauses it once more.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class _State:
    timeouts: int = 0  # in a row
    paused_at: float | None = None  # None: closed
    trial: bool = False  # a half-open trial call is running
    running: int = 0  # calls in worker threads now (finished or not, as far as asyncio knows)


class PluginBreaker:
    """Whether to ask a plugin now, and what happened when we did. Thread-safe."""

    def __init__(self, failures: int = 3, pause: float = 60.0, max_running: int = 4) -> None:
        self.failures = max(1, failures)
        self.pause = pause
        self.max_running = max(1, max_running)
        self._states: dict[str, _State] = {}
        self._lock = threading.Lock()

    def acquire(self, name: str, now: float | None = None) -> str | None:
        """None when ``name`` may be called now (call :meth:`release` when its thread ends),
        else why not, in words for the log."""
        now = time.monotonic() if now is None else now
        with self._lock:
            state = self._states.setdefault(name, _State())
            if state.paused_at is not None:
                if state.trial or now - state.paused_at < self.pause:
                    return "paused after repeated timeouts"
                state.trial = True  # half-open: one call finds out whether it is back
                log.info("plugin %s: trying again after a %.0f s pause", name, self.pause)
            if state.running >= self.max_running:
                if state.trial:
                    state.trial = False
                return f"{state.running} calls still running"
            state.running += 1
            return None

    def release(self, name: str) -> None:
        """The worker thread of one call has returned (possibly long after its timeout)."""
        with self._lock:
            self._states[name].running -= 1

    def succeeded(self, name: str) -> None:
        with self._lock:
            state = self._states.setdefault(name, _State())
            if state.paused_at is not None:
                log.warning("plugin %s answers in time again; asking it again", name)
            state.timeouts, state.paused_at, state.trial = 0, None, False

    def timed_out(self, name: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            state = self._states.setdefault(name, _State())
            state.timeouts += 1
            if state.trial or (state.paused_at is None and state.timeouts >= self.failures):
                log.warning(
                    "plugin %s timed out %d time(s) in a row; not asking it for %.0f s",
                    name,
                    state.timeouts,
                    self.pause,
                )
                state.paused_at, state.trial = now, False

    def state(self, name: str) -> int:
        """0 closed (asked), 1 open (paused), 2 half-open (one trial call): for the metrics."""
        with self._lock:
            state = self._states.get(name)
            if state is None or state.paused_at is None:
                return 0
            return 2 if state.trial else 1

    def is_paused(self, name: str) -> bool:
        with self._lock:
            state = self._states.get(name)
            return state is not None and state.paused_at is not None
