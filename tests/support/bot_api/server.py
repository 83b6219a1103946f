"""A Telegram Bot API server on 127.0.0.1 for tests and benchmarks.

It speaks the Bot API over real HTTP the way api.telegram.org does: ``/bot<token>/<method>``
with JSON, form-encoded or multipart bodies; ``{"ok": true, "result": ...}`` answers with
real-shaped objects (per-chat message ids, PhotoSize arrays with fresh file ids); Telegram's
own error bodies for what Telegram rejects (albums outside 2-10 items, long captions and
texts, unknown file ids, bad HTML entities, a wrong token). Tests push updates as a user
would (messages, commands, mentions, button presses, poll answers), inject faults (429 with
retry_after, 5xx, slow answers, dropped connections) and assert on :attr:`requests`.

    with BotAPIServer() as server:
        builder.base_url(server.base_url).base_file_url(server.base_file_url).token(server.token)
        server.push_text(CHAT, "Heat")
        await server.wait_for(lambda: server.calls("sendMediaGroup"), timeout=10)

Supported methods: getMe, logOut, close, deleteWebhook, setWebhook, getWebhookInfo, getUpdates,
sendMessage, sendPhoto, sendMediaGroup, sendChatAction, answerCallbackQuery, editMessageText,
editMessageReplyMarkup, deleteMessage, setMyCommands, getMyCommands, deleteMyCommands (with
scopes and language codes), setMyDescription, getMyDescription, setMyShortDescription,
getMyShortDescription, sendPoll, stopPoll, getChat, getChatMember, getChatAdministrators,
sendDocument, getFile, and file downloads (``GET /file/bot<token>/<file_path>``, recorded as
"downloadFile"); users send files with :meth:`BotAPIServer.push_document`. Users carry their
client's ``language_code`` ("en" unless a push says ``language_code="de"``, or None for none);
commands and descriptions are stored and returned per language code, as Telegram does.
Inline mode: push_inline_query, answerInlineQuery (with its limits), choose_inline_result;
users send photos with :meth:`BotAPIServer.push_photo`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.support.bot_api.documents import StoredDocument
from tests.support.bot_api.methods import BotMethods
from tests.support.bot_api.state import BOT_ID, DEFAULT_TOKEN, Chat, Fault, Request, ServerState
from tests.support.bot_api.transport import BotAPIHandler, QuietHTTPServer, WebhookDelivery
from tests.support.bot_api.users import SimulatedUsers

# How long a wait_for waits by default: generous, since a wait that holds returns at once and
# a test machine running two workers beside Spark and VGG16 can stall one for seconds.
WAIT = 30.0


def _shared(name: str, doc: str) -> property:
    """A read-only view of one field of the server's :class:`ServerState`."""
    return property(lambda self: getattr(self.state, name), doc=doc)


class BotAPIServer:
    """The test server: its state, the Bot API methods, the simulated users and HTTP, put
    together. Thread-safe; start with ``with BotAPIServer() as s`` or start().

    What users do (``push_text``, ``push_callback``, ...) is :class:`SimulatedUsers`'s, what the
    bot calls is :class:`BotMethods`'s; this class starts and stops them and answers what tests
    ask (``calls``, ``sent``, ``wait_for``).
    """

    def __init__(self, token: str = DEFAULT_TOKEN, *, latency: float = 0.0) -> None:
        self.state = ServerState(token, latency)
        self.webhooks = WebhookDelivery(self.state)
        self.methods = BotMethods(self.state, self.webhooks)
        self.users = SimulatedUsers(self.state, self.webhooks)
        self._httpd: QuietHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # What a user does, called on the server as tests always have.
        self.user = self.state.user
        self.chat = self.state.chat
        self.set_admins = self.users.set_admins
        self.push_text = self.users.push_text
        self.push_command = self.users.push_command
        self.push_callback = self.users.push_callback
        self.unanswered_callbacks = self.users.unanswered_callbacks
        self.push_poll_answer = self.users.push_poll_answer
        self.push_poll = self.users.push_poll
        self.push_update = self.users.push_update
        self.push_photo = self.users.push_photo
        self.push_document = self.users.push_document
        self.push_inline_query = self.users.push_inline_query
        self.choose_inline_result = self.users.choose_inline_result
        self.handle = self.methods.handle

    token = _shared("token", "The bot token the server accepts.")
    latency = _shared("latency", "Seconds added to every method except getUpdates.")
    requests = _shared("requests", "Every request, in arrival order (see :meth:`calls`).")
    chats = _shared("chats", "Chats by id, with their messages.")
    files = _shared("files", "Uploaded photos by file_id.")
    polls = _shared("polls", 'Polls by id: {"poll", "chat_id", "message_id", "votes"}.')
    scoped_commands = _shared("scoped_commands", "Commands by (scope, language code).")
    descriptions = _shared("descriptions", "Descriptions by (kind, language code).")
    webhook = _shared("webhook", 'The webhook: {"url", "secret_token"}.')
    callback_queries = _shared("callback_queries", 'Button presses by id: {"answered"}.')
    delivered_at = _shared("delivered_at", "update_id -> perf_counter at first delivery.")
    inline_queries = _shared(
        "inline_queries", 'Inline queries by id: {"query", "from", "answered"}.'
    )
    file_paths = _shared("file_paths", "Bytes by file_path (getFile and downloads).")
    downloads = _shared("downloads", "file_paths downloaded, in order.")
    # Reached into by tests and benchmarks that hold the lock or build messages themselves.
    _lock = _shared("lock", "The lock around the state.")
    _next_update_id = _shared("next_update_id", "The id of the last update pushed.")

    def _chat_json(self, chat: Chat) -> dict:
        return self.state.chat_json(chat)

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> BotAPIServer:
        handler = type("Handler", (BotAPIHandler,), {"state": self.state, "methods": self.methods})
        self._httpd = QuietHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self.state.lock:
            self.state.stopping = True
            self.state.changed.notify_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> BotAPIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- faults ---------------------------------------------------------------------------
    def inject(
        self,
        method: str,
        kind: str,
        times: int = 1,
        *,
        retry_after: int = 1,
        delay: float = 0.0,
    ) -> None:
        """Make the next ``times`` calls of ``method`` ("*" for any but getUpdates) fail.

        kinds: "429" (Too Many Requests with retry_after), "500", "502", "drop" (close the
        connection without an answer), "slow" (answer normally after ``delay`` seconds).
        """
        if kind not in ("429", "500", "502", "drop", "slow"):
            raise ValueError(f"unknown fault {kind!r}")
        with self.state.lock:
            self.state.faults.append(Fault(method, kind, times, retry_after, delay))

    # -- what tests look at -----------------------------------------------------------------
    def calls(self, method: str | None = None, chat_id: int | None = None) -> list[Request]:
        """Answered requests (optionally of one method and chat), in arrival order."""
        with self.state.lock:
            return [
                r
                for r in self.state.requests
                if (method is None or r.method == method)
                and (chat_id is None or r.chat_id == chat_id)
                and r.status != 0
            ]

    def sent(self, chat_id: int) -> list[dict]:
        """Messages the bot has in ``chat_id`` now (edits applied), oldest first."""
        with self.state.lock:
            chat = self.state.chats.get(chat_id)
            if chat is None:
                return []
            return [m for m in chat.messages.values() if m["from"]["id"] == BOT_ID]

    def uploads(self) -> int:
        """Number of photo files uploaded so far (not sent by file_id)."""
        with self.state.lock:
            return sum(len(r.files) for r in self.state.requests if r.ok)

    def pending_updates(self) -> int:
        with self.state.lock:
            return len(self.state.updates)

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = WAIT) -> Any:
        """Await until ``predicate()`` is truthy (returns its value); AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
            await asyncio.sleep(0.01)

    def wait_for_sync(self, predicate: Callable[[], Any], timeout: float = WAIT) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
            time.sleep(0.01)

    @property
    def commands(self) -> list[dict]:
        """The commands of the default scope (no scope, no language)."""
        with self.state.lock:
            return list(self.state.scoped_commands.get(("default", ""), []))

    @property
    def documents(self) -> dict[str, StoredDocument]:
        """Documents by file_id: those users sent (push_document) and those the bot sent."""
        with self.state.lock:
            return self.state.documents.by_id
