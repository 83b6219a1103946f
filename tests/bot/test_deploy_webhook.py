"""``reelpick bot`` in webhook mode behind a real nginx with TLS, as docs/deploy.md runs it.

One bot process and one nginx for the module (both on 127.0.0.1): nginx terminates TLS with a
self-signed certificate and proxies the webhook path to the bot; updates are posted through
nginx over HTTPS with Telegram's secret-token header. The bot also serves ``/healthz`` and
``/metrics`` (``bot.health``) and has an owner for ``/stats``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.bot_api import BotAPIServer
from tests.support.fixtures import ML_SMALL, POSTERS
from tests.support.webhook_proxy import (
    Nginx,
    WebhookPoster,
    free_ports,
    message_update,
    nginx_binary,
)

pytestmark = pytest.mark.timeout(180)

OWNER = 4242


@dataclass
class Deployment:
    server: BotAPIServer
    nginx: Nginx
    poster: WebhookPoster
    health: str  # http://127.0.0.1:PORT
    secret: str
    process: subprocess.Popen[bytes]
    log: Path
    next_update: int = 500_000

    def update(self, chat_id: int, text: str) -> dict:
        self.next_update += 1
        return message_update(self.server, self.next_update, chat_id, text)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.health + path, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except urllib.error.URLError as exc:  # not listening (yet, or any more)
            return 0, str(exc.reason)

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples ``name`` with ``labels`` in /metrics (0 when none)."""
        _, text = self.get("/metrics")
        total = 0.0
        for line in text.splitlines():
            if line.startswith("#") or not line.startswith(name):
                continue
            sample, _, value = line.rpartition(" ")
            found = dict(re.findall(r'(\w+)="([^"]*)"', sample))
            if sample.split("{")[0] == name and all(found.get(k) == v for k, v in labels.items()):
                total += float(value)
        return total


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    nginx_binary()  # skip (or fail under CI) before starting anything
    folder = tmp_path_factory.mktemp("deploy")
    bot_port, health_port, nginx_port = free_ports(3)
    nginx = Nginx(folder / "nginx", bot_port, nginx_port)
    config = folder / "config.toml"
    config.write_text(
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{folder / "cache"}"\n'
        f'[state]\ndir = "{folder / "state"}"\n'
        '[plugins]\nenabled = ["cosine-cf"]\n'
        f'[posters]\ndir = "{POSTERS}"\n'
        f'[bot]\nmode = "webhook"\nwebhook_url = "{nginx.url}"\nwebhook_listen = "127.0.0.1"\n'
        f"webhook_port = {bot_port}\nowner = {OWNER}\n"
    )
    with BotAPIServer() as server:
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": server.token,
            "REELPICK_TELEGRAM_BASE_URL": server.base_url,
            "REELPICK_TELEGRAM_BASE_FILE_URL": server.base_file_url,
            "REELPICK_HEALTH": f"127.0.0.1:{health_port}",  # the environment's way
        }
        log = folder / "bot.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "reelpick", "-v", "--config", str(config), "bot"],
            stdout=open(log, "wb"),  # noqa: SIM115 (kept by Popen)
            stderr=subprocess.STDOUT,
            env=env,
        )
        deployment = None
        try:
            nginx.start()

            def webhook_set() -> bool:
                if process.poll() is not None:
                    tail = log.read_text(errors="replace")[-3000:]
                    raise AssertionError(f"bot exited with {process.returncode}:\n{tail}")
                return bool(server.webhook["url"] == nginx.url)

            server.wait_for_sync(webhook_set, timeout=120)
            deployment = Deployment(
                server,
                nginx,
                WebhookPoster(nginx),
                f"http://127.0.0.1:{health_port}",
                server.webhook["secret_token"],
                process,
                log,
            )
            server.wait_for_sync(lambda: deployment.get("/healthz")[0] == 200, timeout=60)
            yield deployment
        finally:
            if deployment is not None:
                deployment.poster.close()
            process.send_signal(signal.SIGINT)
            try:
                code = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
            nginx.stop()
        assert code == 0, log.read_text(errors="replace")[-3000:]


def answered(server: BotAPIServer, chat_id: int) -> bool:
    return any(r.ok for r in server.calls(None, chat_id) if r.method.startswith("send"))


def test_health_is_ready_and_metrics_name_every_part(deployment: Deployment) -> None:
    status, text = deployment.get("/healthz")
    assert (status, text) == (200, "ready\n")
    _, metrics = deployment.get("/metrics")
    for name in (
        "reelpick_updates_pending",
        "reelpick_ready",
        "reelpick_open_movie_nights",
        "reelpick_import_queue_length",
        "reelpick_update_seconds_bucket",
    ):
        assert name in metrics
    assert deployment.metric("reelpick_plugin_breaker_state", plugin="cosine-cf") == 0
    assert deployment.metric("reelpick_ready") == 1
    assert deployment.get("/nothing")[0] == 404


def test_right_secret_through_nginx_is_handled_and_answered(deployment: Deployment) -> None:
    before = deployment.metric("reelpick_updates_total", kind="message")
    chat = 7001
    assert deployment.poster.post(deployment.update(chat, "Heat"), deployment.secret) == 200
    deployment.server.wait_for_sync(
        lambda: any(r.ok for r in deployment.server.calls("sendMediaGroup", chat)), timeout=60
    )
    deployment.server.wait_for_sync(
        lambda: deployment.metric("reelpick_updates_total", kind="message") == before + 1,
        timeout=30,
    )
    deployment.server.wait_for_sync(
        lambda: deployment.metric("reelpick_handler_seconds_count", feature="titles") >= 1,
        timeout=30,
    )
    statuses = [fields[4] for fields in deployment.nginx.access_log()]
    assert "200" in statuses


def test_wrong_or_missing_secret_is_refused_and_not_handled(deployment: Deployment) -> None:
    before = deployment.metric("reelpick_updates_total", kind="message")
    forged_chat, missing_chat, real_chat = 7101, 7102, 7103
    forged = deployment.update(forged_chat, "Heat")
    assert deployment.poster.post(forged, deployment.secret[::-1]) == 403
    assert deployment.poster.post(deployment.update(missing_chat, "Heat"), None) == 403
    # An update with the right secret after them: once it is answered, the refused ones
    # would have been handled too.
    assert deployment.poster.post(deployment.update(real_chat, "/help"), deployment.secret) == 200
    deployment.server.wait_for_sync(lambda: answered(deployment.server, real_chat), timeout=30)
    deployment.server.wait_for_sync(
        lambda: deployment.metric("reelpick_updates_total", kind="message") == before + 1,
        timeout=30,
    )
    assert not answered(deployment.server, forged_chat)
    assert not answered(deployment.server, missing_chat)
    assert [f[4] for f in deployment.nginx.access_log()].count("403") >= 2
    assert deployment.secret not in deployment.log.read_text(errors="replace")


def test_stats_answers_the_owner_only(deployment: Deployment) -> None:
    server = deployment.server
    assert deployment.poster.post(deployment.update(OWNER, "/stats"), deployment.secret) == 200
    server.wait_for_sync(lambda: answered(server, OWNER), timeout=30)
    stats = server.sent(OWNER)[-1]["text"]
    handled = int(deployment.metric("reelpick_updates_total", kind="message"))
    assert re.search(r"Updates handled: [\d,]+ \(message [\d,]+", stats), stats
    assert int(re.search(r"message ([\d,]+)", stats)[1].replace(",", "")) <= handled  # type: ignore[index]
    assert "Paused plugins: none" in stats and "Open movie nights: 0" in stats
    stranger = 7201
    assert deployment.poster.post(deployment.update(stranger, "/stats"), deployment.secret) == 200
    server.wait_for_sync(lambda: answered(server, stranger), timeout=30)
    assert "I don't know that command" in server.sent(stranger)[-1]["text"]
