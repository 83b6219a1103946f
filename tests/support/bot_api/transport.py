"""HTTP for the test server: the request handler (routing, tokens, injected faults, recording
every request), method names, and request bodies (JSON, form-encoded, multipart)."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import urllib.parse
import urllib.request
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from tests.support.bot_api.state import ApiError, Request, ServerState, bad_request

if TYPE_CHECKING:
    from tests.support.bot_api.methods import BotMethods


class QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver listens with a backlog of 5, and connections beyond it are reset (httpx
    # ReadError in the bot); a bot answering a burst of updates opens dozens at once, and
    # api.telegram.org takes such bursts.
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients closing kept-alive connections (a bot shutting down) are normal here.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class BotAPIHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm the body would wait for
    # the client's delayed ACK (40 ms on Linux), a delay api.telegram.org does not have.
    disable_nagle_algorithm = True
    # Set per server (BotAPIServer.start): what the handler records into and answers with.
    state: ServerState
    methods: BotMethods

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        state, methods = self.state, self.methods
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if url.path.startswith("/file/bot"):  # a file download (BotMethods.download)
            status, data = methods.download(url.path)
            with state.lock:
                state.requests.append(
                    # The file path only: the URL holds the token.
                    Request(
                        "downloadFile",
                        {"file_path": url.path.split("/", 3)[-1]},
                        {},
                        time.perf_counter(),
                        True,
                        status,
                    )
                )
            self._reply_bytes(status, data)
            return
        match = re.fullmatch(r"/bot([^/]*)/(\w+)", url.path)
        if match is None:
            self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        token, method = match.groups()
        try:
            params, files = parse_body(self.headers.get("Content-Type", ""), body)
        except ValueError as exc:
            self._reply(400, bad_request(str(exc)).body())
            return
        for key, values in urllib.parse.parse_qs(url.query).items():
            params.setdefault(key, values[-1])
        canonical = canonical_method(method)
        record = Request(canonical, params, files, time.perf_counter(), token == state.token)
        with state.lock:
            state.requests.append(record)
        if ":" not in token:
            status, answer = 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        elif token != state.token:
            status, answer = 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        else:
            fault = state.take_fault(canonical)
            if fault is not None and fault.kind == "drop":
                record.status = -1
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.delay)
            if state.latency and canonical != "getUpdates":
                time.sleep(state.latency)
            if fault is not None and fault.kind == "429":
                error = ApiError(
                    429,
                    f"Too Many Requests: retry after {fault.retry_after}",
                    {"retry_after": fault.retry_after},
                )
                status, answer = 429, error.body()
            elif fault is not None and fault.kind in ("500", "502"):
                status = int(fault.kind)
                description = "Internal Server Error" if status == 500 else "Bad Gateway"
                answer = {"ok": False, "error_code": status, "description": description}
            else:
                try:
                    status, answer = (
                        200,
                        {"ok": True, "result": methods.handle(canonical, params, files)},
                    )
                except ApiError as exc:
                    status, answer = exc.code, exc.body()
        record.result = answer.get("result")
        record.error = answer.get("description")
        record.status = status
        self._reply(status, answer)

    def _reply_bytes(self, status: int, data: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def _reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client went away (a test stopping the bot mid-poll)
            self.close_connection = True


_METHODS = {
    name[4:].lower(): name
    for name in [
        "api_getMe",
        "api_logOut",
        "api_close",
        "api_setWebhook",
        "api_deleteWebhook",
        "api_getWebhookInfo",
        "api_getUpdates",
        "api_sendMessage",
        "api_sendPhoto",
        "api_sendMediaGroup",
        "api_sendChatAction",
        "api_answerCallbackQuery",
        "api_editMessageText",
        "api_editMessageReplyMarkup",
        "api_deleteMessage",
        "api_setMyCommands",
        "api_getMyCommands",
        "api_deleteMyCommands",
        "api_sendPoll",
        "api_stopPoll",
        "api_getChat",
        "api_getChatMember",
        "api_getChatAdministrators",
        "api_sendDocument",
        "api_getFile",
    ]
}


def canonical_method(method: str) -> str:
    """Telegram's method names are case-insensitive; record them in their documented spelling."""
    name = _METHODS.get(method.lower())
    return name[4:] if name else method


def parse_body(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Parameters and uploaded files of a JSON, form-encoded or multipart request."""
    params: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    kind = content_type.split(";")[0].strip().lower()
    if not body:
        return params, files
    if kind == "application/json":
        try:
            loaded = json.loads(body)
        except json.JSONDecodeError:
            raise ValueError("can't parse JSON encoded request") from None
        return {k: v for k, v in loaded.items()}, files
    if kind == "application/x-www-form-urlencoded":
        for key, values in urllib.parse.parse_qs(body.decode(), keep_blank_values=True).items():
            params[key] = values[-1]
        return params, files
    if kind == "multipart/form-data":
        message = BytesParser(policy=policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        if not message.is_multipart():
            raise ValueError("can't parse multipart/form-data request")
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if part.get_filename() is not None:
                files[name] = payload
                if name == "document":  # sendDocument: Telegram keeps the uploaded file's name
                    params["document_file_name"] = part.get_filename()
            else:
                params[name] = payload.decode()
        # A file sent as the parameter itself (sendPhoto photo=<file>) is that parameter's value.
        for name in list(files):
            if name in ("photo", "document", "video", "audio", "animation", "sticker"):
                params[name] = files.pop(name)
        return params, files
    raise ValueError(f"unsupported Content-Type {kind!r}")


class WebhookDelivery:
    """With a webhook set, a thread POSTs queued updates to it one at a time, as Telegram does."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        with self.state.lock:
            if self.thread is not None and self.thread.is_alive():
                self.state.changed.notify_all()
                return
            self.thread = threading.Thread(target=self._deliver, daemon=True)
            self.thread.start()

    def _deliver(self) -> None:
        """POST queued updates to the webhook one at a time, as Telegram does; retry on failure."""
        while True:
            with self.state.lock:
                while (
                    not self.state.stopping and self.state.webhook["url"] and not self.state.updates
                ):
                    self.state.changed.wait(0.5)
                if self.state.stopping or not self.state.webhook["url"]:
                    return
                update = self.state.updates[0]
                url, secret = self.state.webhook["url"], self.state.webhook.get("secret_token")
            request = urllib.request.Request(url, data=json.dumps(update).encode(), method="POST")
            request.add_header("Content-Type", "application/json")
            if secret:
                request.add_header("X-Telegram-Bot-Api-Secret-Token", secret)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    delivered = 200 <= response.status < 300
            except OSError:
                delivered = False
            with self.state.lock:
                if delivered:
                    self.state.delivered_at.setdefault(update["update_id"], time.perf_counter())
                    if self.state.updates and self.state.updates[0] is update:
                        self.state.updates.pop(0)
            if not delivered:
                time.sleep(0.2)
