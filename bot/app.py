"""Build the Telegram bot: ``build_application(config, app)`` -> a ready python-telegram-bot Application.

How another feature hooks in (movie nights do this)
----------------------------------------------------
Create ``reelpick/bot/movienight.py`` (``bot/movienight.py``) with::

    def register_movienight(application, app, config, *, media=None, services=None, **_):
        application.add_handler(CommandHandler("movienight", ...), group=-1)
        services.commands.append(("movienight", "Start a movie night poll"))  # for setMyCommands

``build_application`` calls it as ``register_movienight(application, app, config,
media=<PosterSender>, services=<BotServices>)`` after adding the bot's own handlers (a
missing module or function skips it). ``services(context)`` (or the ``services`` argument)
gives the shared :class:`BotServices`: ``.reelpick`` (the current
:class:`~reelpick.app.Reelpick`: search, similar, dataset, registry; /reload replaces it, so
read it when needed rather than keeping the ``app`` argument), ``.ask(plugin, movie_id, k)``
(a plugin call in a thread with the time budget), ``.sender``
(:class:`~reelpick.bot.media.PosterSender`: ``await sender.send(bot, chat_id, movie_ids,
caption)`` sends a photo or albums with file_id reuse), ``.label(movie_id)``, ``.settings``
(per-chat k and plugins), ``.config``, ``.admins``, ``.chat_lock(chat_id)``. Title
resolution with buttons is :func:`reelpick.bot.resolve.resolve_title` /
``choice_keyboard`` / ``parse_choice``; captions are ``album_caption`` and ``movie_header``
in :mod:`reelpick.bot.media`. The Bot API test server for tests is tests/telegram_server.py.

Rules the bot's handlers set: a per-chat rate limit runs first (group -100) for every update
that has a chat; plain text in private chats and mentions in groups are the bot's (group 0,
so add plain-text handlers of your own in group 1 or later); commands nobody handles get a
hint (group 50); errors are logged with a traceback and the person gets one polite line.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from concurrent.futures import ThreadPoolExecutor

import diskcache
from telegram import BotCommand, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from reelpick.app import Reelpick
from reelpick.config import Config, secret
from reelpick.errors import ConfigError
from reelpick.posters import PosterStore
from reelpick.types import PluginAnswer

from .limits import ChatLimiter, RetryingRateLimiter
from .media import PosterSender
from .settings import SettingsStore

log = logging.getLogger(__name__)

SERVICES = "reelpick"  # key of BotServices in application.bot_data
GUARD_GROUP = -100  # before every feature's handlers (movie nights use group -1)
UNKNOWN_COMMAND_GROUP = 50


class BotServices:
    """What every handler shares: the recommender, posters, settings, limits."""

    def __init__(self, config: Config, app: Reelpick) -> None:
        self.config = config
        section = config.section("bot")
        self.reelpick = app
        self.cache = diskcache.Cache(str(config.cache_dir / "bot"))
        self.settings = SettingsStore(self.cache, int(section["k"]))
        self.sender = PosterSender(PosterStore(config, app.dataset), self.cache)
        _ = self.sender.store.cache  # open the poster cache now, not from many threads at once
        self.limiter = ChatLimiter(int(section["messages_per_minute"]))
        self.plugin_timeout = float(section["plugin_timeout"])
        try:
            self.admins = {int(a) for a in section["admins"]}
        except (TypeError, ValueError):
            raise ConfigError(
                f"{config.where('bot', 'admins')}: expected a list of Telegram user ids"
            ) from None
        # Plugins get their own threads so a hung plugin cannot starve poster reading.
        self.plugin_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="reelpick-plugin")
        self.commands: list[tuple[str, str]] = []
        self._labels: tuple[object, dict[int, str]] | None = None
        warm_up(app)
        self.label(int(app.dataset.movies.index[0]))  # build the label table now
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    async def ask(self, name: str, movie_id: int, k: int) -> PluginAnswer:
        """One plugin's answer, computed in a thread, within ``bot.plugin_timeout`` seconds."""
        registry = self.reelpick.registry
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(self.plugin_pool, registry.ask, name, movie_id, k)
        try:
            return await asyncio.wait_for(call, self.plugin_timeout)
        except TimeoutError:
            log.error(
                "plugin %s took over %.1f s on movie %s; its album is skipped",
                name,
                self.plugin_timeout,
                movie_id,
            )
            label = registry.plugins[name].info.label
            return PluginAnswer(name, label, error=f"no answer within {self.plugin_timeout} s")

    def label(self, movie_id: int) -> str:
        """``"Heat (1995)"``, from a table built once (a pandas lookup per title is slow)."""
        labels = self._labels
        if labels is None or labels[0] is not self.reelpick.dataset:
            dataset = self.reelpick.dataset
            labels = self._labels = (
                dataset,
                {int(m): dataset.label(int(m)) for m in dataset.movies.index},
            )
        return labels[1][int(movie_id)]

    def chat_lock(self, chat_id: int) -> asyncio.Lock:
        """A lock per chat, so one chat's albums never interleave."""
        lock = self._locks.get(chat_id)
        if lock is None:
            lock = self._locks[chat_id] = asyncio.Lock()
        return lock

    async def reload(self) -> None:
        """Load data and fitted plugins afresh (fitting what is missing), then swap them in."""
        fresh = await asyncio.to_thread(Reelpick.open, self.config)
        await asyncio.to_thread(warm_up, fresh)
        store = PosterStore(self.config, fresh.dataset)
        old = self.sender.store
        self.reelpick, self.sender.store = fresh, store
        self.sender.forget()
        old.close()

    def close(self) -> None:
        self.plugin_pool.shutdown(wait=False, cancel_futures=True)
        self.sender.store.close()
        self.cache.close()


def warm_up(app: Reelpick) -> None:
    """Build the title indexes now (about a second) rather than on the first person's query."""
    from .resolve import did_you_mean

    app.search("warm up")
    did_you_mean(app, "warm up")


def services(context: ContextTypes.DEFAULT_TYPE) -> BotServices:
    """The shared :class:`BotServices` from inside a handler."""
    return context.application.bot_data[SERVICES]


def build_application(
    config: Config, app: Reelpick, *, concurrent_updates: int = 64
) -> Application:
    """The bot with all handlers, over the Bot API at ``bot.base_url``.

    The token is read from the environment (TELEGRAM_BOT_TOKEN) and kept out of the logs.
    ``app`` should already be opened with its plugins fitted (``Reelpick.open``).
    """
    from . import handlers as h

    token = secret("TELEGRAM_BOT_TOKEN")
    if token is None:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set: put the bot's token in the environment")
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
    application.add_handler(CommandHandler("settings", h.settings_command))
    application.add_handler(CommandHandler("similar", h.similar_command))
    application.add_handler(CommandHandler("reload", h.reload_command))
    application.add_handler(CallbackQueryHandler(h.pick_button, pattern=r"^pick:"))
    application.add_handler(CallbackQueryHandler(h.settings_button, pattern=r"^set:"))
    text = filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE
    application.add_handler(MessageHandler(text & filters.ChatType.PRIVATE, h.private_text))
    application.add_handler(MessageHandler(text & filters.ChatType.GROUPS, h.group_text))
    shared.commands.extend(h.COMMANDS)

    try:
        from .movienight import register_movienight
    except ImportError as exc:
        if exc.name not in (f"{__package__}.movienight", None) or "movienight" not in str(exc):
            log.error("movie nights are unavailable: %s", exc)
    else:
        register_movienight(application, app, config, media=shared.sender, services=shared)

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
    commands = list(dict.fromkeys(shared.commands))
    await application.bot.set_my_commands([BotCommand(c, d) for c, d in commands])
    registry = shared.reelpick.registry
    ready = [n for n in registry.enabled() if registry.plugins[n].fitted]
    log.info(
        "bot @%s ready; answering with %s", application.bot.username, ", ".join(ready) or "nothing"
    )


async def _post_shutdown(application: Application) -> None:
    shared: BotServices | None = application.bot_data.get(SERVICES)
    if shared is not None:
        shared.close()
