"""What every bot feature shares, reachable from any handler's context.

Like PTB's ``examples/contexttypesbot.py``, shared state lives with the application, not in
module globals: ``build_application`` stores one :class:`BotServices` in
``application.bot_data`` and every handler reaches it as ``context.services``
(:class:`~reelpick.bot.context.BotContext`). A feature's own state (inline cards, the photo
worker, movie nights' store) is one object the feature's ``register`` creates and adds to
:class:`FeatureStates`, found again by its type. This module imports no feature, so every
feature can import it at the top without an import cycle.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Protocol, TypeVar, runtime_checkable

import diskcache

from reelpick.app import Reelpick
from reelpick.catalogue import is_catalogue_id
from reelpick.config import Config
from reelpick.errors import ReelpickError
from reelpick.imagesearch import ImageSearchFailed
from reelpick.models_here import forbid_models
from reelpick.posters import PosterStore
from reelpick.profiles import ProfileStore
from reelpick.redact import redact
from reelpick.state import CHAT_SETTINGS_FILE, WATCHLIST_FILE, hold_bot_lock, prepare_state
from reelpick.types import PluginAnswer
from reelpick.watchlist import WatchlistStore

from .breaker import PluginBreaker
from .deeplinks import DeepLinks
from .i18n import use_chat_languages
from .limits import ChatLimiter
from .media import PosterSender
from .metrics import BotMetrics
from .pictures import PictureWorker
from .resolve import did_you_mean
from .scheduling import BusyNotices, FairBudget, WaitingLine
from .settings import SettingsStore

log = logging.getLogger(__name__)

SERVICES = "reelpick"  # key of BotServices in application.bot_data

State = TypeVar("State")
Result = TypeVar("Result")


@runtime_checkable
class Closing(Protocol):
    """A feature state holding something to release when the bot stops (a worker, a store)."""

    def close(self) -> None: ...


class FeatureStates:
    """Each feature's own state: one object per feature, found by its type.

    A feature's ``register`` creates its state and adds it here; its handlers read it back
    typed, ``context.services.features.get(PhotoService)``. A state that has ``close()``
    (:class:`Closing`) is closed with the bot, the last added first. Adding a state of a
    type already present replaces it (tests give a feature a state built their own way).
    """

    def __init__(self) -> None:
        self._states: dict[type, object] = {}

    def add(self, state: State) -> State:
        self._states[type(state)] = state
        return state

    def get(self, kind: type[State]) -> State:
        """The state of type ``kind``; KeyError when no feature added one."""
        state = self._states[kind]
        if not isinstance(state, kind):  # add() keys each state by its own type
            raise TypeError(f"feature state {kind.__name__} holds a {type(state).__name__}")
        return state

    def close(self) -> None:
        for state in reversed(list(self._states.values())):
            if isinstance(state, Closing):
                state.close()


class BotServices:
    """What every handler shares: the recommender, posters, settings, limits.

    ``.reelpick`` is the current :class:`~reelpick.app.Reelpick` (/reload replaces it, so read
    it when needed rather than keeping a reference); ``.ask`` calls a plugin in a thread within
    the time budget; ``.sender`` sends posters with file_id reuse; ``.label`` names a movie;
    ``.settings`` holds per-chat k and plugins; ``.chat_lock`` keeps one chat's answers apart;
    ``.waiting`` bounds how many answers wait per chat and person (:class:`WaitingLine`);
    ``.match`` runs title matching on its own threads;
    ``.commands`` collects every feature's (command, description) for setMyCommands;
    ``.profiles`` is the :class:`~reelpick.profiles.ProfileStore` of people's ratings;
    ``.watchlist`` the :class:`~reelpick.watchlist.WatchlistStore` of their watchlists;
    ``.features`` holds each feature's own state (:class:`FeatureStates`);
    ``.metrics`` the bot's Prometheus metrics (:class:`~reelpick.bot.metrics.BotMetrics`),
    where features track their gauges.
    """

    def __init__(self, config: Config, app: Reelpick, metrics: BotMetrics | None = None) -> None:
        self.config = config
        section = config.settings.bot
        self.reelpick = app
        self.metrics = metrics if metrics is not None else BotMetrics()
        self.owner = section.owner  # who may see /stats (0: nobody)
        # People's data lives in the state folder; files an older version kept in the cache
        # are moved there first. The lock tells `reelpick restore` that the bot runs.
        state = config.settings.state
        prepare_state(config.settings)
        self.state_lock = hold_bot_lock(config.settings)
        self.cache = diskcache.Cache(str(config.cache_dir / "bot"))
        self.settings = SettingsStore(state.dir / CHAT_SETTINGS_FILE, section.k)
        self.settings.adopt(self.cache)
        self.sender = PosterSender(PosterStore(config, app.dataset), self.cache)
        _ = self.sender.store.cache  # open the poster cache now, not from many threads at once
        self.limiter = ChatLimiter(section.messages_per_minute)
        # One member must not spend a whole group's quota; keyed by sender_key, across chats.
        self.user_limiter = ChatLimiter(section.messages_per_user_minute)
        # Answers that ask the plugins, for the whole bot: the machine's own limit, shared
        # fairly so that busy groups cannot spend a quiet chat's part of it.
        self.heavy_budget = FairBudget(section.heavy_answers_per_minute)
        # A few title answers wait per chat and per person; the rest are told "busy" at once,
        # so no chat holds PTB's update slots while its flood limit drains.
        self.waiting = WaitingLine(section.waiting_per_chat, section.waiting_per_person)
        self.busy_notices = BusyNotices(lambda: self.metrics.busy("waiting_line"))
        # Typed titles are matched on threads of their own: imports and posters never delay them.
        self.title_pool = ThreadPoolExecutor(
            max(1, section.title_threads), thread_name_prefix="reelpick-title"
        )
        self.reload_lock = asyncio.Lock()
        self.plugin_timeout = section.plugin_timeout
        self.breaker = PluginBreaker(
            failures=section.plugin_failures_before_pause,
            pause=section.plugin_pause_seconds,
            max_running=section.plugin_max_running,
        )
        self.admins = set(section.admins)
        self.metrics.track(
            "plugin_breaker_state",
            "Per plugin: 0 asked, 1 paused after timeouts, 2 one trial call",
            lambda: {n: self.breaker.state(n) for n in self.reelpick.registry.enabled()},
            label="plugin",
        )
        # Plugins get their own threads so a hung plugin cannot starve poster reading; enough
        # for every plugin's running calls, so one plugin's hung threads never queue another's.
        # They never load a model (plugins answer from what is stored): that is the image
        # worker's job (``.pictures``), so one question never stalls every chat for seconds.
        workers = self.breaker.max_running * max(1, len(config.enabled_plugins)) + 1
        self.plugin_pool = ThreadPoolExecutor(
            workers, thread_name_prefix="reelpick-plugin", initializer=forbid_models
        )
        self.pictures = PictureWorker(config)  # photos, and new films' posters
        self.commands: list[tuple[str, str]] = []  # in every chat
        self.group_commands: list[tuple[str, str]] = []  # in groups only (movie nights)
        self.deep_links = DeepLinks()  # /start payloads of t.me links, by feature
        self.features = FeatureStates()  # each feature's own state, by its type
        self._labels: tuple[object, dict[int, str]] | None = None
        warm_up(app)
        self.label(int(app.dataset.movies.index[0]))  # build the label table now
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        # People's ratings (/rate, /forme; bot/profiles): SQLite in the state folder.
        self.profiles = ProfileStore(section.profiles_db)
        # Movies people want to see later (the watchlist feature, /forget, /export, nights).
        self.watchlist = WatchlistStore(state.dir / WATCHLIST_FILE)

    async def ask(self, name: str, movie_id: int, k: int) -> PluginAnswer:
        """One plugin's answer, computed in a thread, within ``bot.plugin_timeout`` seconds.

        A plugin that keeps timing out is paused for a while (:class:`PluginBreaker`). A
        plugin that compares pictures answers for a catalogue movie in the image worker
        (:meth:`PictureWorker.similar`: its new poster may need the model), under the same
        time limit; past it the worker still finishes and stores the poster's features.
        """
        app = self.reelpick
        label = app.registry.plugins[name].info.label
        refused = self.breaker.acquire(name)
        if refused is not None:
            log.info("plugin %s not asked about movie %s: %s", name, movie_id, refused)
            self.metrics.plugin_failed(name, "refused")
            return PluginAnswer(name, label, error=f"not asked: {refused}")
        waiting: asyncio.Future[PluginAnswer]
        if is_catalogue_id(movie_id) and name in self.pictures.searchers(app):
            waiting = asyncio.ensure_future(self.pictures.similar(app, name, movie_id, k))
            waiting.add_done_callback(lambda _: self.breaker.release(name))
        else:
            # Released when the thread returns, or when a call still queued is cancelled.
            running = self.plugin_pool.submit(app.ask, name, movie_id, k)  # catalogue ids too
            running.add_done_callback(lambda _: self.breaker.release(name))
            waiting = asyncio.wrap_future(running)
        try:
            answer = await asyncio.wait_for(waiting, self.plugin_timeout)
        except TimeoutError:
            log.error(
                "plugin %s took over %.1f s on movie %s; its album is skipped",
                name,
                self.plugin_timeout,
                movie_id,
            )
            self.breaker.timed_out(name)
            self.metrics.plugin_failed(name, "timeout")
            return PluginAnswer(name, label, error=f"no answer within {self.plugin_timeout} s")
        except ReelpickError as exc:  # a catalogue id stored nowhere (an old button, say)
            self.breaker.succeeded(name)
            return PluginAnswer(name, label, no_answer=str(exc))
        except (ImageSearchFailed, LookupError) as exc:  # the image worker died or hung
            log.error("plugin %s on new movie %s: %s", name, movie_id, redact(exc))
            self.metrics.plugin_failed(name, "error")
            return PluginAnswer(name, label, error=str(exc))
        self.breaker.succeeded(name)
        if answer.error is not None:
            self.metrics.plugin_failed(name, "error")
        return answer

    async def match(self, function: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
        """``function(*args, **kwargs)`` on the title-matching threads (``bot.title_threads``)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.title_pool, partial(function, *args, **kwargs))

    def heavy_work_allowed(self, chat_id: int = 0) -> bool:
        """Whether the bot-wide budget of plugin answers per minute has room for one more
        for ``chat_id`` (:class:`~reelpick.bot.scheduling.FairBudget`)."""
        allowed = self.heavy_budget.allow(chat_id)
        if not allowed:
            self.metrics.busy("answer_budget")
        return allowed

    def label(self, movie_id: int) -> str:
        """``"Heat (1995)"``, from a table built once (a pandas lookup per title is slow)."""
        labels = self._labels
        if labels is None or labels[0] is not self.reelpick.dataset:
            dataset = self.reelpick.dataset
            labels = self._labels = (
                dataset,
                {int(m): dataset.label(int(m)) for m in dataset.movies.index},
            )
        found = labels[1].get(int(movie_id))
        # A catalogue movie (beyond the dataset); DataError for an id that is neither.
        return found if found is not None else self.reelpick.movie_title(int(movie_id))

    def known_label(self, movie_id: int) -> str | None:
        """:meth:`label`, or None for an id that is neither a dataset nor a catalogue movie."""
        try:
            return self.label(movie_id)
        except (KeyError, ValueError, OverflowError, ReelpickError):
            return None

    def knows(self, movie_id: int) -> bool:
        """Whether ``movie_id`` is a dataset movie or a catalogue movie stored here (button
        data may be forged: this reads the catalogue file only, never asks TMDB)."""
        try:
            return self.reelpick.knows(int(movie_id))
        except (OverflowError, TypeError, ValueError):
            return False

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
        await asyncio.to_thread(self.pictures.restart)  # the worker loads the new fits

    def close(self) -> None:
        self.features.close()
        self.pictures.close()
        self.plugin_pool.shutdown(wait=False, cancel_futures=True)
        self.title_pool.shutdown(wait=False, cancel_futures=True)
        self.profiles.close()
        self.watchlist.close()
        use_chat_languages(None)
        self.settings.close()
        self.sender.store.close()
        self.cache.close()
        self.state_lock.release()


def warm_up(app: Reelpick) -> None:
    """Build the title indexes now (about a second) rather than on the first person's query."""
    app.search("warm up")
    did_you_mean(app, "warm up")
