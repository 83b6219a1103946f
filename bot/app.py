"""Wiring only: ``build_application(config, app)`` -> a ready python-telegram-bot Application.

No behaviour lives here. ``build_application`` builds the application with
:func:`~reelpick.bot.context.context_types` (every handler's context is a
:class:`~reelpick.bot.context.BotContext`, whose ``.services`` is the one shared
:class:`~reelpick.bot.services.BotServices` created here), then calls every feature's
``register(application, services)`` from :data:`FEATURES`, in order.

A feature adds its handlers in its :class:`~reelpick.bot.handler_groups.HandlerGroup`, keeps
its own state in ``services.features``, appends its (command, description) pairs to
``services.commands`` (every chat) or ``services.group_commands`` (groups only), which
``_post_init`` sends with setMyCommands per scope and per language (descriptions are English
message ids marked with ``N_()``, translated with :mod:`reelpick.bot.i18n`; English is the
default for any language without its own list), and registers the ``/start`` payloads of
its ``t.me/<bot>?start=<payload>`` links with ``services.deep_links``. The menu lists the
commands in the order of :data:`FEATURES`. Features import shared modules only, never each
other nor this module (:mod:`reelpick.bot` lists the shared modules).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from telegram import BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats
from telegram.ext import ApplicationBuilder

from reelpick.app import Reelpick
from reelpick.config import Config, secret
from reelpick.errors import ConfigError

from . import (
    chat_settings,
    fallbacks,
    guard,
    inline,
    intro,
    movienight,
    photo,
    profiles,
    stats,
    titles,
    watchlist,
)
from .context import BotApplication, context_types
from .i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, translator
from .limits import RetryingRateLimiter
from .metrics import BotMetrics, CountingQueue, MeteredUpdates, instrument_handlers
from .services import SERVICES, BotServices

log = logging.getLogger(__name__)


# Every feature, registered in this order (the order of the command menu).
FEATURES: tuple[Callable[[BotApplication, BotServices], None], ...] = (
    guard.register,
    titles.register,
    intro.register,
    chat_settings.register,
    movienight.register,
    profiles.register,
    watchlist.register,
    inline.register,
    photo.register,
    stats.register,
    fallbacks.register,
)

# What an empty chat with the bot shows (at most 512 characters), and its profile line (120).
DESCRIPTION = N_(
    "Send me a movie title and I answer with posters of similar movies, one album per "
    "recommender. In a group, mention me or use /similar, and plan a movie night with "
    "/movienight: everyone suggests titles, then the group votes in a poll."
)
SHORT_DESCRIPTION = N_("Movies similar to the ones you like, and group movie-night polls.")


def bot_token() -> str:
    """The bot's token from the environment (TELEGRAM_BOT_TOKEN); never logged."""
    token = secret("TELEGRAM_BOT_TOKEN")
    if token is None:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set: put the bot's token in the environment")
    return token


def build_application(
    config: Config,
    app: Reelpick,
    *,
    concurrent_updates: int = 64,
    metrics: BotMetrics | None = None,
) -> BotApplication:
    """The bot with all handlers, over the Bot API at ``bot.base_url``.

    The token is read from the environment (TELEGRAM_BOT_TOKEN) and kept out of the logs.
    ``app`` should already be opened with its plugins fitted (``Reelpick.open``). ``metrics``:
    the bot's metrics, when a health server already serves them (a fresh set otherwise).
    """
    metrics = metrics if metrics is not None else BotMetrics()
    token = bot_token()
    # One line per HTTP request is noise (the token in its URL is masked anyway).
    for name in ("httpx", "httpcore"):
        if logging.getLogger(name).level < logging.WARNING:
            logging.getLogger(name).setLevel(logging.WARNING)
    section = config.settings.bot
    application = (
        ApplicationBuilder()
        .context_types(context_types())
        .token(token)
        .base_url(section.base_url)
        .base_file_url(section.base_file_url)
        # Updates are counted as they arrive and timed as they run (bot/metrics.py).
        .update_queue(CountingQueue(metrics.loop))
        .concurrent_updates(MeteredUpdates(concurrent_updates, metrics))
        .rate_limiter(
            RetryingRateLimiter(
                overall_max_rate=section.max_messages_per_second,
                group_max_rate=section.max_messages_per_group_minute,
                retries=section.retries,
                chat_rate=section.max_messages_per_chat_second,
                # A whole answer (header, one album per plugin, a spare) may go out at once.
                chat_burst=len(app.registry.enabled()) + 2,
            )
        )
        .connect_timeout(10)
        .read_timeout(20)
        .write_timeout(30)
        .media_write_timeout(60)
        # httpcore scans every pooled connection for each request: a few dozen connections
        # serve 50 chats at once faster than hundreds; requests wait for one up to 30 s.
        .connection_pool_size(32)
        .pool_timeout(30)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    services = BotServices(config, app, metrics)
    application.bot_data[SERVICES] = services
    for register in FEATURES:
        register(application, services)
    instrument_handlers(application, metrics)
    metrics.loop.running = lambda: application.running
    return application


async def _post_init(application: BotApplication) -> None:
    shared: BotServices = application.bot_data[SERVICES]
    everywhere = list(dict.fromkeys(shared.commands))
    in_groups = list(dict.fromkeys(everywhere + shared.group_commands))
    bot = application.bot
    # Per language: English with no language_code is what every other language gets.
    for language in LANGUAGES:
        _ = translator(language)
        code = None if language == DEFAULT_LANGUAGE else language
        # Per scope, as Telegram shows them: movie-night commands only in groups.
        for commands, scope in (
            (everywhere, None),
            (everywhere, BotCommandScopeAllPrivateChats()),
            (in_groups, BotCommandScopeAllGroupChats()),
        ):
            await bot.set_my_commands(
                [BotCommand(c, _(d)) for c, d in commands], scope=scope, language_code=code
            )
        await bot.set_my_description(_(DESCRIPTION), language_code=code)
        await bot.set_my_short_description(_(SHORT_DESCRIPTION), language_code=code)
    registry = shared.reelpick.registry
    ready = [n for n in registry.enabled() if registry.plugins[n].fitted]
    log.info("bot @%s ready; answering with %s", bot.username, ", ".join(ready) or "nothing")


async def _post_shutdown(application: BotApplication) -> None:
    shared: BotServices | None = application.bot_data.get(SERVICES)
    if shared is not None:
        shared.close()
