"""The Telegram bot (``reelpick bot``): see :mod:`reelpick.bot.app` for how it is built.

The bot is a set of features, each a module or package with one
``register(application, services)``: ``guard`` (rate limits), ``titles`` (title answers,
/plugins, /about), ``intro`` (/start and /help), ``chat_settings`` (/settings),
``movienight``, ``profiles``, ``inline``, ``photo``, ``stats`` (the owner's /stats) and
``fallbacks`` (what no feature answers). A feature imports only
the shared modules in :data:`SHARED_MODULES`, never another feature; what two features
share moves to a shared module. ``app`` wires the features together and ``main`` runs it.
"""

# Modules any feature may import (tests/test_architecture.py checks that features import
# nothing else of the bot).
SHARED_MODULES = (
    "breaker",  # pausing a plugin that keeps failing
    "card",  # the movie card before the albums: facts, trailer, where to watch
    "context",  # BotContext: the handlers' context, with typed services
    "deeplinks",  # t.me/<bot>?start=<payload> links, dispatched by /start
    "handler_groups",  # HandlerGroup: every handler group, in order
    "health",  # the /healthz and /metrics HTTP server (reelpick bot starts it)
    "i18n",  # translators and message ids
    "limits",  # per-chat rate limits and the retrying Bot API rate limiter
    "media",  # posters to Telegram: captions, albums, file-id reuse
    "metrics",  # BotMetrics: Prometheus metrics and the update loop's health
    "movie_answer",  # answering with one movie: header, then one album per plugin
    "permissions",  # who may change a group's settings
    "pictures",  # PictureWorker: the one image worker (photos, new films' posters)
    "rating_buttons",  # the rating keyboard and the profile key of a Telegram user
    "replies",  # one-line replies several features give
    "resolve",  # a typed title -> one movie, candidates or a problem
    "scheduling",  # the person behind an update; bounded waiting per chat and person
    "services",  # BotServices: what every feature shares; FeatureStates
    "settings",  # SettingsStore: k and plugins per chat
    "stopping",  # stop_after: a handler that answered stops later groups
    "updates",  # the message, chat or query of an update, typed without None
    "watchlater",  # the "watch later" button under a movie and its callback data
)
