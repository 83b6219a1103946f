"""Posters to Telegram: captions, albums, and reuse of uploaded files.

Shared by the /similar flow and movie nights:

    sender = PosterSender(poster_store, cache)          # one per bot (see BotServices)
    caption = album_caption("<b>cosine-CF</b>", [dataset.label(m) for m in ids])
    messages = await sender.send(bot, chat_id, ids, caption, reply_to=message_id)

A poster is uploaded once per bot: the ``file_id`` Telegram returns is stored in diskcache
under the poster's content hash and sent instead of the bytes from then on. Posters are read
(or fetched, or drawn) concurrently in threads. One id sends a photo, 2-10 an album, more
several albums (the caption goes on the first photo). ``send_captioned`` gives every photo
its own caption instead (movie nights' numbered candidates).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import TypeVar

import diskcache
from telegram import (
    Bot,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from reelpick.data import Dataset
from reelpick.posters import Poster, PosterStore
from reelpick.redact import redact

from .i18n import N_, Translator, translator

log = logging.getLogger(__name__)

CAPTION_LIMIT = 1024
TEXT_LIMIT = 4096
ALBUM_MAX = 10
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # texts whose links need no preview card
_TAGS = re.compile(r"<[^>]+>")
_Item = TypeVar("_Item")
# MovieLens's fixed genre words, shown in headers and captions in the reader's language
# (any other genre a dataset brings is shown as it is).
GENRES = frozenset(
    {
        N_("Action"),
        N_("Adventure"),
        N_("Animation"),
        N_("Children"),
        N_("Comedy"),
        N_("Crime"),
        N_("Documentary"),
        N_("Drama"),
        N_("Fantasy"),
        N_("Film-Noir"),
        N_("Horror"),
        N_("IMAX"),
        N_("Musical"),
        N_("Mystery"),
        N_("Romance"),
        N_("Sci-Fi"),
        N_("Thriller"),
        N_("War"),
        N_("Western"),
    }
)
NO_GENRES = "(no genres listed)"  # MovieLens's marker for none, never shown


def genre_line(genres: Sequence[str], translate: Translator | None = None) -> str:
    """``"Action · Crime"`` (escaped HTML) in the reader's language; "" for none."""
    _ = translate or translator(None)
    shown = [_(g) if g in GENRES else g for g in genres if g and g != NO_GENRES]
    return html.escape(" · ".join(shown))


def strip_tags(html_text: str) -> str:
    """The text a person sees of an HTML message: tags removed, entities decoded."""
    return html.unescape(_TAGS.sub("", html_text))


def visible_length(html_text: str) -> int:
    """Length Telegram counts for an HTML text: tags removed, entities decoded, UTF-16 units."""
    return len(strip_tags(html_text).encode("utf-16-le")) // 2


def album_caption(
    heading: str,
    lines: Sequence[str],
    numbered: bool = True,
    limit: int = CAPTION_LIMIT,
    links: Sequence[str] | None = None,
) -> str:
    """``heading`` (HTML) then one escaped line per title, cut to fit Telegram's caption limit.
    ``links`` (one URL per line, such as a "watch later" deep link) puts a 🔖 link first."""
    caption = heading
    for rank, line in enumerate(lines, 1):
        entry = f"\n{rank}. {html.escape(line)}" if numbered else f"\n{html.escape(line)}"
        if links is not None and rank <= len(links):
            entry = f'\n<a href="{html.escape(links[rank - 1])}">🔖</a> ' + entry[1:]
        if visible_length(caption + entry) > limit - 2:
            caption += "\n…"
            break
        caption += entry
    return caption


def movie_header(dataset: Dataset, movie_id: int, translate: Translator | None = None) -> str:
    """HTML header of an answer: title with year, genres (in the reader's language),
    IMDb/TMDB links."""
    parts = [f"<b>{html.escape(dataset.label(movie_id))}</b>"]
    genres = genre_line(dataset.genres(movie_id), translate)
    if genres:
        parts.append(genres)
    links = dataset.links(movie_id)
    if links:
        parts.append(
            " · ".join(f'<a href="{html.escape(url)}">{name}</a>' for name, url in links.items())
        )
    return "\n".join(parts)


class PosterSender:
    """Sends posters as photos/albums, reusing file_ids across chats and restarts."""

    def __init__(
        self, store: PosterStore, cache: diskcache.Cache, size: str | None = None, memo: int = 2048
    ) -> None:
        self.store = store
        self.cache = cache
        self.size = size
        # Posters kept in memory (~20 kB each): a warm answer reads and decodes nothing.
        # Placeholders only for a while, so that a poster fetched later replaces them soon.
        self._memo: OrderedDict[int, tuple[Poster, float]] = OrderedDict()  # -> (poster, until)
        self._memo_size = memo
        self.placeholder_seconds = 600.0
        self._ids: dict[str, str] = {}  # file_ids read from or written to the disk cache

    async def load(self, movie_ids: Sequence[int]) -> list[Poster]:
        """Posters of ``movie_ids`` (real or placeholder); those not in memory read in threads."""
        now = time.monotonic()
        found: dict[int, Poster | None] = {}
        for movie_id in map(int, movie_ids):
            kept = self._memo.get(movie_id)
            found[movie_id] = kept[0] if kept is not None and kept[1] > now else None
        missing = [m for m, poster in found.items() if poster is None]
        loaded = await asyncio.gather(
            *(asyncio.to_thread(self.store.get, m, self.size) for m in missing)
        )
        for movie_id, poster in zip(missing, loaded, strict=True):
            found[movie_id] = poster
            until = now + self.placeholder_seconds if poster.placeholder else float("inf")
            self._memo[movie_id] = (poster, until)
        for movie_id in found:
            self._memo.move_to_end(movie_id)
        while len(self._memo) > self._memo_size:
            self._memo.popitem(last=False)
        loaded_all = {m: poster for m, poster in found.items() if poster is not None}
        return [loaded_all[int(m)] for m in movie_ids]

    def forget(self) -> None:
        """Drop the posters and file_ids kept in memory (after /reload, say)."""
        self._memo.clear()
        self._ids.clear()

    def needs_upload(self, bot: Bot, posters: Sequence[Poster]) -> bool:
        """Whether sending ``posters`` uploads any file (no stored file_id for one of them)."""
        return any(self.file_id(bot, p) is None for p in posters)

    async def send(
        self,
        bot: Bot,
        chat_id: int,
        movie_ids: Sequence[int],
        caption: str,
        *,
        reply_to: int | None = None,
        posters: list[Poster] | None = None,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> list[Message]:
        """Send the posters of ``movie_ids`` with ``caption`` (HTML) on the first one.

        ``reply_markup`` (buttons) needs a single poster: Telegram puts none under albums.
        """
        if not movie_ids:
            raise ValueError("no posters to send")
        if reply_markup is not None and len(movie_ids) != 1:
            raise ValueError("buttons go under a single poster, not an album")
        captions = [caption] + [None] * (len(movie_ids) - 1)
        return await self._send_all(
            bot, chat_id, movie_ids, captions, ParseMode.HTML, reply_to, posters, reply_markup
        )

    async def send_captioned(
        self, bot: Bot, chat_id: int, movie_ids: Sequence[int], captions: Sequence[str]
    ) -> list[Message]:
        """Like :meth:`send`, but every photo carries its own plain-text caption, so every
        full title is shown however long the list is."""
        if len(captions) != len(movie_ids):
            raise ValueError("one caption per poster")
        return await self._send_all(bot, chat_id, movie_ids, list(captions), None, None, None)

    async def _send_all(
        self,
        bot: Bot,
        chat_id: int,
        movie_ids: Sequence[int],
        captions: list[str | None],
        parse_mode: str | None,
        reply_to: int | None,
        posters: list[Poster] | None,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> list[Message]:
        posters = posters if posters is not None else await self.load(movie_ids)
        sent: list[Message] = []
        for chunk in _chunks(list(zip(posters, captions, strict=True))):
            sent += await self._send_chunk(bot, chat_id, chunk, parse_mode, reply_to, reply_markup)
        return sent

    def file_id(self, bot: Bot, poster: Poster) -> str | None:
        """The stored file_id of ``poster`` for this bot, if it was uploaded before."""
        key = _key(bot, poster)
        if key not in self._ids:
            found = self.cache.get(key)
            if found is None:
                return None
            self._ids[key] = found
        return self._ids[key]

    def remember(self, bot: Bot, poster: Poster, file_id: str | None) -> None:
        """Store (or, with None, forget) the file_id Telegram gave ``poster`` for this bot."""
        key = _key(bot, poster)
        if file_id is None:
            self._ids.pop(key, None)
            self.cache.delete(key)
        else:
            self._ids[key] = file_id
            self.cache.set(key, file_id)

    async def _send_chunk(
        self,
        bot: Bot,
        chat_id: int,
        chunk: list[tuple[Poster, str | None]],
        parse_mode: str | None,
        reply_to: int | None,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> list[Message]:
        """One photo or album (``chunk``: posters with their captions), file_ids reused."""
        reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        for attempt in range(2):
            known = [None if attempt else self.file_id(bot, p) for p, _ in chunk]
            try:
                if len(chunk) == 1:
                    (poster, caption), file_id = chunk[0], known[0]
                    message = await bot.send_photo(
                        chat_id,
                        file_id or poster.data,
                        caption=caption,
                        parse_mode=parse_mode,
                        reply_parameters=reply,
                        reply_markup=reply_markup,
                    )
                    messages = [message]
                else:
                    media = [
                        InputMediaPhoto(
                            file_id or poster.data,
                            caption=caption,
                            parse_mode=parse_mode,
                        )
                        for (poster, caption), file_id in zip(chunk, known, strict=True)
                    ]
                    messages = list(
                        await bot.send_media_group(chat_id, media, reply_parameters=reply)
                    )
            except BadRequest as exc:
                stale = (
                    "file identifier" in str(exc).lower() or "file reference" in str(exc).lower()
                )
                if attempt == 0 and stale and any(known):
                    # A stored file_id no longer works (another bot token, a reset server):
                    # forget this chunk's ids and upload the bytes.
                    log.warning("stored poster file ids refused (%s); uploading again", redact(exc))
                    for poster, _ in chunk:
                        self.remember(bot, poster, None)
                    continue
                raise
            for (poster, _), file_id, message in zip(chunk, known, messages, strict=False):
                if file_id is None and message.photo:
                    self.remember(bot, poster, message.photo[-1].file_id)
            return messages
        raise AssertionError("unreachable")


class ChatAction:
    """Shows ``action`` ("sending photo…") in a chat from :meth:`start` until :meth:`stop`.

    Telegram shows a chat action for 5 s, so it is repeated every ``every`` seconds.
    """

    def __init__(
        self, bot: Bot, chat_id: int, action: str = "upload_photo", every: float = 4.5
    ) -> None:
        self.bot, self.chat_id, self.action, self.every = bot, chat_id, action, every
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        """Show the action now (before the upload starts), then keep it up in the background."""
        if self._task is None:
            await self._show()
            self._task = asyncio.create_task(self._keep_showing())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def __aenter__(self) -> ChatAction:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _show(self) -> None:
        try:
            await self.bot.send_chat_action(self.chat_id, self.action)
        except TelegramError as exc:  # cosmetic: never let it break an answer
            log.debug("chat action failed: %s", redact(exc))

    async def _keep_showing(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            await self._show()


def _chunks(items: list[_Item]) -> list[list[_Item]]:
    """Albums of at most 10, never a lone photo after an album (11 -> 6 + 5); none for none."""
    count = len(items)
    if count == 0:
        return []
    n = -(-count // ALBUM_MAX)
    size = -(-count // n)
    return [items[i : i + size] for i in range(0, count, size)]


def _key(bot: Bot, poster: Poster) -> str:
    # file_ids belong to one bot: the bot id is part of the key.
    return f"file-id:{bot.id}:{poster.content_hash}"
