"""The bot's numbers: Prometheus metrics (``reelpick_*``) and whether its update loop is alive.

One :class:`BotMetrics` per bot, with its own ``CollectorRegistry`` (nothing is registered in
prometheus_client's global registry, so two bots in one process, or two tests, never share a
counter). ``build_application`` creates it (or takes the one ``reelpick bot`` created before
loading, so that ``/healthz`` answers "starting" meanwhile) and keeps it in
``services.metrics``. What it counts:

- ``reelpick_updates_total{kind}``: updates handled, by kind (message, callback_query, ...),
  counted by :class:`MeteredUpdates`, the application's update processor, when an update's
  handlers are done; ``reelpick_update_seconds`` the time that took;
- ``reelpick_handler_seconds{feature,handler}``: each handler callback's time
  (:func:`instrument_handlers` wraps every handler once all features registered);
- ``reelpick_plugin_errors_total{plugin,reason}``: plugin answers that were an error, a
  timeout or refused by the breaker (``services.ask``);
- ``reelpick_busy_refusals_total{reason}``: requests answered "busy" at once;
- gauges read when scraped, from sources the features register with :meth:`BotMetrics.track`:
  breaker state per plugin, open movie nights, the import queue; and the update loop's own
  ``reelpick_updates_pending`` and ``reelpick_ready``.

:class:`UpdateLoop` tells ``/healthz`` whether the bot is ready: the application runs, its
event loop answers, and no update has waited longer than ``bot.health_stuck_seconds``
without any update starting.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from telegram import Update
from telegram.ext import Application, BaseHandler, SimpleUpdateProcessor

PREFIX = "reelpick_"
# Seconds: answers are expected within a few hundred milliseconds, plugins time out at 10 s.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LOOP_PROBE_SECONDS = 2.0  # the event loop must run a no-op this fast to count as alive

Source = Callable[[], float | Mapping[str, float]]


def update_kind(update: object) -> str:
    """``message``, ``callback_query``, ``inline_query``... (the update's one payload)."""
    if isinstance(update, Update):
        for kind in Update.ALL_TYPES:
            if getattr(update, kind, None) is not None:
                return kind
    return "other"


class UpdateLoop:
    """Updates received, started and finished, and the event loop that runs them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received = 0
        self.started = 0
        self.finished = 0
        self._progress = time.monotonic()  # the last start, or the moment the first waited
        self.loop: asyncio.AbstractEventLoop | None = None
        self.running: Callable[[], bool] = lambda: False
        self.stopped = False  # the application shut its update processing down
        self.started_at = time.time()

    def received_one(self) -> None:
        with self._lock:
            if self.received == self.started:  # nothing was waiting: the clock starts now
                self._progress = time.monotonic()
            self.received += 1

    def started_one(self) -> None:
        with self._lock:
            self.started += 1
            self._progress = time.monotonic()

    def finished_one(self) -> None:
        with self._lock:
            self.finished += 1

    @property
    def pending(self) -> int:
        """Updates received and not yet started (waiting for a free slot)."""
        with self._lock:
            return max(0, self.received - self.started)

    def stalled_for(self, now: float | None = None) -> float:
        """Seconds updates have waited without any update starting (0 when none waits)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if self.received <= self.started:
                return 0.0
            return max(0.0, now - self._progress)

    def health(self, stuck_after: float, probe: bool = True) -> tuple[bool, str]:
        """(ready, why): for ``/healthz``. ``probe``: also check that the event loop runs a
        no-op soon (only from another thread than the loop's own)."""
        loop = self.loop
        if self.stopped:
            return False, "stopping"
        if loop is None or not self.running():
            return False, "starting"
        stalled = self.stalled_for()
        if stalled > stuck_after:
            return (
                False,
                f"stuck: {self.pending} update(s) waiting, none started for {stalled:.0f} s",
            )
        if not probe or _running_loop() is loop:  # the loop's own thread cannot wait for it
            return True, "ready"
        noop = asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop)
        try:
            noop.result(timeout=LOOP_PROBE_SECONDS)
        except (concurrent.futures.TimeoutError, RuntimeError):
            noop.cancel()
            return False, f"stuck: the event loop did not answer within {LOOP_PROBE_SECONDS:.0f} s"
        return True, "ready"


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class BotMetrics:
    """Every metric of one bot, in a registry of its own (:attr:`registry`)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.loop = UpdateLoop()
        self.stuck_after = 60.0
        self.updates = Counter(
            PREFIX + "updates",
            "Updates handled, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.update_seconds = Histogram(
            PREFIX + "update_seconds",
            "Time from an update's start to the end of its handlers",
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.handler_seconds = Histogram(
            PREFIX + "handler_seconds",
            "Time of one handler callback, by feature and handler",
            ["feature", "handler"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.plugin_errors = Counter(
            PREFIX + "plugin_errors",
            "Plugin answers that failed: error, timeout or refused (breaker)",
            ["plugin", "reason"],
            registry=self.registry,
        )
        self.busy_refusals = Counter(
            PREFIX + "busy_refusals",
            "Requests answered 'busy' at once: waiting line full or answer budget spent",
            ["reason"],
            registry=self.registry,
        )
        self._sources: dict[str, tuple[str, str | None, Source]] = {}
        self.registry.register(_Gauges(self))
        self.track("updates_pending", "Updates received and not yet started", self._pending)
        self.track("ready", "1 when /healthz answers ready", self._ready)

    def track(self, name: str, doc: str, source: Source, label: str | None = None) -> None:
        """A gauge ``reelpick_<name>`` read from ``source()`` at each scrape: a number, or a
        mapping of ``label`` values to numbers. A source that fails is left out of that scrape."""
        self._sources[name] = (doc, label, source)

    def value(self, name: str) -> float | Mapping[str, float] | None:
        """A tracked gauge's value now (None when its source failed or none is tracked)."""
        entry = self._sources.get(name)
        if entry is None:
            return None
        try:
            return entry[2]()
        except Exception:
            return None

    def health(self, probe: bool = True) -> tuple[bool, str]:
        """``/healthz``'s answer; ``probe=False`` from the event loop's own thread."""
        return self.loop.health(self.stuck_after, probe)

    def plugin_failed(self, plugin: str, reason: str) -> None:
        self.plugin_errors.labels(plugin=plugin, reason=reason).inc()

    def busy(self, reason: str) -> None:
        self.busy_refusals.labels(reason=reason).inc()

    def _pending(self) -> float:
        return self.loop.pending

    def _ready(self) -> float:
        return float(self.health()[0])

    def sources(self) -> Iterator[tuple[str, str, str | None, Source]]:
        for name, (doc, label, source) in list(self._sources.items()):
            yield name, doc, label, source

    def totals(self, metric: str) -> dict[tuple[str, ...], float]:
        """A counter's current values by label values: ``totals("updates")`` ->
        ``{("message",): 12.0, ...}``; a histogram's ``_count`` for ``update_seconds`` etc."""
        found: dict[tuple[str, ...], float] = {}
        for family in self._families(metric):
            for sample in family.samples:
                if sample.name in (family.name + "_total", family.name + "_count"):
                    found[tuple(sample.labels.values())] = sample.value
        return found

    def quantile(self, metric: str, q: float) -> float | None:
        """The upper bound of the bucket holding quantile ``q`` of a histogram over every
        label (None before any observation; inf past the last bucket)."""
        counts: dict[float, float] = {}
        for family in self._families(metric):
            for sample in family.samples:
                if sample.name.endswith("_bucket"):
                    bound = float(sample.labels["le"])
                    counts[bound] = counts.get(bound, 0.0) + sample.value
        if not counts or counts.get(float("inf"), 0.0) == 0:
            return None
        total = counts[float("inf")]
        return next(b for b in sorted(counts) if counts[b] >= q * total)

    def _families(self, metric: str) -> list[Metric]:
        """The families of one counter or histogram (``updates``, ``update_seconds``...),
        without reading the tracked gauges (a scrape of the whole registry would)."""
        owned = {
            "updates": self.updates,
            "update_seconds": self.update_seconds,
            "handler_seconds": self.handler_seconds,
            "plugin_errors": self.plugin_errors,
            "busy_refusals": self.busy_refusals,
        }
        return list(owned[metric].collect())


class _Gauges(Collector):
    """The tracked gauges, read at each scrape."""

    def __init__(self, metrics: BotMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        for name, doc, label, source in self.metrics.sources():
            try:
                value = source()
            except Exception:  # one broken source must not take the others down
                continue
            if isinstance(value, Mapping):
                family = GaugeMetricFamily(PREFIX + name, doc, labels=[label or "name"])
                for key, number in sorted(value.items()):
                    family.add_metric([str(key)], float(number))
            else:
                family = GaugeMetricFamily(PREFIX + name, doc, value=float(value))
            yield family

    def describe(self) -> Iterator[Metric]:
        return iter(())  # gauges come and go with the features that track them


class CountingQueue(asyncio.Queue[object]):
    """The application's update queue, counting each update it receives."""

    def __init__(self, loop_state: UpdateLoop) -> None:
        super().__init__()
        self.loop_state = loop_state

    def put_nowait(self, item: object) -> None:
        super().put_nowait(item)
        if isinstance(item, Update):  # not PTB's stop signal
            self.loop_state.received_one()


class MeteredUpdates(SimpleUpdateProcessor):
    """PTB's update processor (``concurrent_updates`` at once), timing and counting each
    update and telling :class:`UpdateLoop` when one starts."""

    def __init__(self, max_concurrent_updates: int, metrics: BotMetrics) -> None:
        super().__init__(max_concurrent_updates)
        self.metrics = metrics

    async def do_process_update(self, update: object, coroutine: Any) -> None:
        loop = self.metrics.loop
        loop.started_one()
        began = time.perf_counter()
        try:
            await coroutine
        finally:
            self.metrics.update_seconds.observe(time.perf_counter() - began)
            self.metrics.updates.labels(kind=update_kind(update)).inc()
            loop.finished_one()

    async def initialize(self) -> None:
        self.metrics.loop.loop = asyncio.get_running_loop()

    async def shutdown(self) -> None:
        self.metrics.loop.loop = None
        self.metrics.loop.stopped = True


def instrument_handlers(
    application: Application[Any, Any, Any, Any, Any, Any], metrics: BotMetrics
) -> None:
    """Time every handler's callback (``reelpick_handler_seconds{feature,handler}``); call
    once, after every feature has added its handlers."""
    for handlers in application.handlers.values():
        for handler in handlers:
            _instrument(handler, metrics)


def _instrument(handler: BaseHandler[Any, Any, Any], metrics: BotMetrics) -> None:
    callback = getattr(handler, "callback", None)
    if callback is None or getattr(callback, "_reelpick_timed", False):
        return
    feature, name = handler_label(callback)
    histogram = metrics.handler_seconds.labels(feature=feature, handler=name)

    @functools.wraps(callback)
    async def timed(update: object, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return await callback(update, context)
        finally:
            histogram.observe(time.perf_counter() - began)

    timed._reelpick_timed = True  # type: ignore[attr-defined]
    handler.callback = timed


def handler_label(callback: Callable[..., Any]) -> tuple[str, str]:
    """(feature, handler) of a callback: its module under ``reelpick.bot`` and its name,
    looking through ``functools.wraps`` wrappers and partials to the function written."""
    inner: Any = callback
    for _ in range(10):
        if isinstance(inner, functools.partial):
            inner = inner.func
        elif hasattr(inner, "__wrapped__"):
            inner = inner.__wrapped__
        else:
            break
    module = getattr(inner, "__module__", None) or "unknown"
    module = module.removeprefix("reelpick.bot.")
    name = getattr(inner, "__qualname__", None) or type(inner).__name__
    return module, name.replace(".<locals>", "")
