"""Import by sending a file: a Letterboxd or IMDb ratings CSV sent as a document, in private.

The document's size (``file_size``) is checked before anything is downloaded, and the bytes
again after (``bot.max_import_mb``); only files that can be a CSV are downloaded at all.
:func:`reelpick.profiles.import_profile` then reads, matches and stores the file in one
transaction off the event loop: a refused file stores nothing and gets one line saying
why; an accepted one gets how many rows matched and a few that did not (row and reason).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import PurePath

from telegram import Document, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from reelpick.profiles import MovieMatcher, ProfileImportError, import_profile
from reelpick.redact import redact

from ..context import BotContext
from ..i18n import Translator, translator_for
from ..rating_buttons import owner_of
from ..services import BotServices
from ..updates import message_of
from . import texts

log = logging.getLogger(__name__)

MB = 1024 * 1024
CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
# What phones and desktops call a CSV: text, Excel's CSV type, or nothing in particular.
CSV_TYPES = {"application/csv", "application/vnd.ms-excel", "application/octet-stream"}
ZIP_TYPES = {"application/zip", "application/x-zip-compressed"}


class Upload:
    """A document sent in a private chat."""

    def __init__(self) -> None:
        self._matcher: MovieMatcher | None = None

    async def on_document(self, update: Update, context: BotContext) -> None:
        message, user = message_of(update), update.effective_user
        document = message.document
        if document is None or user is None:
            return
        _ = translator_for(update)
        s = context.services
        filename = _display_name(document, _)
        limit = s.config.settings.bot.max_import_mb
        verdict = _precheck(document, filename, limit, _)
        if verdict:
            await message.reply_text(verdict)
            return
        try:
            file = await context.bot.get_file(document.file_id)
            data = bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("downloading an import from user %s failed: %s", user.id, redact(exc))
            await message.reply_text(_(texts.DOWNLOAD_FAILED, name=filename))
            return
        try:
            matcher = await asyncio.to_thread(self._matcher_for, s)
            result = await asyncio.to_thread(
                import_profile,
                s.profiles,
                owner_of(user),
                data,
                matcher,
                filename=filename,
                max_bytes=int(limit * MB),
            )
        except ProfileImportError as exc:
            await message.reply_text(texts.import_refused(str(exc).rstrip("."), _))
            return
        log.info(
            "user %s imported %s: %d rows, %d matched, %d changed",
            user.id,
            result.format,
            result.rows,
            result.matched,
            result.changed,
        )
        await message.reply_text(
            texts.import_report(result, filename, _), parse_mode=ParseMode.HTML
        )

    def _matcher_for(self, s: BotServices) -> MovieMatcher:
        """One matcher per dataset (it caches titles across imports); rebuilt after /reload."""
        app = s.reelpick
        if self._matcher is None or self._matcher.dataset is not app.dataset:
            self._matcher = MovieMatcher(app.dataset, index=app.titles)
        return self._matcher


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
