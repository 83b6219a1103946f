"""Running imports: from the profile store's queue, on a small pool of their own.

An import is queued in the profile store (:meth:`ProfileStore.queue_import`) before any work,
with its file once downloaded, and leaves the queue only after its person was told how it
went; its ratings and its outcome are stored in one transaction. So a bot killed mid-import
runs it when it starts again (:meth:`Importer.resume`), and a bot killed after storing it
sends the stored result without importing again.

Reading and matching a large file takes seconds of CPU: it runs on this feature's own pool
(``bot.import_workers`` threads), never on the default executor that title lookups share,
and one person has at most one import running (:meth:`Importer.claim`).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from telegram import Bot, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import TelegramError

from reelpick.profiles import (
    MovieMatcher,
    ProfileImportError,
    ProfileStore,
    QueuedImport,
    read_import,
)
from reelpick.redact import redact

from ..i18n import translator
from ..services import BotServices
from . import texts

log = logging.getLogger(__name__)

MB = 1024 * 1024
# How long a new file waits for the person's previous import to finish reporting.
REPORT_GRACE_SECONDS = 3.0


class Importer:
    """The import pool, who has an import running, and the queue's runner."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._running: set[str] = set()
        self._matcher: MovieMatcher | None = None

    def claim(self, owner: str) -> bool:
        """Start ``owner``'s turn; False while their previous import still runs."""
        if owner in self._running:
            return False
        self._running.add(owner)
        return True

    def release(self, owner: str) -> None:
        self._running.discard(owner)

    async def claim_soon(self, owner: str, within: float = REPORT_GRACE_SECONDS) -> bool:
        """:meth:`claim`, waiting up to ``within`` seconds for the person's previous import.

        An import's turn ends only after its report went out (the report leaves the queue
        last), so a file sent the moment the previous result arrives would otherwise be
        told that import is still running.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not self.claim(owner):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def resume(self, bot: Bot, s: BotServices) -> None:
        """After a start: run what a stop interrupted, each person's imports in turn."""
        pending = await asyncio.to_thread(s.profiles.queued_imports)
        owners = list(dict.fromkeys(q.owner for q in pending))
        if owners:
            log.info("resuming the imports of %d people", len(owners))
        tasks = [self._drain_and_release(bot, s, o) for o in owners if self.claim(o)]
        await asyncio.gather(*tasks)

    async def _drain_and_release(self, bot: Bot, s: BotServices, owner: str) -> None:
        try:
            await self.drain(bot, s, owner)
        finally:
            self.release(owner)

    async def drain(self, bot: Bot, s: BotServices, owner: str) -> None:
        """Run and report every queued import of ``owner`` (who has claimed their turn)."""
        for queued in await asyncio.to_thread(s.profiles.queued_imports, owner):
            try:
                await self._run(bot, s, queued)
            except TelegramError as exc:  # the report could not go out: kept for a restart
                log.warning("reporting import %s failed: %s", queued.id, redact(exc))
                return
            except Exception:
                log.exception("import %s failed", queued.id)
                _ = translator(queued.language)
                await _send(bot, queued, _("Sorry, something went wrong. Please try again."))
            await asyncio.to_thread(s.profiles.drop_import, queued.id)

    async def _run(self, bot: Bot, s: BotServices, queued: QueuedImport) -> None:
        _ = translator(queued.language)
        if queued.outcome is None:
            data = queued.data
            if data is None:
                try:
                    file = await bot.get_file(queued.file_id)
                    data = bytes(await file.download_as_bytearray())
                except TelegramError as exc:
                    log.warning("downloading import %s failed: %s", queued.id, redact(exc))
                    await _send(bot, queued, _(texts.DOWNLOAD_FAILED, name=queued.file_name))
                    return
                await asyncio.to_thread(s.profiles.attach_import_data, queued.id, data)
            loop = asyncio.get_running_loop()
            max_bytes = int(s.config.settings.bot.max_import_mb * MB)
            await loop.run_in_executor(self._pool_for(s), self._import, s, queued, data, max_bytes)
            done = await asyncio.to_thread(s.profiles.queued_imports, queued.owner)
            found = [q for q in done if q.id == queued.id]
            if not found:  # the person deleted their profile meanwhile: nothing to report
                return
            queued = found[0]
        refused, result = queued.refused, queued.result()
        if refused is not None:
            await _send(bot, queued, texts.import_refused(refused.rstrip("."), _))
        elif result is not None:
            log.info(
                "import %s: %s, %d rows, %d matched, %d changed",
                queued.id,
                result.format,
                result.rows,
                result.matched,
                result.changed,
            )
            report = texts.import_report(result, queued.file_name, _)
            await _send(bot, queued, report, ParseMode.HTML)

    def _import(self, s: BotServices, queued: QueuedImport, data: bytes, max_bytes: int) -> None:
        """On the import pool: read, match and store, the outcome recorded with the ratings."""
        store: ProfileStore = s.profiles
        try:
            parsed = read_import(
                data, self._matcher_for(s), filename=queued.file_name, max_bytes=max_bytes
            )
        except ProfileImportError as exc:
            store.refuse_import(queued.id, str(exc))
            return
        store.apply(queued.owner, parsed, queued=queued.id)

    def _pool_for(self, s: BotServices) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=s.config.settings.bot.import_workers, thread_name_prefix="import"
            )
        return self._pool

    def _matcher_for(self, s: BotServices) -> MovieMatcher:
        """One matcher per dataset (it caches titles across imports); rebuilt after /reload."""
        app = s.reelpick
        if self._matcher is None or self._matcher.dataset is not app.dataset:
            self._matcher = app.movie_matcher()
        return self._matcher

    def close(self) -> None:
        """Let the running import finish; no new ones start."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


async def _send(bot: Bot, queued: QueuedImport, text: str, parse_mode: str | None = None) -> None:
    """The report, as a reply to the file when that message still exists."""
    reply_to = None
    if queued.message_id is not None:
        reply_to = ReplyParameters(queued.message_id, allow_sending_without_reply=True)
    await bot.send_message(queued.chat_id, text, parse_mode=parse_mode, reply_parameters=reply_to)
