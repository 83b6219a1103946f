"""``/healthz`` and ``/metrics`` over HTTP, on one port (``bot.health`` or ``REELPICK_HEALTH``).

``reelpick bot`` starts :class:`HealthServer` before it loads data and plugins, so a service
manager or a load balancer sees "starting" (503) until the bot takes updates, then "ready"
(200) while its update loop works, and 503 again when it is stuck
(:meth:`~reelpick.bot.metrics.UpdateLoop.health`). ``/metrics`` is Prometheus's text format,
from the bot's own registry (:class:`~reelpick.bot.metrics.BotMetrics`). A small threaded
server from the standard library: a scrape never waits for the bot's event loop, so it also
answers when that loop is stuck. Loopback only unless ``bot.health_public`` (settings check).
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from reelpick.errors import ConfigError
from reelpick.settings import BotSettings, health_address

from .metrics import BotMetrics

log = logging.getLogger(__name__)


class HealthServer:
    """A thread serving ``GET /healthz`` and ``GET /metrics`` for ``metrics``."""

    def __init__(self, host: str, port: int, metrics: BotMetrics) -> None:
        self.metrics = metrics
        handler = type("Handler", (_Handler,), {"metrics": metrics})
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="reelpick-health", daemon=True
        )

    @classmethod
    def for_settings(cls, section: BotSettings, metrics: BotMetrics) -> HealthServer | None:
        """Started on ``section.health`` (checked by the settings); None when it is blank."""
        metrics.stuck_after = section.health_stuck_seconds
        if not section.health:
            return None
        host, port = health_address(section.health)
        try:
            server = cls(host, port, metrics)
        except OSError as exc:
            raise ConfigError(
                f"[bot] health: cannot listen on {host}:{port}: {exc.strerror}"
            ) from None
        server.thread.start()
        log.info("health and metrics on http://%s:%d/healthz and /metrics", host, server.port)
        return server

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    metrics: BotMetrics
    server_version = "reelpick"

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            ready, why = self.metrics.health()
            self._send(200 if ready else 503, (why + "\n").encode(), "text/plain; charset=utf-8")
        elif path == "/metrics":
            self._send(200, generate_latest(self.metrics.registry), CONTENT_TYPE_LATEST)
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        log.debug("health: " + format, *args)
