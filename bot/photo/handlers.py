"""A photo (or an image file) as the query: which movie's poster is it?

Private chats: every photo and document. Groups: a photo whose caption mentions the bot or
that replies to the bot. The size Telegram declares is checked before anything is
downloaded; the bytes are checked as an image (Pillow, pixel cap) before the worker sees
them. One photo at a time per chat and per person, and at most ``[photo] waiting`` photos
for the one image worker in the whole bot; more are told "busy" at once. Buttons carry ``photo:pick:<token>:<movie id>`` or
``photo:look:<token>``; the token names a result kept for that chat only, and a pick must be
one of that result's guesses, so forged data gets "out of date".
"""

from __future__ import annotations

import asyncio
import html
import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from reelpick.imagesearch import ImageSearchFailed
from reelpick.posters import BadImage, check_image
from reelpick.redact import redact

from ..context import BotContext
from ..i18n import Translator, translator_for
from ..media import ChatAction, album_caption
from ..movie_answer import answer_movie
from ..replies import STALE
from ..scheduling import QUEUE_FULL, sender_key
from ..services import BotServices
from ..updates import message_of, query_of
from . import texts
from .judge import Recognition, Verdict, judge
from .service import PhotoService

log = logging.getLogger(__name__)

CALLBACK = re.compile(r"photo:(?:pick:([0-9a-f]{8}):(\d{1,10})|look:([0-9a-f]{8}))")
BUTTON_TEXT = 60


def photo_service(context: BotContext) -> PhotoService:
    return context.services.features.get(PhotoService)


async def photo_message(update: Update, context: BotContext) -> None:
    """A photo or a document: identify the poster, or say why not. Stops other handlers."""
    message = update.effective_message
    if message is None or not _addressed_to_bot(message, context):
        return
    _ = translator_for(update)
    s, photos = context.services, photo_service(context)
    chat_id = message.chat_id
    if message.photo:
        file_id, declared = message.photo[-1].file_id, message.photo[-1].file_size
    elif message.document is not None and (message.document.mime_type or "").startswith("image/"):
        file_id, declared = message.document.file_id, message.document.file_size
    else:
        await message.reply_text(_(texts.NOT_IMAGE))
        raise ApplicationHandlerStop
    if declared is not None and declared > photos.max_bytes:
        await _too_big(message, photos, _)
        raise ApplicationHandlerStop
    person = sender_key(update)
    if chat_id in photos.busy or (person is not None and person in photos.busy_people):
        await message.reply_text(_(texts.STILL_LOOKING))
        raise ApplicationHandlerStop
    if photos.line_full():  # the one worker has enough photos waiting: say so at once
        s.busy_notices.post(context.application, chat_id, _(QUEUE_FULL))
        raise ApplicationHandlerStop
    # No await since the checks: no other update slips in between.
    photos.busy.add(chat_id)
    if person is not None:
        photos.busy_people.add(person)
    try:
        async with ChatAction(context.bot, chat_id, "typing"):
            await _identify(update, context, s, photos, file_id)
    finally:
        photos.busy.discard(chat_id)
        if person is not None:
            photos.busy_people.discard(person)
    raise ApplicationHandlerStop


async def _identify(
    update: Update,
    context: BotContext,
    s: BotServices,
    photos: PhotoService,
    file_id: str,
) -> None:
    _ = translator_for(update)
    message = message_of(update)
    try:
        file = await context.bot.get_file(file_id)
        if file.file_size is not None and file.file_size > photos.max_bytes:
            await _too_big(message, photos, _)
            return
        data = bytes(await file.download_as_bytearray())
    except TelegramError as exc:  # an expired or unknown file id, a file Telegram won't serve
        log.info("photo in chat %s not fetched: %s", message.chat_id, redact(exc))
        await message.reply_text(_(texts.TRY_AGAIN))
        return
    try:
        await asyncio.to_thread(check_image, data, photos.max_bytes, photos.max_pixels)
    except BadImage as exc:
        log.info("photo in chat %s refused: %s", message.chat_id, exc)
        if "limit" in str(exc):
            await _too_big(message, photos, _)
        else:
            await message.reply_text(_(texts.NOT_IMAGE))
        return
    chosen = s.settings.get(message.chat_id, s.reelpick.registry.enabled())
    try:
        found = await s.pictures.identify(s.reelpick, data, chosen.k + 1)
    except LookupError:
        await message.reply_text(_(texts.UNAVAILABLE))
        return
    except ImageSearchFailed as exc:
        log.error("photo search for chat %s failed: %s", message.chat_id, exc)
        await message.reply_text(_(texts.TRY_AGAIN))
        return
    answer = next((a for a in found.answers if a.ok and a.neighbours), None)
    if answer is None:
        await message.reply_text(_(texts.UNKNOWN))
        return
    verdict = judge(answer.neighbours, photos.thresholds, chosen.k, found.shares)
    token = photos.remember(message.chat_id, verdict)
    look = [InlineKeyboardButton(_(texts.LOOKALIKES_BUTTON), callback_data=f"photo:look:{token}")]
    if verdict.kind == Recognition.MATCH and verdict.movie_id is not None:
        await message.reply_html(
            _(texts.MATCH, title=html.escape(s.label(verdict.movie_id))),
            reply_markup=InlineKeyboardMarkup([look]) if verdict.lookalikes else None,
            do_quote=True,
        )
        await answer_movie(
            context,
            message.chat_id,
            verdict.movie_id,
            reply_to=message.message_id,
            user=update.effective_user,
        )
        return
    rows = [
        [InlineKeyboardButton(_short(s.label(m)), callback_data=f"photo:pick:{token}:{m}")]
        for m in verdict.guesses
    ]
    if verdict.lookalikes:
        rows.append(look)
    await message.reply_text(
        _(texts.UNSURE) if verdict.guesses else _(texts.UNKNOWN),
        reply_markup=InlineKeyboardMarkup(rows) if rows else None,
        do_quote=True,
    )


async def photo_button(update: Update, context: BotContext) -> None:
    """A guess ("It's this one") or "posters that look like this", checked against what was
    offered in this chat."""
    query = query_of(update)
    _ = translator_for(update)
    s, photos = context.services, photo_service(context)
    chat_id = update.effective_chat.id if update.effective_chat else None
    match = CALLBACK.fullmatch(query.data or "")
    result = None
    if match and chat_id is not None:
        result = photos.recall(chat_id, match.group(1) or match.group(3))
    picked = int(match.group(2)) if match and match.group(2) else None
    if (
        chat_id is None
        or result is None
        or (picked is not None and picked not in result.verdict.guesses)
    ):
        await query.answer(_(STALE))
        return
    await query.answer()
    if picked is not None:
        if query.message is not None:
            try:
                await query.edit_message_text(
                    _(texts.PICKED, title=html.escape(s.label(picked))),
                    parse_mode=ParseMode.HTML,
                )
            except TelegramError as exc:  # gone or unchanged: answer anyway
                log.info("could not edit the photo question: %s", redact(exc))
        reply_to = query.message.message_id if query.message is not None else None
        await answer_movie(context, chat_id, picked, reply_to=reply_to, user=query.from_user)
        return
    await _send_lookalikes(s, context, chat_id, result.verdict, _)


async def _send_lookalikes(
    s: BotServices,
    context: BotContext,
    chat_id: int,
    verdict: Verdict,
    _: Translator,
) -> None:
    ids = list(verdict.lookalikes)
    caption = album_caption(_(texts.LOOKALIKES_CAPTION), [s.label(m) for m in ids])
    async with s.chat_lock(chat_id):
        try:
            await s.sender.send(context.bot, chat_id, ids, caption)
        except TelegramError as exc:
            log.error("lookalike posters for chat %s failed: %s", chat_id, redact(exc))
            await context.bot.send_message(chat_id, _(texts.TRY_AGAIN))


def _addressed_to_bot(message: Message, context: BotContext) -> bool:
    """Private chats: always. Groups: a caption mentioning the bot, or a reply to it."""
    if message.chat.type == ChatType.PRIVATE:
        return True
    bot = context.bot
    mentioned = f"@{bot.username}".lower() in (message.caption or "").lower()
    replied = (
        message.reply_to_message is not None
        and message.reply_to_message.from_user is not None
        and message.reply_to_message.from_user.id == bot.id
    )
    return mentioned or replied


async def _too_big(message: Message, photos: PhotoService, _: Translator) -> None:
    await message.reply_text(_(texts.TOO_BIG, mb=_.number(photos.max_bytes // 1_000_000)))


def _short(text: str) -> str:
    return text if len(text) <= BUTTON_TEXT else text[: BUTTON_TEXT - 1] + "…"
