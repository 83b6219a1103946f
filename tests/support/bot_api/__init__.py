"""A Telegram Bot API server on 127.0.0.1 for tests and benchmarks, split by job:

- :mod:`.server`: :class:`BotAPIServer`, the Bot API methods and what simulated users do;
- :mod:`.state`: the bot's identity, chats, requests, stored files, faults, error answers;
- :mod:`.transport`: HTTP (routing, tokens, injected faults, request bodies);
- :mod:`.params` and :mod:`.entities`: parameters and message text as Telegram reads them;
- :mod:`.application` and :mod:`.sent`: running a bot against it, reading what the bot sent.
"""

from tests.support.bot_api.application import running
from tests.support.bot_api.sent import album_captions, album_media, buttons
from tests.support.bot_api.server import BotAPIServer
from tests.support.bot_api.state import BOT_ID, BOT_USERNAME, DEFAULT_TOKEN, Request

__all__ = [
    "BOT_ID",
    "BOT_USERNAME",
    "DEFAULT_TOKEN",
    "BotAPIServer",
    "Request",
    "album_captions",
    "album_media",
    "buttons",
    "running",
]
