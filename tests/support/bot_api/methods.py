"""The Bot API methods the bot calls (getUpdates, sendMessage, sendMediaGroup, sendPoll, ...),
each checking its parameters as Telegram does and answering from and into the server's state.
Method ``foo`` is ``api_foo`` here (lower case: Telegram's names are case-insensitive)."""

from __future__ import annotations

import json
import os
import re
import time
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

from tests.support.bot_api.documents import MAX_DOWNLOAD_BYTES, describe_document, mime_of
from tests.support.bot_api.entities import parse_text, utf16_len
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
    CHAT_ACTIONS,
    ApiError,
    Chat,
    ServerState,
    bad_request,
    bot_user,
)

if TYPE_CHECKING:
    from tests.support.bot_api.transport import WebhookDelivery


class BotMethods:
    """The Bot API's methods over the server's state; :meth:`handle` dispatches one call."""

    def __init__(self, state: ServerState, webhooks: WebhookDelivery) -> None:
        self.state = state
        self.webhooks = webhooks

    def handle(self, method: str, params: dict, files: dict[str, bytes]) -> Any:
        handler = getattr(self, "api_" + method.lower(), None)
        if handler is None:
            raise ApiError(404, "Not Found")
        return handler(params, files)

    def api_getme(self, params: dict, files: dict) -> dict:
        return bot_user()

    def api_logout(self, params: dict, files: dict) -> bool:
        return True

    def api_close(self, params: dict, files: dict) -> bool:
        return True

    def api_setwebhook(self, params: dict, files: dict) -> bool:
        url = params.get("url", "")
        if url and not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        with self.state.lock:
            self.state.webhook = {"url": url, "secret_token": params.get("secret_token")}
            if flag_param(params.get("drop_pending_updates")):
                self.state.updates.clear()
        if url:
            self.webhooks.start()
        return True

    def api_deletewebhook(self, params: dict, files: dict) -> bool:
        with self.state.lock:
            self.state.webhook = {"url": ""}
            if flag_param(params.get("drop_pending_updates")):
                self.state.updates.clear()
        return True

    def api_getwebhookinfo(self, params: dict, files: dict) -> dict:
        with self.state.lock:
            return {
                "url": self.state.webhook["url"],
                "has_custom_certificate": False,
                "pending_update_count": len(self.state.updates),
            }

    def api_getupdates(self, params: dict, files: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        allowed = json_param(params.get("allowed_updates"))
        deadline = time.monotonic() + timeout
        with self.state.lock:
            if self.state.webhook["url"]:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if allowed is not None:  # Telegram remembers the last list given
                self.state.allowed_updates = list(allowed)
            if offset:
                # Updates below the offset are confirmed and forgotten; a negative offset keeps
                # only the last -offset updates.
                if offset > 0:
                    self.state.updates = [u for u in self.state.updates if u["update_id"] >= offset]
                else:
                    self.state.updates = self.state.updates[offset:]
            self.state.poll_generation += 1
            generation = self.state.poll_generation
            while True:
                if self.state.stopping:
                    return []
                if generation != self.state.poll_generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                ready = [u for u in self.state.updates if self._wanted(u)][:limit]
                if ready:
                    now = time.perf_counter()
                    for u in ready:
                        self.state.delivered_at.setdefault(u["update_id"], now)
                    return json.loads(json.dumps(ready))
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self.state.changed.wait(min(left, 0.5))

    def _wanted(self, update: dict) -> bool:
        if not self.state.allowed_updates:
            # By default Telegram sends every kind except chat_member and a few others.
            return not ({"chat_member", "message_reaction"} & update.keys())
        return any(kind in update for kind in self.state.allowed_updates)

    def api_sendmessage(self, params: dict, files: dict) -> dict:
        chat = self.state.existing_chat(params)
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
        chat = self.state.existing_chat(params)
        sizes = self.state.photo_sizes(params.get("photo"), files, "photo")
        message = self._new_message(chat, params, photo=sizes)
        self._caption(message, params)
        return message

    def api_sendmediagroup(self, params: dict, files: dict) -> list[dict]:
        chat = self.state.existing_chat(params)
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
            photos.append(self.state.photo_sizes(item.get("media"), files, "media"))
            parse_text(item.get("caption") or "", item.get("parse_mode"), "caption", limit=1024)
        group_id = str(13_000_000_000_000_000 + self.state.count())
        messages = []
        for item, sizes in zip(media, photos, strict=True):
            message = self._new_message(chat, params, photo=sizes, media_group_id=group_id)
            self._caption(message, item)
            messages.append(message)
        return messages

    def api_sendchataction(self, params: dict, files: dict) -> bool:
        self.state.existing_chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    def api_answercallbackquery(self, params: dict, files: dict) -> bool:
        with self.state.lock:
            query = self.state.callback_queries.get(str(params.get("callback_query_id")))
            if query is None or query["answered"] is not None:
                raise bad_request(
                    "query is too old and response timeout expired or query ID is invalid"
                )
            if len(params.get("text") or "") > 200:
                raise bad_request("MESSAGE_TOO_LONG")
            query["answered"] = {k: v for k, v in params.items() if k != "callback_query_id"}
        return True

    def api_editmessagetext(self, params: dict, files: dict) -> dict:
        chat = self.state.existing_chat(params)
        with self.state.lock:
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
        chat = self.state.existing_chat(params)
        with self.state.lock:
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
        chat = self.state.existing_chat(params)
        with self.state.lock:
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
        with self.state.lock:
            self.state.scoped_commands[command_scope(params)] = commands
        return True

    def api_getmycommands(self, params: dict, files: dict) -> list[dict]:
        with self.state.lock:
            return list(self.state.scoped_commands.get(command_scope(params), []))

    def api_deletemycommands(self, params: dict, files: dict) -> bool:
        with self.state.lock:
            self.state.scoped_commands.pop(command_scope(params), None)
        return True

    def api_setmydescription(self, params: dict, files: dict) -> bool:
        return self._set_text("description", params, 512)

    def api_getmydescription(self, params: dict, files: dict) -> dict:
        with self.state.lock:
            return {
                "description": self.state.descriptions.get(
                    ("description", language_param(params)), ""
                )
            }

    def api_setmyshortdescription(self, params: dict, files: dict) -> bool:
        return self._set_text("short_description", params, 120)

    def api_getmyshortdescription(self, params: dict, files: dict) -> dict:
        with self.state.lock:
            text = self.state.descriptions.get(("short_description", language_param(params)), "")
            return {"short_description": text}

    def _set_text(self, key: str, params: dict, limit: int) -> bool:
        text = str(params.get(key) or "")
        if len(text) > limit:
            raise bad_request(f"{key.upper()}_INVALID")
        with self.state.lock:
            self.state.descriptions[(key, language_param(params))] = text  # empty: back to none
        return True

    def api_sendpoll(self, params: dict, files: dict) -> dict:
        chat = self.state.existing_chat(params)
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
        with self.state.lock:
            poll_id = str(5_000_000_000_000_000_000 + self.state.count())
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
            self.state.polls[poll_id] = {
                "poll": poll,
                "chat_id": chat.id,
                "message_id": message["message_id"],
                "votes": {},
            }
            return json.loads(json.dumps(message))

    def api_stoppoll(self, params: dict, files: dict) -> dict:
        chat = self.state.existing_chat(params)
        with self.state.lock:
            message = chat.messages.get(int(params.get("message_id") or 0))
            if message is None or "poll" not in message or message["from"]["id"] != BOT_ID:
                raise bad_request("message with poll to stop not found")
            poll = self.state.polls[message["poll"]["id"]]["poll"]
            if poll["is_closed"]:
                raise bad_request("poll has already been closed")
            poll["is_closed"] = True
            markup = json_param(params.get("reply_markup"))
            if markup:
                message["reply_markup"] = markup
            return json.loads(json.dumps(poll))

    def api_getchat(self, params: dict, files: dict) -> dict:
        chat = self.state.existing_chat(params)
        return {**self.state.chat_json(chat), "accent_color_id": 0, "max_reaction_count": 11}

    def api_getchatadministrators(self, params: dict, files: dict) -> list[dict]:
        chat = self.state.existing_chat(params)
        return [
            {"status": "administrator", "user": self.state.user(u), **ADMIN_RIGHTS}
            for u in sorted(chat.admins)
        ]

    def api_getchatmember(self, params: dict, files: dict) -> dict:
        chat = self.state.existing_chat(params)
        user_id = int(params.get("user_id") or 0)
        if user_id in chat.admins:
            return {"status": "administrator", "user": self.state.user(user_id), **ADMIN_RIGHTS}
        return {"status": "member", "user": self.state.user(user_id)}

    def api_answerinlinequery(self, params: dict, files: dict) -> bool:
        results = json_param(params.get("results"))
        with self.state.lock:
            entry = self.state.inline_queries.get(str(params.get("inline_query_id")))
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
        button = json_param(params.get("button")) if params.get("button") else None
        if button is not None:
            self._check_results_button(button)
        with self.state.lock:
            entry["answered"] = {
                "results": results,
                "next_offset": str(params.get("next_offset") or ""),
                "cache_time": int(params.get("cache_time") if "cache_time" in params else 300),
                "is_personal": flag_param(params.get("is_personal")),
                "button": button,
            }
        return True

    @staticmethod
    def _check_results_button(button: object) -> None:
        """An InlineQueryResultsButton: a text and either a web app or a start parameter
        (1-64 of A-Z a-z 0-9 _ -, what /start accepts from a deep link)."""
        if not isinstance(button, dict) or not str(button.get("text") or "").strip():
            raise bad_request("BUTTON_TEXT_INVALID")
        start = button.get("start_parameter")
        if ("web_app" in button) == (start is not None):
            raise bad_request("BUTTON_TYPE_INVALID")
        if start is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", str(start)):
            raise bad_request("START_PARAM_INVALID")

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
            with self.state.lock:
                if result["photo_file_id"] not in self.state.files:
                    raise bad_request("wrong file identifier/HTTP URL specified")
            caption, _ = parse_text(result.get("caption") or "", result.get("parse_mode"), "c")
            if utf16_len(caption) > 1024:
                raise bad_request("MEDIA_CAPTION_TOO_LONG")
        else:
            raise bad_request(f"unsupported inline result type {kind!r} in this server")
        url = result.get("thumbnail_url")
        if url is not None and not str(url).startswith(("http://", "https://")):
            raise bad_request("RESULT_THUMB_URL_INVALID")

    def _new_message(self, chat: Chat, params: dict, **content: Any) -> dict:
        with self.state.lock:
            message_id = chat.next_message_id
            chat.next_message_id += 1
            message = {
                "message_id": message_id,
                "from": bot_user(),
                "chat": self.state.chat_json(chat),
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
            with self.state.lock:
                stored = self.state.chats[message["chat"]["id"]].messages[message["message_id"]]
                stored.update(
                    {k: message[k] for k in ("caption", "caption_entities") if k in message}
                )

    # As the real Bot API: getFile -> {"file_id", "file_unique_id", "file_size", "file_path"},
    # the bytes at <base_file_url><token>/<file_path>.
    def _photo_file(self, params: dict) -> dict | None:
        """getFile for a photo a user sent (push_photo); None when the id is not one."""
        with self.state.lock:
            stored = self.state.files.get(str(params.get("file_id") or ""))
            if stored is None:
                return None
            size = next(
                (item for item in stored.sizes if item.get("file_id") == params["file_id"]),
                {"file_size": len(stored.data)},
            )
            if int(size.get("file_size") or 0) > 20 * 1024 * 1024:
                raise bad_request("file is too big")
            unique = size.get("file_unique_id", stored.file_unique_id)
            path = self.state.file_path_of.get(unique)
            if path is None:
                folder = "documents" if "file_name" in size else "photos"
                suffix = os.path.splitext(size.get("file_name") or "x.jpg")[1] or ".jpg"
                path = f"{folder}/file_{len(self.state.file_paths)}{suffix}"
                self.state.file_path_of[unique] = path
                self.state.file_paths[path] = stored.data
            return {
                "file_id": params["file_id"],
                "file_unique_id": unique,
                "file_size": int(size.get("file_size") or len(stored.data)),
                "file_path": path,
            }

    def api_senddocument(self, params: dict, files: dict) -> dict:
        chat = self.state.existing_chat(params)
        value = params.get("document")
        if isinstance(value, str) and value.startswith("attach://"):
            value = files.get(value[len("attach://") :])
        if isinstance(value, bytes):
            if not value:
                raise bad_request("file must be non-empty")
            name = params.get("document_file_name") or "document"
            stored = self.state.store_document(value, name, mime_of(name))
        elif isinstance(value, str) and value:
            with self.state.lock:
                stored = self.state.documents.by_id.get(value)
            if stored is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
        else:
            raise bad_request("there is no document in the request")
        message = self._new_message(chat, params, document=describe_document(stored))
        self._caption(message, params)
        return message

    def api_getfile(self, params: dict, files: dict) -> dict:
        file_id = str(params.get("file_id") or "")
        with self.state.lock:
            stored = self.state.documents.by_id.get(file_id)
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
        if match is None or match.group(1) != self.state.token:
            return 401, b'{"ok":false,"error_code":401,"description":"Unauthorized"}'
        with self.state.lock:
            found = [
                d.data for d in self.state.documents.by_id.values() if d.file_path == match.group(2)
            ]
            photos = self.state.file_paths  # photos users sent (push_photo)
            if not found and match.group(2) in photos:
                found = [photos[match.group(2)]]
            if not found:
                return 404, b'{"ok":false,"error_code":404,"description":"Not Found"}'
            self.state.downloads.append(match.group(2))
        return 200, found[0]
