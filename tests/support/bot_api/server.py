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
import base64
import io
import json
import os
import re
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any

from tests.support.bot_api.documents import (
    MAX_DOWNLOAD_BYTES,
    DocumentStore,
    StoredDocument,
    describe_document,
    mime_of,
)
from tests.support.bot_api.entities import client_entities, parse_text, utf16_len
from tests.support.bot_api.params import (
    check_markup,
    command_scope,
    flag_param,
    json_param,
    language_param,
)
from tests.support.bot_api.state import (
    ADMIN_RIGHTS,
    BOT_ID,
    BOT_USERNAME,
    CHAT_ACTIONS,
    DEFAULT_TOKEN,
    ApiError,
    Chat,
    Fault,
    Request,
    StoredFile,
    bad_request,
)
from tests.support.bot_api.transport import BotAPIHandler, QuietHTTPServer


class BotAPIServer:
    """The server and its state. Thread-safe; start with ``with BotAPIServer() as s`` or start()."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, latency: float = 0.0) -> None:
        self.token = token
        self.latency = latency  # seconds added to every method except getUpdates
        self.requests: list[Request] = []
        self.chats: dict[int, Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self.polls: dict[str, dict] = {}  # poll id -> {"poll": Poll, "chat_id", "message_id"}
        # (scope type[:chat_id[:user_id]], language_code) -> commands, as setMyCommands keeps them
        self.scoped_commands: dict[tuple[str, str], list[dict]] = {}
        self.descriptions: dict[tuple[str, str], str] = {}  # (kind, language_code) -> text
        self.webhook: dict[str, Any] = {"url": ""}
        self.callback_queries: dict[str, dict] = {}  # id -> {"answered": payload | None}
        self.delivered_at: dict[int, float] = {}  # update_id -> perf_counter at first delivery
        self._updates: list[dict] = []
        self._allowed_updates: list[str] = []
        self._next_update_id = 100_000
        self._next_user_message_id = 0
        self._poll_generation = 0
        self._faults: list[Fault] = []
        self._counter = 0
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stopping = False
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._webhook_thread: threading.Thread | None = None
        # -- inline mode and files sent by users (the "inline mode, files" section below) --
        self.inline_queries: dict[str, dict] = {}  # id -> {"query", "from", "answered"}
        self.file_paths: dict[str, bytes] = {}  # file_path -> bytes (getFile + download)
        self.downloads: list[str] = []  # file_paths downloaded, in order
        self._file_path_of: dict[str, str] = {}  # file_unique_id -> file_path
        self._documents = DocumentStore()

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> BotAPIServer:
        handler = type("Handler", (BotAPIHandler,), {"api": self})
        self._httpd = QuietHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._changed.notify_all()
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
        with self._lock:
            self._faults.append(Fault(method, kind, times, retry_after, delay))

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                matches = fault.method == method or (fault.method == "*" and method != "getUpdates")
                if matches and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    # -- what a user does -------------------------------------------------------------------
    def user(self, user_id: int, name: str | None = None, language_code: str | None = "en") -> dict:
        """A user as updates carry it; ``language_code`` None leaves the field out (Telegram
        omits it when the client does not say, e.g. some bots and old clients)."""
        user = {
            "id": user_id,
            "is_bot": False,
            "first_name": name or f"User{user_id}",
            "username": f"user{user_id}",
        }
        if language_code is not None:
            user["language_code"] = language_code
        return user

    def chat(self, chat_id: int, kind: str | None = None, title: str | None = None) -> Chat:
        """The chat ``chat_id`` (created on first use: negative ids are groups)."""
        with self._lock:
            if chat_id not in self.chats:
                kind = kind or ("private" if chat_id > 0 else "supergroup")
                self.chats[chat_id] = Chat(chat_id, kind, title or f"Group {abs(chat_id)}")
            return self.chats[chat_id]

    def _chat_json(self, chat: Chat) -> dict:
        if chat.type == "private":
            return {
                "id": chat.id,
                "type": "private",
                "first_name": f"User{chat.id}",
                "username": f"user{chat.id}",
            }
        return {"id": chat.id, "type": chat.type, "title": chat.title}

    def push_text(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        reply_to: int | None = None,
        chat_type: str | None = None,
        language_code: str | None = "en",
    ) -> dict:
        """A user sends ``text``; commands and @mentions get their entities as Telegram adds them.
        ``language_code`` is the sender's client language (None: not given)."""
        chat = self.chat(chat_id, chat_type)
        user_id = user_id if user_id is not None else (chat_id if chat_id > 0 else 1001)
        with self._lock:
            message_id = chat.next_message_id
            chat.next_message_id += 1
            message = {
                "message_id": message_id,
                "from": self.user(user_id, language_code=language_code),
                "chat": self._chat_json(chat),
                "date": int(time.time()),
                "text": text,
            }
            entities = client_entities(text)
            if entities:
                message["entities"] = entities
            if reply_to is not None:
                message["reply_to_message"] = chat.messages[reply_to]
            chat.messages[message_id] = message
            return self.push_update({"message": message})

    def push_command(self, chat_id: int, command: str, args: str = "", **kw: Any) -> dict:
        """``/command args`` (command given with or without the slash)."""
        text = "/" + command.lstrip("/") + (f" {args}" if args else "")
        return self.push_text(chat_id, text, **kw)

    def push_callback(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        user_id: int | None = None,
        *,
        message: dict | None = None,
        language_code: str | None = "en",
    ) -> str:
        """A user presses an inline button under a bot message; returns the query id.

        Like Telegram, any ``data`` is delivered, even data no button carries: a modified
        client can send whatever it likes, so the bot has to check it. ``message`` replaces
        the message the query comes with (a forged or foreign one).
        """
        with self._lock:
            if message is None:
                message = self.chats[chat_id].messages[message_id]
            user_id = user_id if user_id is not None else (chat_id if chat_id > 0 else 1001)
            query_id = str(4_000_000_000 + len(self.callback_queries))
            self.callback_queries[query_id] = {"answered": None}
            query = {
                "id": query_id,
                "from": self.user(user_id, language_code=language_code),
                "message": message,
                "chat_instance": str(abs(chat_id) * 7 + 11),
                "data": data,
            }
            self.push_update({"callback_query": query})
            return query_id

    def unanswered_callbacks(self) -> list[str]:
        """Ids of callback queries the bot has not answered (yet)."""
        with self._lock:
            return [q for q, v in self.callback_queries.items() if v["answered"] is None]

    def push_poll_answer(
        self, poll_id: str, user_id: int, option_ids: list[int], *, poll_update: bool = False
    ) -> dict:
        """A user votes (``option_ids=[]`` retracts) in a non-anonymous poll the bot sent."""
        with self._lock:
            entry = self.polls[poll_id]
            poll = entry["poll"]
            if poll["is_closed"]:
                raise ValueError(f"poll {poll_id} is closed")
            if poll["is_anonymous"]:
                raise ValueError("anonymous polls send no poll_answer updates")
            if any(not 0 <= i < len(poll["options"]) for i in option_ids):
                raise ValueError(f"option_ids {option_ids} out of range")
            if len(option_ids) > 1 and not poll["allows_multiple_answers"]:
                raise ValueError("this poll allows one answer")
            previous = entry["votes"].pop(user_id, [])
            for i in previous:
                poll["options"][i]["voter_count"] -= 1
            if option_ids:
                entry["votes"][user_id] = list(option_ids)
                for i in option_ids:
                    poll["options"][i]["voter_count"] += 1
            poll["total_voter_count"] = len(entry["votes"])
            update = self.push_update(
                {
                    "poll_answer": {
                        "poll_id": poll_id,
                        "user": self.user(user_id),
                        "option_ids": list(option_ids),
                        "option_persistent_ids": [
                            poll["options"][i]["persistent_id"] for i in option_ids
                        ],
                    }
                }
            )
            if poll_update:
                self.push_poll(poll_id)
            return update

    def push_poll(self, poll_id: str) -> dict:
        """A ``poll`` update with the poll's current state."""
        with self._lock:
            return self.push_update({"poll": json.loads(json.dumps(self.polls[poll_id]["poll"]))})

    def push_update(self, payload: dict) -> dict:
        """Queue an update (``payload`` is e.g. ``{"message": {...}}``); returns it with its id."""
        with self._lock:
            self._next_update_id += 1
            update = {"update_id": self._next_update_id, **payload}
            self._updates.append(update)
            self._changed.notify_all()
        if self.webhook["url"]:
            self._start_webhook_delivery()
        return update

    def set_admins(self, chat_id: int, user_ids: list[int]) -> None:
        self.chat(chat_id).admins = set(user_ids)

    # -- what tests look at -----------------------------------------------------------------
    def calls(self, method: str | None = None, chat_id: int | None = None) -> list[Request]:
        """Answered requests (optionally of one method and chat), in arrival order."""
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method)
                and (chat_id is None or r.chat_id == chat_id)
                and r.status != 0
            ]

    def sent(self, chat_id: int) -> list[dict]:
        """Messages the bot has in ``chat_id`` now (edits applied), oldest first."""
        with self._lock:
            chat = self.chats.get(chat_id)
            if chat is None:
                return []
            return [m for m in chat.messages.values() if m["from"]["id"] == BOT_ID]

    def uploads(self) -> int:
        """Number of photo files uploaded so far (not sent by file_id)."""
        with self._lock:
            return sum(len(r.files) for r in self.requests if r.ok)

    def pending_updates(self) -> int:
        with self._lock:
            return len(self._updates)

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Await until ``predicate()`` is truthy (returns its value); AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
            await asyncio.sleep(0.01)

    def wait_for_sync(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
            time.sleep(0.01)

    # -- dispatch ---------------------------------------------------------------------------
    def handle(self, method: str, params: dict, files: dict[str, bytes]) -> Any:
        handler = getattr(self, "api_" + method.lower(), None)
        if handler is None:
            raise ApiError(404, "Not Found")
        return handler(params, files)

    # -- Bot API methods --------------------------------------------------------------------
    def api_getme(self, params: dict, files: dict) -> dict:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Reelpick Test",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def api_logout(self, params: dict, files: dict) -> bool:
        return True

    def api_close(self, params: dict, files: dict) -> bool:
        return True

    def api_setwebhook(self, params: dict, files: dict) -> bool:
        url = params.get("url", "")
        if url and not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        with self._lock:
            self.webhook = {"url": url, "secret_token": params.get("secret_token")}
            if flag_param(params.get("drop_pending_updates")):
                self._updates.clear()
        if url:
            self._start_webhook_delivery()
        return True

    def api_deletewebhook(self, params: dict, files: dict) -> bool:
        with self._lock:
            self.webhook = {"url": ""}
            if flag_param(params.get("drop_pending_updates")):
                self._updates.clear()
        return True

    def api_getwebhookinfo(self, params: dict, files: dict) -> dict:
        with self._lock:
            return {
                "url": self.webhook["url"],
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }

    def api_getupdates(self, params: dict, files: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        allowed = json_param(params.get("allowed_updates"))
        deadline = time.monotonic() + timeout
        with self._lock:
            if self.webhook["url"]:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if allowed is not None:  # Telegram remembers the last list given
                self._allowed_updates = list(allowed)
            if offset:
                # Updates below the offset are confirmed and forgotten; a negative offset keeps
                # only the last -offset updates.
                if offset > 0:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                else:
                    self._updates = self._updates[offset:]
            self._poll_generation += 1
            generation = self._poll_generation
            while True:
                if self._stopping:
                    return []
                if generation != self._poll_generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                ready = [u for u in self._updates if self._wanted(u)][:limit]
                if ready:
                    now = time.perf_counter()
                    for u in ready:
                        self.delivered_at.setdefault(u["update_id"], now)
                    return json.loads(json.dumps(ready))
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._changed.wait(min(left, 0.5))

    def _wanted(self, update: dict) -> bool:
        if not self._allowed_updates:
            # By default Telegram sends every kind except chat_member and a few others.
            return not ({"chat_member", "message_reaction"} & update.keys())
        return any(kind in update for kind in self._allowed_updates)

    def api_sendmessage(self, params: dict, files: dict) -> dict:
        chat = self._existing_chat(params)
        text, entities = parse_text(params.get("text"), params.get("parse_mode"), "text")
        if not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(text) > 4096:
            raise bad_request("message is too long")
        message = self._new_message(chat, params, text=text)
        if entities:
            message["entities"] = entities
        return message

    def api_sendphoto(self, params: dict, files: dict) -> dict:
        chat = self._existing_chat(params)
        sizes = self._photo(params.get("photo"), files, "photo")
        message = self._new_message(chat, params, photo=sizes)
        self._caption(message, params)
        return message

    def api_sendmediagroup(self, params: dict, files: dict) -> list[dict]:
        chat = self._existing_chat(params)
        media = json_param(params.get("media"))
        if not isinstance(media, list) or not media:
            raise bad_request("there are no messages to send")
        if len(media) > 10:
            raise bad_request("too many messages to send as an album")
        if len(media) < 2:
            raise bad_request("there must be at least 2 messages in a media group")
        photos = []
        for item in media:
            if not isinstance(item, dict) or item.get("type") != "photo":
                raise bad_request("can't parse InputMedia: media type must be photo in this server")
            photos.append(self._photo(item.get("media"), files, "media"))
            parse_text(item.get("caption") or "", item.get("parse_mode"), "caption", limit=1024)
        group_id = str(13_000_000_000_000_000 + self._count())
        messages = []
        for item, sizes in zip(media, photos, strict=True):
            message = self._new_message(chat, params, photo=sizes, media_group_id=group_id)
            self._caption(message, item)
            messages.append(message)
        return messages

    def api_sendchataction(self, params: dict, files: dict) -> bool:
        self._existing_chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    def api_answercallbackquery(self, params: dict, files: dict) -> bool:
        with self._lock:
            query = self.callback_queries.get(str(params.get("callback_query_id")))
            if query is None or query["answered"] is not None:
                raise bad_request(
                    "query is too old and response timeout expired or query ID is invalid"
                )
            if len(params.get("text") or "") > 200:
                raise bad_request("MESSAGE_TOO_LONG")
            query["answered"] = {k: v for k, v in params.items() if k != "callback_query_id"}
        return True

    def api_editmessagetext(self, params: dict, files: dict) -> dict:
        chat = self._existing_chat(params)
        with self._lock:
            message = chat.messages.get(int(params.get("message_id") or 0))
            if message is None or message["from"]["id"] != BOT_ID:
                raise bad_request("message to edit not found")
            if "text" not in message:
                raise bad_request("there is no text in the message to edit")
            text, entities = parse_text(params.get("text"), params.get("parse_mode"), "text")
            if not text.strip():
                raise bad_request("message text is empty")
            if utf16_len(text) > 4096:
                raise bad_request("MESSAGE_TOO_LONG")
            markup = json_param(params.get("reply_markup"))
            if (
                text == message["text"]
                and entities == message.get("entities", [])
                and markup == message.get("reply_markup")
            ):
                raise bad_request(
                    "message is not modified: specified new message content and reply markup "
                    "are exactly the same as a current content and reply markup of the message"
                )
            message["text"] = text
            message["entities"] = entities
            if not entities:
                message.pop("entities")
            if markup:
                check_markup(markup)
                message["reply_markup"] = markup
            else:
                message.pop("reply_markup", None)
            message["edit_date"] = int(time.time())
            return json.loads(json.dumps(message))

    def api_editmessagereplymarkup(self, params: dict, files: dict) -> dict:
        chat = self._existing_chat(params)
        with self._lock:
            message = chat.messages.get(int(params.get("message_id") or 0))
            if message is None or message["from"]["id"] != BOT_ID:
                raise bad_request("message to edit not found")
            markup = json_param(params.get("reply_markup"))
            if markup == message.get("reply_markup"):
                raise bad_request("message is not modified")
            if markup:
                check_markup(markup)
                message["reply_markup"] = markup
            else:
                message.pop("reply_markup", None)
            return json.loads(json.dumps(message))

    def api_deletemessage(self, params: dict, files: dict) -> bool:
        chat = self._existing_chat(params)
        with self._lock:
            if chat.messages.pop(int(params.get("message_id") or 0), None) is None:
                raise bad_request("message to delete not found")
        return True

    def api_setmycommands(self, params: dict, files: dict) -> bool:
        commands = json_param(params.get("commands"))
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        for c in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(c.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(c.get("description", "")) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        with self._lock:
            self.scoped_commands[command_scope(params)] = commands
        return True

    def api_getmycommands(self, params: dict, files: dict) -> list[dict]:
        with self._lock:
            return list(self.scoped_commands.get(command_scope(params), []))

    def api_deletemycommands(self, params: dict, files: dict) -> bool:
        with self._lock:
            self.scoped_commands.pop(command_scope(params), None)
        return True

    @property
    def commands(self) -> list[dict]:
        """The commands of the default scope (no scope, no language)."""
        with self._lock:
            return list(self.scoped_commands.get(("default", ""), []))

    def api_setmydescription(self, params: dict, files: dict) -> bool:
        return self._set_text("description", params, 512)

    def api_getmydescription(self, params: dict, files: dict) -> dict:
        with self._lock:
            return {
                "description": self.descriptions.get(("description", language_param(params)), "")
            }

    def api_setmyshortdescription(self, params: dict, files: dict) -> bool:
        return self._set_text("short_description", params, 120)

    def api_getmyshortdescription(self, params: dict, files: dict) -> dict:
        with self._lock:
            text = self.descriptions.get(("short_description", language_param(params)), "")
            return {"short_description": text}

    def _set_text(self, key: str, params: dict, limit: int) -> bool:
        text = str(params.get(key) or "")
        if len(text) > limit:
            raise bad_request(f"{key.upper()}_INVALID")
        with self._lock:
            self.descriptions[(key, language_param(params))] = text  # empty: back to none
        return True

    def api_sendpoll(self, params: dict, files: dict) -> dict:
        chat = self._existing_chat(params)
        question = str(params.get("question") or "")
        if not question.strip():
            raise bad_request("poll question must be non-empty")
        if len(question) > 300:
            raise bad_request("poll question length must not exceed 300")
        options = json_param(params.get("options"))
        if not isinstance(options, list) or len(options) < 2:
            raise bad_request("poll must have at least 2 option")
        if len(options) > 12:
            raise bad_request("poll can't have more than 12 options")
        texts = [o.get("text", "") if isinstance(o, dict) else str(o) for o in options]
        if any(not t.strip() for t in texts):
            raise bad_request("poll options must be non-empty")
        if any(len(t) > 100 for t in texts):
            raise bad_request("poll options length must not exceed 100")
        poll_type = params.get("type") or "regular"
        if poll_type not in ("regular", "quiz"):
            raise bad_request("wrong poll type specified")
        with self._lock:
            poll_id = str(5_000_000_000_000_000_000 + self._count())
            poll = {
                "id": poll_id,
                "question": question,
                # Bot API 9.6+ shapes (PTB 22.8 requires them): persistent option ids,
                # allows_revoting, members_only.
                "options": [
                    {"text": t, "voter_count": 0, "persistent_id": f"{poll_id}-{i}"}
                    for i, t in enumerate(texts)
                ],
                "total_voter_count": 0,
                "is_closed": False,
                "is_anonymous": flag_param(params.get("is_anonymous"), default=True),
                "type": poll_type,
                "allows_multiple_answers": flag_param(params.get("allows_multiple_answers")),
                "allows_revoting": flag_param(params.get("allows_revoting"), default=True),
                "members_only": flag_param(params.get("members_only")),
            }
            for key in ("open_period", "close_date"):
                if params.get(key) is not None:
                    poll[key] = int(params[key])
            message = self._new_message(chat, params, poll=poll)
            self.polls[poll_id] = {
                "poll": poll,
                "chat_id": chat.id,
                "message_id": message["message_id"],
                "votes": {},
            }
            return json.loads(json.dumps(message))

    def api_stoppoll(self, params: dict, files: dict) -> dict:
        chat = self._existing_chat(params)
        with self._lock:
            message = chat.messages.get(int(params.get("message_id") or 0))
            if message is None or "poll" not in message or message["from"]["id"] != BOT_ID:
                raise bad_request("message with poll to stop not found")
            poll = self.polls[message["poll"]["id"]]["poll"]
            if poll["is_closed"]:
                raise bad_request("poll has already been closed")
            poll["is_closed"] = True
            markup = json_param(params.get("reply_markup"))
            if markup:
                message["reply_markup"] = markup
            return json.loads(json.dumps(poll))

    def api_getchat(self, params: dict, files: dict) -> dict:
        chat = self._existing_chat(params)
        return {**self._chat_json(chat), "accent_color_id": 0, "max_reaction_count": 11}

    def api_getchatadministrators(self, params: dict, files: dict) -> list[dict]:
        chat = self._existing_chat(params)
        return [
            {"status": "administrator", "user": self.user(u), **ADMIN_RIGHTS}
            for u in sorted(chat.admins)
        ]

    def api_getchatmember(self, params: dict, files: dict) -> dict:
        chat = self._existing_chat(params)
        user_id = int(params.get("user_id") or 0)
        if user_id in chat.admins:
            return {"status": "administrator", "user": self.user(user_id), **ADMIN_RIGHTS}
        return {"status": "member", "user": self.user(user_id)}

    # -- inline mode, files sent by users (getFile and downloads) ---------------------------
    # As the real Bot API: getFile -> {"file_id", "file_unique_id", "file_size", "file_path"},
    # the bytes at <base_file_url><token>/<file_path>.
    def push_photo(
        self,
        chat_id: int,
        data: bytes,
        *,
        user_id: int | None = None,
        caption: str | None = None,
        file_size: int | None = None,
    ) -> dict:
        """A user sends a photo (``data``: image bytes). ``file_size`` overrides the size
        Telegram declares for the largest PhotoSize (an oversize photo needs no big bytes)."""
        sizes = self._upload(data)
        if file_size is not None:
            sizes[-1]["file_size"] = file_size
            with self._lock:
                self.files[sizes[-1]["file_id"]].sizes = sizes
        return self._push_user_message(chat_id, user_id, {"photo": sizes}, caption)

    def _push_user_message(
        self, chat_id: int, user_id: int | None, content: dict, caption: str | None
    ) -> dict:
        chat = self.chat(chat_id)
        user_id = user_id if user_id is not None else (chat_id if chat_id > 0 else 1001)
        with self._lock:
            message_id = chat.next_message_id
            chat.next_message_id += 1
            message = {
                "message_id": message_id,
                "from": self.user(user_id),
                "chat": self._chat_json(chat),
                "date": int(time.time()),
                **content,
            }
            if caption:
                message["caption"] = caption
                entities = client_entities(caption)
                if entities:
                    message["caption_entities"] = entities
            chat.messages[message_id] = message
            return self.push_update({"message": message})

    def _photo_file(self, params: dict) -> dict | None:
        """getFile for a photo a user sent (push_photo); None when the id is not one."""
        with self._lock:
            stored = self.files.get(str(params.get("file_id") or ""))
            if stored is None:
                return None
            size = next(
                (item for item in stored.sizes if item.get("file_id") == params["file_id"]),
                {"file_size": len(stored.data)},
            )
            if int(size.get("file_size") or 0) > 20 * 1024 * 1024:
                raise bad_request("file is too big")
            unique = size.get("file_unique_id", stored.file_unique_id)
            path = self._file_path_of.get(unique)
            if path is None:
                folder = "documents" if "file_name" in size else "photos"
                suffix = os.path.splitext(size.get("file_name") or "x.jpg")[1] or ".jpg"
                path = f"{folder}/file_{len(self.file_paths)}{suffix}"
                self._file_path_of[unique] = path
                self.file_paths[path] = stored.data
            return {
                "file_id": params["file_id"],
                "file_unique_id": unique,
                "file_size": int(size.get("file_size") or len(stored.data)),
                "file_path": path,
            }

    def push_inline_query(
        self,
        user_id: int,
        query: str,
        offset: str = "",
        chat_type: str = "sender",
        language_code: str | None = "en",
    ) -> str:
        """A user types ``@bot query`` (scrolled to ``offset``) in a client in
        ``language_code``; returns the inline query id."""
        with self._lock:
            query_id = str(6_000_000_000_000_000_000 + self._count())
            self.inline_queries[query_id] = {"query": query, "from": user_id, "answered": None}
            self.push_update(
                {
                    "inline_query": {
                        "id": query_id,
                        "from": self.user(user_id, language_code=language_code),
                        "query": query,
                        "offset": offset,
                        "chat_type": chat_type,
                    }
                }
            )
            return query_id

    def api_answerinlinequery(self, params: dict, files: dict) -> bool:
        results = json_param(params.get("results"))
        with self._lock:
            entry = self.inline_queries.get(str(params.get("inline_query_id")))
            if entry is None or entry["answered"] is not None:
                raise bad_request(
                    "query is too old and response timeout expired or query ID is invalid"
                )
        if not isinstance(results, list):
            raise bad_request("can't parse inline query results")
        if len(results) > 50:
            raise bad_request("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            result_id = str(result.get("id") or "")
            if not 1 <= len(result_id.encode()) <= 64:
                raise bad_request("RESULT_ID_INVALID")
            if result_id in seen:
                raise bad_request("RESULT_ID_DUPLICATE")
            seen.add(result_id)
            self._check_inline_result(result)
        if len(str(params.get("next_offset") or "").encode()) > 64:
            raise bad_request("NEXT_OFFSET_INVALID")
        with self._lock:
            entry["answered"] = {
                "results": results,
                "next_offset": str(params.get("next_offset") or ""),
                "cache_time": int(params.get("cache_time") or 300),
                "is_personal": flag_param(params.get("is_personal")),
            }
        return True

    def _check_inline_result(self, result: dict) -> None:
        kind = result.get("type")
        if kind == "article":
            content = result.get("input_message_content") or {}
            text, _ = parse_text(content.get("message_text"), content.get("parse_mode"), "text")
            if not text.strip():
                raise bad_request("MESSAGE_EMPTY")
            if utf16_len(text) > 4096:
                raise bad_request("MESSAGE_TOO_LONG")
        elif kind == "photo" and "photo_file_id" in result:
            with self._lock:
                if result["photo_file_id"] not in self.files:
                    raise bad_request("wrong file identifier/HTTP URL specified")
            caption, _ = parse_text(result.get("caption") or "", result.get("parse_mode"), "c")
            if utf16_len(caption) > 1024:
                raise bad_request("MEDIA_CAPTION_TOO_LONG")
        else:
            raise bad_request(f"unsupported inline result type {kind!r} in this server")
        url = result.get("thumbnail_url")
        if url is not None and not str(url).startswith(("http://", "https://")):
            raise bad_request("RESULT_THUMB_URL_INVALID")

    def choose_inline_result(self, chat_id: int, query_id: str, result_id: str) -> dict:
        """The user taps result ``result_id``: its message appears in ``chat_id``, sent by the
        user "via @bot", as Telegram posts it. Returns the message."""
        with self._lock:
            entry = self.inline_queries[query_id]
            answered = entry["answered"] or {"results": []}
            [result] = [r for r in answered["results"] if r["id"] == result_id]
            if result["type"] == "photo":
                content: dict = {
                    "photo": json.loads(json.dumps(self.files[result["photo_file_id"]].sizes))
                }
                text, entities = parse_text(
                    result.get("caption") or "", result.get("parse_mode"), "caption"
                )
                key = "caption"
            else:
                body = result["input_message_content"]
                content = {}
                text, entities = parse_text(body["message_text"], body.get("parse_mode"), "text")
                key = "text"
            content[key] = text
            if entities:
                content[f"{key}_entities" if key == "caption" else "entities"] = entities
            content["via_bot"] = self.api_getme({}, {})
            chat = self.chat(chat_id)
            message_id = chat.next_message_id
            chat.next_message_id += 1
            message = {
                "message_id": message_id,
                "from": self.user(entry["from"]),
                "chat": self._chat_json(chat),
                "date": int(time.time()),
                **content,
            }
            chat.messages[message_id] = message
            return json.loads(json.dumps(message))

    # -- helpers ----------------------------------------------------------------------------
    def _count(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def _existing_chat(self, params: dict) -> Chat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        with self._lock:
            chat = self.chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _new_message(self, chat: Chat, params: dict, **content: Any) -> dict:
        with self._lock:
            message_id = chat.next_message_id
            chat.next_message_id += 1
            message = {
                "message_id": message_id,
                "from": self.api_getme({}, {}),
                "chat": self._chat_json(chat),
                "date": int(time.time()),
                **content,
            }
            reply = json_param(params.get("reply_parameters")) or {}
            reply_to = reply.get("message_id") or params.get("reply_to_message_id")
            if reply_to:
                original = chat.messages.get(int(reply_to))
                if original is None:
                    raise bad_request("message to be replied not found")
                message["reply_to_message"] = {
                    k: v for k, v in original.items() if k != "reply_to_message"
                }
            markup = json_param(params.get("reply_markup"))
            if markup:
                check_markup(markup)
                message["reply_markup"] = markup
            chat.messages[message_id] = message
            return json.loads(json.dumps(message))

    def _caption(self, message: dict, params: dict) -> None:
        caption, entities = parse_text(
            params.get("caption") or "", params.get("parse_mode"), "caption", limit=1024
        )
        if caption:
            message["caption"] = caption
            if entities:
                message["caption_entities"] = entities
            with self._lock:
                stored = self.chats[message["chat"]["id"]].messages[message["message_id"]]
                stored.update(
                    {k: message[k] for k in ("caption", "caption_entities") if k in message}
                )

    def _photo(self, value: Any, files: dict[str, bytes], name: str) -> list[dict]:
        """A PhotoSize array for an uploaded file, an attach:// reference or a known file_id."""
        if isinstance(value, bytes):
            return self._upload(value)
        if not isinstance(value, str) or not value:
            raise bad_request(f"there is no {name} in the request")
        if value.startswith("attach://"):
            data = files.get(value[len("attach://") :])
            if data is None:
                raise bad_request("can't parse InputMedia: media not found")
            return self._upload(data)
        if value.startswith(("http://", "https://")):
            raise bad_request("wrong file identifier/HTTP URL specified")
        with self._lock:
            stored = self.files.get(value)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return json.loads(json.dumps(stored.sizes))

    def _upload(self, data: bytes) -> list[dict]:
        if not data:
            raise bad_request("file must be non-empty")
        try:
            from PIL import Image

            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                image.verify()
        except Exception:
            raise bad_request("IMAGE_PROCESS_FAILED") from None
        unique = base64.urlsafe_b64encode(os.urandom(9)).decode()
        sizes = []
        targets = [90, 320, 800, 1280]
        longest = max(width, height)
        for target in targets:
            scale = min(1.0, target / longest)
            w, h = max(1, round(width * scale)), max(1, round(height * scale))
            if sizes and (w, h) == (sizes[-1]["width"], sizes[-1]["height"]):
                break
            file_id = "AgACAgIAAxkDAAI" + base64.urlsafe_b64encode(os.urandom(24)).decode()
            sizes.append(
                {
                    "file_id": file_id,
                    "file_unique_id": f"AQAD{unique}{len(sizes)}",
                    "file_size": int(len(data) * scale * scale) or 1,
                    "width": w,
                    "height": h,
                }
            )
        with self._lock:
            for size in sizes:
                self.files[size["file_id"]] = StoredFile(
                    size["file_id"], size["file_unique_id"], data, sizes
                )
        return json.loads(json.dumps(sizes))

    # -- documents and files (sendDocument, getFile, downloads, push_document) ---------------
    @property
    def documents(self) -> dict[str, StoredDocument]:
        """Documents by file_id: those users sent (push_document) and those the bot sent."""
        with self._lock:
            return self._documents.by_id

    def _store_document(
        self, data: bytes, file_name: str | None, mime_type: str | None
    ) -> StoredDocument:
        with self._lock:
            return self._documents.store(data, file_name, mime_type)

    def push_document(
        self,
        chat_id: int,
        filename: str,
        data: bytes,
        mime_type: str | None = "text/csv",
        *,
        user_id: int | None = None,
        report_size: bool = True,
        language_code: str | None = "en",
        caption: str | None = None,
        file_size: int | None = None,
    ) -> dict:
        """A user sends ``data`` as a file named ``filename``; ``report_size=False`` leaves out
        ``file_size`` (optional in the Bot API); ``file_size`` declares another size (an
        oversize file needs no big bytes)."""
        stored = self._store_document(data, filename, mime_type)
        chat = self.chat(chat_id)
        user_id = user_id if user_id is not None else (chat_id if chat_id > 0 else 1001)
        with self._lock:
            message_id = chat.next_message_id
            chat.next_message_id += 1
            message = {
                "message_id": message_id,
                "from": self.user(user_id, language_code=language_code),
                "chat": self._chat_json(chat),
                "date": int(time.time()),
                "document": describe_document(stored, with_size=report_size),
            }
            if file_size is not None:
                message["document"]["file_size"] = file_size
            if caption:
                message["caption"] = caption
            chat.messages[message_id] = message
            return self.push_update({"message": message})

    def api_senddocument(self, params: dict, files: dict) -> dict:
        chat = self._existing_chat(params)
        value = params.get("document")
        if isinstance(value, str) and value.startswith("attach://"):
            value = files.get(value[len("attach://") :])
        if isinstance(value, bytes):
            if not value:
                raise bad_request("file must be non-empty")
            name = params.get("document_file_name") or "document"
            stored = self._store_document(value, name, mime_of(name))
        elif isinstance(value, str) and value:
            with self._lock:
                stored = self.documents.get(value)
            if stored is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
        else:
            raise bad_request("there is no document in the request")
        message = self._new_message(chat, params, document=describe_document(stored))
        self._caption(message, params)
        return message

    def api_getfile(self, params: dict, files: dict) -> dict:
        file_id = str(params.get("file_id") or "")
        with self._lock:
            stored = self.documents.get(file_id)
        if stored is None:
            photo = self._photo_file(params)
            if photo is None:
                raise bad_request("invalid file_id")
            return photo
        if len(stored.data) > MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        return {**describe_document(stored), "file_path": stored.file_path}

    def download(self, path: str) -> tuple[int, bytes]:
        """``GET /file/bot<token>/<file_path>``: (HTTP status, body)."""
        # Clients may percent-encode the token's ":" (httpx does).
        match = re.fullmatch(r"/file/bot([^/]*)/(.+)", urllib.parse.unquote(path))
        if match is None or match.group(1) != self.token:
            return 401, b'{"ok":false,"error_code":401,"description":"Unauthorized"}'
        with self._lock:
            found = [d.data for d in self.documents.values() if d.file_path == match.group(2)]
            photos = self.file_paths  # photos users sent (push_photo)
            if not found and match.group(2) in photos:
                found = [photos[match.group(2)]]
            if not found:
                return 404, b'{"ok":false,"error_code":404,"description":"Not Found"}'
            self.downloads.append(match.group(2))
        return 200, found[0]

    # -- webhook delivery -------------------------------------------------------------------
    def _start_webhook_delivery(self) -> None:
        with self._lock:
            if self._webhook_thread is not None and self._webhook_thread.is_alive():
                self._changed.notify_all()
                return
            self._webhook_thread = threading.Thread(target=self._deliver_webhooks, daemon=True)
            self._webhook_thread.start()

    def _deliver_webhooks(self) -> None:
        """POST queued updates to the webhook one at a time, as Telegram does; retry on failure."""
        while True:
            with self._lock:
                while not self._stopping and self.webhook["url"] and not self._updates:
                    self._changed.wait(0.5)
                if self._stopping or not self.webhook["url"]:
                    return
                update = self._updates[0]
                url, secret = self.webhook["url"], self.webhook.get("secret_token")
            request = urllib.request.Request(url, data=json.dumps(update).encode(), method="POST")
            request.add_header("Content-Type", "application/json")
            if secret:
                request.add_header("X-Telegram-Bot-Api-Secret-Token", secret)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    delivered = 200 <= response.status < 300
            except OSError:
                delivered = False
            with self._lock:
                if delivered:
                    self.delivered_at.setdefault(update["update_id"], time.perf_counter())
                    if self._updates and self._updates[0] is update:
                        self._updates.pop(0)
            if not delivered:
                time.sleep(0.2)
