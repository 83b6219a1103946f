"""The bot's webhook behind a real nginx with TLS, on 127.0.0.1, for tests and the bench.

:class:`Nginx` runs the system's nginx in the foreground with its own prefix and config in a
temporary folder: ``listen 127.0.0.1:<port> ssl`` with a self-signed certificate made by
``openssl`` (:func:`self_signed`), the site of ``deploy/nginx-reelpick.conf`` proxying to the
bot's webhook port (:func:`site`), and an access
log with ``$request_time``. :func:`message_update` builds a message update the way the Bot
API stand-in would, and :class:`WebhookPoster` posts updates to the webhook over HTTPS with
Telegram's ``X-Telegram-Bot-Api-Secret-Token`` header, on kept-alive connections.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.bot_api import BotAPIServer

HOOK_PATH = "/reelpick-hook"


def nginx_binary() -> str:
    """The nginx executable; skipped without one, a failure under CI (CI must install it)."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if found is None:
        message = "nginx not found: install it (Debian: apt-get install -y nginx)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def http_get(url: str) -> tuple[int, str]:
    """Status and body of a plain GET (the bot's /healthz and /metrics), errors included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def free_ports(count: int) -> list[int]:
    """``count`` different free ports on 127.0.0.1 for a server that another process binds.

    Where the system says which ports it numbers itself (Linux: every bind to port 0 and every
    outgoing connection takes one from ``ip_local_port_range``), the ports come from below
    that range: a port probed and released there stays free until someone names it, while one
    from the range may be handed to another test's connection before the server binds it.
    All are probed at once, so they differ."""
    low = _ephemeral_low()
    pool = range(max(1024, low // 2), low) if low else None
    pick = random.SystemRandom()
    for _ in range(100):
        wanted = pick.sample(pool, count) if pool else [0] * count
        probes = [socket.socket() for _ in range(count)]
        try:
            for probe, port in zip(probes, wanted, strict=True):
                probe.bind(("127.0.0.1", port))
            return [int(probe.getsockname()[1]) for probe in probes]
        except OSError:
            continue  # one of them is taken: draw again
        finally:
            for probe in probes:
                probe.close()
    raise AssertionError(f"no {count} free ports found on 127.0.0.1")


def _ephemeral_low() -> int | None:
    """The first port of the system's own range, or None where it does not say (not Linux)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return low if low >= 4096 else None


def self_signed(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, made by openssl in ``folder``."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


CONFIG = """\
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    log_format timed '$remote_addr "$request" $status $request_time $upstream_response_time';
    access_log {folder}/access.log timed;
{site}
}}
"""

SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx-reelpick.conf"


def site(bot_port: int, port: int, cert: Path, key: Path) -> str:
    """deploy/nginx-reelpick.conf with this run's ports and certificate, on 127.0.0.1 only."""
    text = SITE.read_text()
    for old, new in (
        ("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"),
        ("listen [::]:443 ssl;", ""),
        ("server_name bot.example.org;", "server_name 127.0.0.1;"),
        ("/etc/letsencrypt/live/bot.example.org/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/bot.example.org/privkey.pem", str(key)),
        ("server 127.0.0.1:8443;", f"server 127.0.0.1:{bot_port};"),
        (f"location = {HOOK_PATH} ", f"location = {HOOK_PATH} "),
    ):
        assert old in text, f"{SITE.name} no longer has {old!r}"
        text = text.replace(old, new)
    return text


class Nginx:
    """nginx in the foreground: TLS on 127.0.0.1:``port``, proxying ``path`` to the bot."""

    def __init__(self, folder: Path, bot_port: int, port: int) -> None:
        self.binary = nginx_binary()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.cert, self.key = self_signed(folder)
        self.port = port
        self.bot_port = bot_port
        self.conf = folder / "nginx.conf"
        served = site(bot_port, self.port, self.cert, self.key)
        self.conf.write_text(CONFIG.format(folder=folder, site=served))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}{HOOK_PATH}"

    def context(self) -> ssl.SSLContext:
        """A client context that trusts only this nginx's certificate."""
        return ssl.create_default_context(cafile=str(self.cert))

    def start(self, timeout: float = 20) -> None:
        check = subprocess.run(
            [self.binary, "-t", "-p", str(self.folder), "-c", str(self.conf)],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen(
            [self.binary, "-p", str(self.folder), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "stderr.log", "wb"),  # noqa: SIM115 (kept by Popen)
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited: {(self.folder / 'stderr.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("nginx did not start listening")

    def access_log(self) -> list[list[str]]:
        """Fields of each access-log line: addr, method, path, protocol, status, times."""
        path = self.folder / "access.log"
        if not path.exists():
            return []
        return [line.replace('"', "").split() for line in path.read_text().splitlines()]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def message_update(server: BotAPIServer, update_id: int, chat_id: int, text: str) -> dict:
    """A private message ``text`` from user ``chat_id``, as the stand-in would deliver it
    (the chat exists on the stand-in, so the bot's answers land there)."""
    state = server.state
    chat = state.chat(chat_id, "private")
    with state.lock:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message = {
            "message_id": message_id,
            "from": state.user(chat_id, language_code="en"),
            "chat": state.chat_json(chat),
            "date": int(time.time()),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        chat.messages[message_id] = message
    return {"update_id": update_id, "message": message}


class WebhookPoster:
    """POSTs updates to the webhook through nginx over HTTPS, on one kept-alive connection."""

    def __init__(self, nginx: Nginx) -> None:
        self.nginx = nginx
        self.connection: http.client.HTTPSConnection | None = None

    def post(self, update: dict, secret: str | None) -> int:
        """The HTTP status of posting ``update`` with ``secret`` (None: no header at all)."""
        body = json.dumps(update).encode()
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        for attempt in (1, 2):  # a kept-alive connection the server closed: once more
            if self.connection is None:
                self.connection = http.client.HTTPSConnection(
                    "127.0.0.1", self.nginx.port, context=self.nginx.context(), timeout=30
                )
            try:
                self.connection.request("POST", HOOK_PATH, body=body, headers=headers)
                response = self.connection.getresponse()
                response.read()
                return response.status
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
