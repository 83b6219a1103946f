"""Reading Bot API parameters as Telegram does: JSON in form fields, flags, language codes,
command scopes, inline keyboards."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support.bot_api.state import bad_request


def json_param(value: Any) -> Any:
    """Parameters sent form-encoded carry objects and arrays as JSON text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise bad_request(f"can't parse JSON object: {value[:40]!r}") from None
    return value


COMMAND_SCOPES = (
    "default",
    "all_private_chats",
    "all_group_chats",
    "all_chat_administrators",
    "chat",
    "chat_administrators",
    "chat_member",
)


def language_param(params: dict) -> str:
    language = str(params.get("language_code") or "")
    if language and not re.fullmatch(r"[a-z]{2}", language):
        raise bad_request("invalid language code specified")
    return language


def command_scope(params: dict) -> tuple[str, str]:
    """The key of a setMyCommands/getMyCommands/deleteMyCommands scope and language."""
    scope = json_param(params.get("scope")) or {"type": "default"}
    kind = scope.get("type") if isinstance(scope, dict) else None
    if kind not in COMMAND_SCOPES:
        raise bad_request("wrong scope type specified")
    key = kind
    if kind.startswith("chat"):
        if scope.get("chat_id") is None:
            raise bad_request("chat_id is empty")
        key += f":{scope['chat_id']}"
        if kind == "chat_member":
            key += f":{scope.get('user_id')}"
    return key, language_param(params)


def flag_param(value: Any, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1")


def check_markup(markup: Any) -> None:
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if rows is None:
        return
    for row in rows:
        for button in row:
            if not button.get("text"):
                raise bad_request("text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= 64:
                raise bad_request("BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and not url.startswith(("http://", "https://", "tg://")):
                raise bad_request("inline keyboard button URL is invalid")
