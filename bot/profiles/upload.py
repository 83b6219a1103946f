"""Import by sending a file: a Letterboxd or IMDb ratings CSV sent as a document, in private.

The document's size (``file_size``) is checked before anything is downloaded, and the bytes
again after (``bot.max_import_mb``); only files that can be a CSV are downloaded at all.
A file that passes is queued and run by :class:`~.importer.Importer` (one import per person
at a time): a refused file stores nothing and gets one line saying why; an accepted one
gets how many rows matched and a few that did not (row and reason).
"""

from __future__ import annotations

import asyncio
from pathlib import PurePath

from telegram import Document, Update

from ..context import BotContext
from ..i18n import Translator, translator_for
from ..rating_buttons import owner_of
from ..updates import message_of
from . import texts
from .importer import MB, Importer

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
# What phones and desktops call a CSV: text, Excel's CSV type, or nothing in particular.
CSV_TYPES = {"application/csv", "application/vnd.ms-excel", "application/octet-stream"}
ZIP_TYPES = {"application/zip", "application/x-zip-compressed"}


class Upload:
    """A document sent in a private chat: checked, queued, and run by the :class:`Importer`."""

    def __init__(self, importer: Importer) -> None:
        self.importer = importer

    async def on_document(self, update: Update, context: BotContext) -> None:
        message, user = message_of(update), update.effective_user
        document = message.document
        if document is None or user is None:
            return
        _ = translator_for(update)
        s = context.services
        filename = _display_name(document, _)
        verdict = _precheck(document, filename, s.config.settings.bot.max_import_mb, _)
        if verdict:
            await message.reply_text(verdict)
            return
        owner = owner_of(user)
        if not await self.importer.claim_soon(owner):
            await message.reply_text(_(texts.STILL_IMPORTING))
            return
        try:
            # Recorded before any work: a restart finds it and answers the person.
            await asyncio.to_thread(
                s.profiles.queue_import,
                owner,
                message.chat_id,
                document.file_id,
                filename,
                message_id=message.message_id,
                language=user.language_code,
            )
            await self.importer.drain(context.bot, s, owner)
        finally:
            self.importer.release(owner)


def _display_name(document: Document, _: Translator) -> str:
    # Only the last part of what the client says, shortened: it is shown back in replies.
    unnamed = _("the file")
    name = PurePath((document.file_name or unnamed).replace("\\", "/")).name or unnamed
    return name if len(name) <= 60 else name[:57] + "…"


def _precheck(document: Document, filename: str, limit_mb: float, _: Translator) -> str | None:
    """The one line refusing ``document`` before any download, or None to go ahead."""
    suffix = PurePath(filename).suffix.lower()
    mime = (document.mime_type or "").lower()
    if suffix == ".zip" or mime in ZIP_TYPES:
        return _(texts.ZIPPED, name=filename)
    if not (suffix in CSV_SUFFIXES or mime.startswith("text/") or mime in CSV_TYPES):
        return _(texts.NOT_A_CSV, name=filename)
    size = document.file_size
    if size is not None and size > limit_mb * MB:
        return _(
            texts.TOO_BIG, name=filename, size=_.number(size / MB, 1), limit=_.number(limit_mb)
        )
    return None
