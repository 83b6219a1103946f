"""A Telegram Bot API server on 127.0.0.1 for tests and benchmarks (see :mod:`.server`)."""

from tests.support.bot_api.server import *  # noqa: F403
