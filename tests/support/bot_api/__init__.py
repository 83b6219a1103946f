"""A Telegram Bot API server on 127.0.0.1 for tests and benchmarks, split by job:

- :mod:`.server`: :class:`BotAPIServer`, which puts the parts together and answers tests;
- :mod:`.state`: what the server knows (chats, requests, files, polls, queued updates);
- :mod:`.methods`: the Bot API methods the bot calls;
- :mod:`.users`: what simulated users do (texts, buttons, votes, photos, files, inline);
- :mod:`.transport`: HTTP (routing, tokens, injected faults, request bodies) and webhooks;
- :mod:`.params`, :mod:`.entities`: parameters and message text as Telegram reads them;
- :mod:`.documents`: files users and the bot send;
- :mod:`.application`, :mod:`.sent`: running a bot against it, reading what the bot sent.
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
