"""What the test server knows: the bot's identity, chats, requests, stored files, faults to
inject, and the errors it answers with."""

from __future__ import annotations

import base64
import io
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.support.bot_api.documents import DocumentStore, StoredDocument

BOT_ID = 7000000001
BOT_USERNAME = "reelpick_test_bot"
DEFAULT_TOKEN = f"{BOT_ID}:AAFakeTokenForTests-0123456789abcdefXYZ"

CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
UPDATE_TYPES = (
    "message",
    "edited_message",
    "channel_post",
    "callback_query",
    "inline_query",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
)


class ApiError(Exception):
    """An error answer: HTTP status, Telegram's description, optional parameters."""

    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict:
        body = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(text: str) -> ApiError:
    return ApiError(400, f"Bad Request: {text}")


@dataclass
class Request:
    """One request the server received, as tests see it."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    at: float  # time.perf_counter() when it arrived
    token_ok: bool
    status: int = 0  # HTTP status answered (0 while in flight, -1 when the connection was dropped)
    result: Any = None
    error: str | None = None  # the description of an error answer

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class Fault:
    method: str  # a method name or "*"
    kind: str  # "429" | "500" | "502" | "drop" | "slow"
    times: int
    retry_after: int = 1
    delay: float = 0.0


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes
    sizes: list[dict]  # the PhotoSize array this upload produced


@dataclass
class Chat:
    id: int
    type: str  # "private" | "group" | "supergroup"
    title: str | None = None
    next_message_id: int = 1
    messages: dict[int, dict] = field(default_factory=dict)
    admins: set[int] = field(default_factory=set)


ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
}


def bot_user() -> dict:
    """The bot as getMe answers and as the sender of its messages."""
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


class ServerState:
    """What the server knows, behind one lock: requests, chats and their messages, files,
    polls, queued updates, commands, faults to inject. The Bot API methods, the simulated
    users, the HTTP handler and webhook delivery all read and change it."""

    def __init__(self, token: str, latency: float) -> None:
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
        self.updates: list[dict] = []  # queued, not yet confirmed
        self.allowed_updates: list[str] = []
        self.next_update_id = 100_000
        self.poll_generation = 0  # a new getUpdates ends the one before (409 Conflict)
        self.faults: list[Fault] = []
        self.counter = 0
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.stopping = False
        self.inline_queries: dict[str, dict] = {}  # id -> {"query", "from", "answered"}
        self.file_paths: dict[str, bytes] = {}  # file_path -> bytes (getFile + download)
        self.downloads: list[str] = []  # file_paths downloaded, in order
        self.file_path_of: dict[str, str] = {}  # file_unique_id -> file_path
        self.documents = DocumentStore()

    def take_fault(self, method: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                matches = fault.method == method or (fault.method == "*" and method != "getUpdates")
                if matches and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

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
        with self.lock:
            if chat_id not in self.chats:
                kind = kind or ("private" if chat_id > 0 else "supergroup")
                self.chats[chat_id] = Chat(chat_id, kind, title or f"Group {abs(chat_id)}")
            return self.chats[chat_id]

    def chat_json(self, chat: Chat) -> dict:
        if chat.type == "private":
            return {
                "id": chat.id,
                "type": "private",
                "first_name": f"User{chat.id}",
                "username": f"user{chat.id}",
            }
        return {"id": chat.id, "type": chat.type, "title": chat.title}

    def count(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter

    def existing_chat(self, params: dict) -> Chat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        with self.lock:
            chat = self.chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def photo_sizes(self, value: Any, files: dict[str, bytes], name: str) -> list[dict]:
        """A PhotoSize array for an uploaded file, an attach:// reference or a known file_id."""
        if isinstance(value, bytes):
            return self.upload_photo(value)
        if not isinstance(value, str) or not value:
            raise bad_request(f"there is no {name} in the request")
        if value.startswith("attach://"):
            data = files.get(value[len("attach://") :])
            if data is None:
                raise bad_request("can't parse InputMedia: media not found")
            return self.upload_photo(data)
        if value.startswith(("http://", "https://")):
            raise bad_request("wrong file identifier/HTTP URL specified")
        with self.lock:
            stored = self.files.get(value)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return json.loads(json.dumps(stored.sizes))

    def upload_photo(self, data: bytes) -> list[dict]:
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
        with self.lock:
            for size in sizes:
                self.files[size["file_id"]] = StoredFile(
                    size["file_id"], size["file_unique_id"], data, sizes
                )
        return json.loads(json.dumps(sizes))

    def store_document(
        self, data: bytes, file_name: str | None, mime_type: str | None
    ) -> StoredDocument:
        with self.lock:
            return self.documents.store(data, file_name, mime_type)
