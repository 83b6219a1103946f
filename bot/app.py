"""Wiring only: ``build_application(config, app)`` -> a ready python-telegram-bot Application.

No behaviour lives here. ``build_application`` creates the one shared
:class:`~reelpick.bot.services.BotServices` (stored in ``application.bot_data``; handlers
reach it with :func:`reelpick.bot.services.services`), adds the bot's own handlers from
:mod:`reelpick.bot.handlers`, then registers every other feature with a plain call, as movie
nights are: ``register_movienight(application, app, config, services=shared)``. A feature
adds its handlers and appends its (command, description) pairs to ``shared.commands`` (every
chat) or ``shared.group_commands`` (groups only), which ``_post_init`` sends with
setMyCommands per scope and per language (descriptions are English message ids marked with
``N_()``, translated with :mod:`reelpick.bot.i18n`; English is the default for any language
without its own list); a feature reached by a ``t.me/<bot>?start=<payload>`` link registers
its payload with ``shared.deep_links``. Features import :mod:`~reelpick.bot.services`,
:mod:`~reelpick.bot.media`, :mod:`~reelpick.bot.resolve` and
:mod:`~reelpick.bot.permissions`, never this module, so imports run one way
(app -> features -> shared modules).

Handler groups: a per-chat rate limit runs first (``GUARD_GROUP``, -100) for every update
that has a chat; movie nights answer their commands, buttons and poll answers in group -1
and stop the update there; plain text in private chats and mentions in groups are the bot's
(group 0, so add plain-text handlers of your own in group 1 or later); commands nobody
handles get a hint (``UNKNOWN_COMMAND_GROUP``, 50); errors are logged with a traceback and
the person gets one polite line.
"""

from __future__ import annotations

import logging

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    Update,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from reelpick.app import Reelpick
from reelpick.config import Config, secret
from reelpick.errors import ConfigError

from . import handlers as h
from . import settings_handlers
from .i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, translator
from .inline import register_inline
from .limits import RetryingRateLimiter
from .movienight import register_movienight
from .photo import register_photo
from .profiles import register_profiles
from .services import SERVICES, BotServices

log = logging.getLogger(__name__)

GUARD_GROUP = -100  # before every feature's handlers (movie nights use group -1)
UNKNOWN_COMMAND_GROUP = 50
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
    config: Config, app: Reelpick, *, concurrent_updates: int = 64
) -> Application:
    """The bot with all handlers, over the Bot API at ``bot.base_url``.

    The token is read from the environment (TELEGRAM_BOT_TOKEN) and kept out of the logs.
    ``app`` should already be opened with its plugins fitted (``Reelpick.open``).
    """
    token = bot_token()
    # One line per HTTP request is noise (the token in its URL is masked anyway).
    for name in ("httpx", "httpcore"):
        if logging.getLogger(name).level < logging.WARNING:
            logging.getLogger(name).setLevel(logging.WARNING)
    section = config.section("bot")
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(section["base_url"])
        .base_file_url(section["base_file_url"])
        .concurrent_updates(concurrent_updates)
        .rate_limiter(
            RetryingRateLimiter(
                overall_max_rate=float(section["max_messages_per_second"]),
                group_max_rate=float(section["max_messages_per_group_minute"]),
                retries=int(section["retries"]),
                chat_rate=float(section["max_messages_per_chat_second"]),
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
    shared = BotServices(config, app)
    application.bot_data[SERVICES] = shared

    application.add_handler(TypeHandler(Update, h.guard), group=GUARD_GROUP)
    application.add_handler(CommandHandler("start", h.start))
    application.add_handler(CommandHandler("help", h.help_command))
    application.add_handler(CommandHandler("plugins", h.plugins_command))
    application.add_handler(CommandHandler("about", h.about_command))
    application.add_handler(CommandHandler("settings", settings_handlers.settings_command))
    application.add_handler(CommandHandler("similar", h.similar_command))
    application.add_handler(CommandHandler("reload", h.reload_command))
    application.add_handler(CallbackQueryHandler(h.pick_button, pattern=r"^pick:"))
    application.add_handler(
        CallbackQueryHandler(settings_handlers.settings_button, pattern=r"^set:")
    )
    text = filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE
    application.add_handler(MessageHandler(text & filters.ChatType.PRIVATE, h.private_text))
    application.add_handler(MessageHandler(text & filters.ChatType.GROUPS, h.group_text))
    shared.commands.extend(h.COMMANDS)

    register_movienight(application, app, config, services=shared)
    register_profiles(application, shared)
    register_inline(application, config, services=shared)
    register_photo(application, config, services=shared)
    # After every feature's buttons, last in group 0: PTB runs only the first matching handler
    # of a group, so a catch-all registered earlier would swallow the features' callbacks. Any
    # other callback data (old, foreign, forged) is answered here, with no effect.
    application.add_handler(CallbackQueryHandler(h.stale_button))

    application.add_handler(
        MessageHandler(filters.COMMAND, h.unknown_command), group=UNKNOWN_COMMAND_GROUP
    )
    application.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & ~filters.TEXT, h.other_message
        ),
        group=UNKNOWN_COMMAND_GROUP,
    )
    application.add_error_handler(h.on_error)
    return application


async def _post_init(application: Application) -> None:
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


async def _post_shutdown(application: Application) -> None:
    shared: BotServices | None = application.bot_data.get(SERVICES)
    if shared is not None:
        shared.close()
