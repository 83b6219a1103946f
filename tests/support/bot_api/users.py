"""What simulated Telegram users do: send texts, commands, photos and files, press buttons,
vote in polls, type inline queries and pick a result. Each action queues the update Telegram
would deliver to the bot."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from tests.support.bot_api.documents import describe_document
from tests.support.bot_api.entities import client_entities, parse_text
from tests.support.bot_api.state import ServerState, bot_user

if TYPE_CHECKING:
    from tests.support.bot_api.transport import WebhookDelivery


# The service accounts Telegram puts in ``from`` of a message sent on behalf of a chat.
ANONYMOUS_ADMIN = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
CHANNEL_SENDER = {
    "id": 136817688,
    "is_bot": True,
    "first_name": "Channel",
    "username": "Channel_Bot",
}


class SimulatedUsers:
    """Users acting on the server's state; updates go to the queue (and to the webhook)."""

    def __init__(self, state: ServerState, webhooks: WebhookDelivery) -> None:
        self.state = state
        self.webhooks = webhooks

    def push_text(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        reply_to: int | None = None,
        chat_type: str | None = None,
        language_code: str | None = "en",
        sender_chat: int | None = None,
    ) -> dict:
        """A user sends ``text``; commands and @mentions get their entities as Telegram adds them.
        ``language_code`` is the sender's client language (None: not given). ``sender_chat``:
        sent on behalf of a chat, as Telegram shows it: the group itself (an anonymous admin,
        from ``GroupAnonymousBot``) or a channel (from ``Channel_Bot``)."""
        chat = self.state.chat(chat_id, chat_type)
        user_id = user_id if user_id is not None else (chat_id if chat_id > 0 else 1001)
        with self.state.lock:
            message_id = chat.next_message_id
            chat.next_message_id += 1
            message = {
                "message_id": message_id,
                "from": self.state.user(user_id, language_code=language_code),
                "chat": self.state.chat_json(chat),
                "date": int(time.time()),
                "text": text,
            }
            if sender_chat is not None:
                message.update(self._on_behalf_of(chat_id, sender_chat))
            entities = client_entities(text)
            if entities:
                message["entities"] = entities
            if reply_to is not None:
                message["reply_to_message"] = chat.messages[reply_to]
            chat.messages[message_id] = message
            return self.push_update({"message": message})

    def _on_behalf_of(self, chat_id: int, sender_chat: int) -> dict:
        """``from`` and ``sender_chat`` of a message sent as a chat rather than as a person."""
        anonymous_admin = sender_chat == chat_id
        service = ANONYMOUS_ADMIN if anonymous_admin else CHANNEL_SENDER
        sender = self.state.chat(sender_chat, None if anonymous_admin else "channel")
        return {"from": dict(service), "sender_chat": self.state.chat_json(sender)}

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
        with self.state.lock:
            if message is None:
                message = self.state.chats[chat_id].messages[message_id]
            user_id = user_id if user_id is not None else (chat_id if chat_id > 0 else 1001)
            query_id = str(4_000_000_000 + len(self.state.callback_queries))
            self.state.callback_queries[query_id] = {"answered": None}
            query = {
                "id": query_id,
                "from": self.state.user(user_id, language_code=language_code),
                "message": message,
                "chat_instance": str(abs(chat_id) * 7 + 11),
                "data": data,
            }
            self.push_update({"callback_query": query})
            return query_id

    def unanswered_callbacks(self) -> list[str]:
        """Ids of callback queries the bot has not answered (yet)."""
        with self.state.lock:
            return [q for q, v in self.state.callback_queries.items() if v["answered"] is None]

    def push_poll_answer(
        self, poll_id: str, user_id: int, option_ids: list[int], *, poll_update: bool = False
    ) -> dict:
        """A user votes (``option_ids=[]`` retracts) in a non-anonymous poll the bot sent."""
        with self.state.lock:
            entry = self.state.polls[poll_id]
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
                        "user": self.state.user(user_id),
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
        with self.state.lock:
            return self.push_update(
                {"poll": json.loads(json.dumps(self.state.polls[poll_id]["poll"]))}
            )

    def push_update(self, payload: dict) -> dict:
        """Queue an update (``payload`` is e.g. ``{"message": {...}}``); returns it with its id."""
        with self.state.lock:
            self.state.next_update_id += 1
            update = {"update_id": self.state.next_update_id, **payload}
            self.state.updates.append(update)
            self.state.changed.notify_all()
        if self.state.webhook["url"]:
            self.webhooks.start()
        return update

    def set_admins(self, chat_id: int, user_ids: list[int]) -> None:
        self.state.chat(chat_id).admins = set(user_ids)

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
        sizes = self.state.upload_photo(data)
        if file_size is not None:
            sizes[-1]["file_size"] = file_size
            with self.state.lock:
                self.state.files[sizes[-1]["file_id"]].sizes = sizes
        return self._push_user_message(chat_id, user_id, {"photo": sizes}, caption)

    def _push_user_message(
        self, chat_id: int, user_id: int | None, content: dict, caption: str | None
    ) -> dict:
        chat = self.state.chat(chat_id)
        user_id = user_id if user_id is not None else (chat_id if chat_id > 0 else 1001)
        with self.state.lock:
            message_id = chat.next_message_id
            chat.next_message_id += 1
            message = {
                "message_id": message_id,
                "from": self.state.user(user_id),
                "chat": self.state.chat_json(chat),
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
        with self.state.lock:
            query_id = str(6_000_000_000_000_000_000 + self.state.count())
            self.state.inline_queries[query_id] = {
                "query": query,
                "from": user_id,
                "answered": None,
            }
            self.push_update(
                {
                    "inline_query": {
                        "id": query_id,
                        "from": self.state.user(user_id, language_code=language_code),
                        "query": query,
                        "offset": offset,
                        "chat_type": chat_type,
                    }
                }
            )
            return query_id

    def choose_inline_result(self, chat_id: int, query_id: str, result_id: str) -> dict:
        """The user taps result ``result_id``: its message appears in ``chat_id``, sent by the
        user "via @bot", as Telegram posts it. Returns the message."""
        with self.state.lock:
            entry = self.state.inline_queries[query_id]
            answered = entry["answered"] or {"results": []}
            [result] = [r for r in answered["results"] if r["id"] == result_id]
            if result["type"] == "photo":
                content: dict = {
                    "photo": json.loads(json.dumps(self.state.files[result["photo_file_id"]].sizes))
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
            content["via_bot"] = bot_user()
            chat = self.state.chat(chat_id)
            message_id = chat.next_message_id
            chat.next_message_id += 1
            message = {
                "message_id": message_id,
                "from": self.state.user(entry["from"]),
                "chat": self.state.chat_json(chat),
                "date": int(time.time()),
                **content,
            }
            chat.messages[message_id] = message
            return json.loads(json.dumps(message))

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
        stored = self.state.store_document(data, filename, mime_type)
        chat = self.state.chat(chat_id)
        user_id = user_id if user_id is not None else (chat_id if chat_id > 0 else 1001)
        with self.state.lock:
            message_id = chat.next_message_id
            chat.next_message_id += 1
            message = {
                "message_id": message_id,
                "from": self.state.user(user_id, language_code=language_code),
                "chat": self.state.chat_json(chat),
                "date": int(time.time()),
                "document": describe_document(stored, with_size=report_size),
            }
            if file_size is not None:
                message["document"]["file_size"] = file_size
            if caption:
                message["caption"] = caption
            chat.messages[message_id] = message
            return self.push_update({"message": message})
