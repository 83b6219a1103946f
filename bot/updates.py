"""The part of an update a handler was registered for, typed without ``None``.

PTB calls a command or message handler only with a message, a button handler only with a
callback query and an inline handler only with an inline query; these say so to the type
checker (and fail loudly, to the error handler, should that ever not hold).
:data:`PRIVATE_FILES` is which updates a file a person sends the bot arrives in.
"""

from __future__ import annotations

from telegram import CallbackQuery, Chat, InlineQuery, Message, Update
from telegram.ext import filters

# A file sent in a private chat (a new message, not an edit): rating and watchlist exports.
# Pictures are the photo feature's (a poster as the query).
PRIVATE_FILES = (
    filters.Document.ALL
    & ~filters.Document.IMAGE
    & filters.ChatType.PRIVATE
    & filters.UpdateType.MESSAGE
)


def message_of(update: Update) -> Message:
    """The message of a command or message update."""
    message = update.effective_message
    if message is None:
        raise ValueError(f"update {update.update_id} has no message")
    return message


def chat_of(update: Update) -> Chat:
    """The chat of a message, button or member update."""
    chat = update.effective_chat
    if chat is None:
        raise ValueError(f"update {update.update_id} has no chat")
    return chat


def query_of(update: Update) -> CallbackQuery:
    """The callback query of a button press."""
    query = update.callback_query
    if query is None:
        raise ValueError(f"update {update.update_id} is not a button press")
    return query


def inline_query_of(update: Update) -> InlineQuery:
    """The inline query of an inline update."""
    query = update.inline_query
    if query is None:
        raise ValueError(f"update {update.update_id} is not an inline query")
    return query
