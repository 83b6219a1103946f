"""What the test server knows: the bot's identity, chats, requests, stored files, faults to
inject, and the errors it answers with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
