"""Running a python-telegram-bot Application against the test server inside a test's event
loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any


@contextlib.asynccontextmanager
async def running(application: Any, *, poll_timeout: int = 1) -> AsyncIterator[Any]:
    """Run a python-telegram-bot Application's long polling inside the test's event loop.

    Calls ``post_init``/``post_shutdown`` as ``run_polling`` would (setMyCommands and so on).
    """
    from telegram import Update

    async with application:
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        await application.updater.start_polling(
            poll_interval=0, timeout=poll_timeout, allowed_updates=Update.ALL_TYPES
        )
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()
    if application.post_shutdown is not None:
        await application.post_shutdown(application)
