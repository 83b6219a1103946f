"""Reading what the bot sent: album captions and media, inline buttons."""

from __future__ import annotations

from tests.support.bot_api.params import json_param
from tests.support.bot_api.state import Request


def album_captions(request: Request) -> list[str]:
    """Captions of a recorded sendMediaGroup request, item by item."""
    return [item.get("caption") or "" for item in json_param(request.params["media"])]


def album_media(request: Request) -> list[str]:
    """The ``media`` field of each album item: ``attach://...`` for uploads, else a file_id."""
    return [item["media"] for item in json_param(request.params["media"])]


def buttons(message_or_params: dict) -> list[tuple[str, str]]:
    """(text, callback_data or url) of every inline button in a message or request params."""
    markup = json_param(message_or_params.get("reply_markup")) or {}
    return [
        (b["text"], b.get("callback_data") or b.get("url", ""))
        for row in markup.get("inline_keyboard", [])
        for b in row
    ]
