"""The plugin registry: finds plugins, fits them in the order their needs set, and asks each
of them for similar movies.

Built-in plugins and external ones (entry-point group ``reelpick.plugins``) are loaded
the same way: each entry names a class (instantiated with no arguments) or an object
whose ``@hookimpl`` methods pluggy registers under the entry's name.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import pluggy

from . import hookspecs
from .answers import checked_neighbours, recommendable
from .cache import ArtifactStore
from .config import Config, check_type
from .data.movielens import Dataset
from .errors import ConfigError, NoAnswer, PluginError, UsageError
from .hooktrace import log_hook_calls
from .needs import plan_fits
from .types import Need, NewMovie, PluginAnswer, PluginInfo, Profile, Recommendation

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "reelpick.plugins"

# name -> "module:attribute", registered exactly like an entry point.
BUILTIN_PLUGINS = {
    "cosine-cf": "reelpick.plugins.cosine_cf:CosineCF",
    "sgd-mf": "reelpick.plugins.sgd_mf:SgdMF",
    "vgg16-poster": "reelpick.plugins.vgg16_poster:VGG16Poster",
    "ease": "reelpick.plugins.ease:Ease",
    # Needs the [spark] extra to fit (not to answer); not enabled by default.
    "als": "reelpick.plugins.als:SparkALS",
    "hybrid": "reelpick.plugins.hybrid:Hybrid",
    # Asks TMDB while a person waits (online); needs TMDB_API_KEY; not enabled by default.
    "tmdb": "reelpick.plugins.tmdb:TMDBAlsoLiked",
}


@dataclass
class LoadedPlugin:
    """A registered plugin and what the registry knows about it."""

    name: str
    origin: str  # "built-in" or "entry point (distribution X.Y)"
    info: PluginInfo
    params: dict[str, Any]
    # Makes another instance (for variants): the class the plugin was loaded from, by default.
    factory: Callable[[], object]
    store: ArtifactStore | None = None
    fitted: bool = False
    fitted_on: Dataset | None = None  # the dataset of the last successful fit


@dataclass
class LoadFailure:
    name: str
    origin: str
    reason: str


class Registry:
    """All plugins known to this process, in the order config.toml lists them."""

    def __init__(
        self, config: Config, *, load_entry_points: bool = True, load_builtins: bool = True
    ) -> None:
        self.config = config
        self.pm = pluggy.PluginManager("reelpick")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, LoadedPlugin] = {}
        self.failures: list[LoadFailure] = []
        self.dataset: Dataset | None = None
        self._callers: dict[tuple[str, str], Any] = {}
        self._tracing = False
        # Before loading, so that each plugin's reelpick_plugin_info call is traced too.
        if os.environ.get("REELPICK_TRACE", "").strip().lower() not in ("", "0", "false", "no"):
            self.trace_hook_calls()
        for name, target in BUILTIN_PLUGINS.items() if load_builtins else ():
            self._load(name, "built-in", lambda target=target: _import(target))
        if load_entry_points:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "unknown distribution"
                self._load(ep.name, f"entry point ({dist})", ep.load)
        if load_builtins and load_entry_points:  # a real installation: unused tables
            for line in config.unused_plugin_tables([*self.plugins, *self._failed_names()]):
                log.warning("%s", line)

    # -- loading ---------------------------------------------------------------------
    def register(
        self,
        plugin: object,
        name: str,
        origin: str = "registered by code",
        factory: Callable[[], object] | None = None,
    ) -> LoadedPlugin:
        """Register a plugin object under ``name`` (tests and embedding applications use this).

        ``factory`` makes a fresh instance of the same plugin, for :meth:`register_variant`
        (default: the plugin's class, called with no arguments).
        """
        if name in self.plugins:
            raise PluginError(
                f"plugin {name!r} is already registered ({self.plugins[name].origin})"
            )
        self.pm.register(plugin, name=name)
        # Cached callers exclude only the plugins known when they were made: rebuild them so
        # that no other plugin's caller reaches this one.
        self._callers.clear()
        try:
            info = self._caller(name, "reelpick_plugin_info")()
            if not isinstance(info, PluginInfo):
                raise PluginError(
                    f"reelpick_plugin_info returned {type(info).__name__}, not PluginInfo"
                )
            params = self._params(name, info)
            _check_info(info)
        except Exception:
            self.pm.unregister(name=name)
            self._callers.clear()
            raise
        loaded = LoadedPlugin(
            name=name, origin=origin, info=info, params=params, factory=factory or type(plugin)
        )
        self.plugins[name] = loaded
        return loaded

    def register_variant(self, name: str, variant: str, overrides: dict[str, Any]) -> LoadedPlugin:
        """Register a fresh instance of plugin ``name`` as ``variant``, with ``overrides`` laid
        over its parameters (``reelpick evaluate`` scores a plugin's ``PluginInfo.variants``).

        The variant is a plugin of its own: fitted, cached and asked under its own name.
        """
        base = self.plugins[name]
        params = dict(base.params)
        for key, value in overrides.items():
            if key not in base.info.params:
                raise PluginError(f"variant {variant!r} of {name} sets unknown parameter {key!r}")
            try:
                params[key] = check_type(value, base.info.params[key], f"variant {variant!r}")
            except ConfigError as exc:
                raise PluginError(f"{name}: {exc}") from None
        loaded = self.register(base.factory(), variant, f"{name} with {overrides}", base.factory)
        loaded.params = params
        return loaded

    def _load(self, name: str, origin: str, load: Any) -> None:
        try:
            obj = load()
            if isinstance(obj, type):
                self.register(obj(), name, origin, factory=obj)
            else:
                self.register(obj, name, origin)
        except ConfigError:
            raise
        except Exception as exc:  # a broken plugin must not stop the others from loading
            # One line: the reason is shown in tables (pluggy's messages span several lines).
            reason = _one_line(exc)
            log.error("plugin %s (%s) failed to load: %s", name, origin, reason)
            _trace(f"plugin {name} failed to load")
            self.failures.append(LoadFailure(name, origin, reason))

    def _params(self, name: str, info: PluginInfo) -> dict[str, Any]:
        params = dict(info.params)
        for key, value in self.config.plugin_params(name).items():
            where = self.config.where("plugins", name, key)
            if key not in info.params:
                known = ", ".join(sorted(info.params)) or "none"
                raise ConfigError(f"{where}: unknown parameter of plugin {name} (known: {known})")
            params[key] = check_type(value, info.params[key], where)
        return params

    def _caller(self, name: str, hook: str) -> Any:
        """A hook caller that reaches only plugin ``name``: one plugin per call, always."""
        if (name, hook) not in self._callers:
            others = [p for n, p in self.pm.list_name_plugin() if n != name]
            self._callers[name, hook] = self.pm.subset_hook_caller(hook, remove_plugins=others)
        return self._callers[name, hook]

    def trace_hook_calls(self) -> None:
        """Log every hook call with its plugin, arguments and duration (REELPICK_TRACE=1)."""
        if self._tracing:
            return
        self._tracing = True
        log_hook_calls(self.pm)
        self._callers.clear()

    # -- queries ---------------------------------------------------------------------
    def enabled(self, only: list[str] | None = None) -> list[str]:
        """Names of the plugins to ask, in config order; ``only`` narrows (and checks) the list."""
        wanted = self.config.enabled_plugins if only is None else only
        unknown = [n for n in wanted if n not in self.plugins and n not in self._failed_names()]
        if unknown:
            names = [*self.plugins, *self._failed_names()]
            close = difflib.get_close_matches(unknown[0], names, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            known = ", ".join(self.plugins) or "none"
            message = f"unknown plugin {unknown[0]!r} ({hint}installed: {known})"
            if only is None:
                raise ConfigError(f"{self.config.where('plugins', 'enabled')}: {message}")
            raise UsageError(message)  # a name the caller gave (--plugin): a bad argument
        return [n for n in wanted if n in self.plugins]

    def _failed_names(self) -> set[str]:
        return {f.name for f in self.failures}

    def store_for(self, name: str, dataset: Dataset) -> ArtifactStore:
        plugin = self.plugins[name]
        return ArtifactStore(
            self.config.cache_dir,
            name,
            data=dataset.fingerprint,
            version=plugin.info.version,
            params=plugin.params,
        )

    def fit(self, dataset: Dataset, names: list[str] | None = None) -> dict[str, str | None]:
        """Fit (or load) each plugin; returns name -> None on success or the error, one line.

        Plugins are fitted after the plugins whose products they need (``PluginInfo.needs``,
        see :mod:`reelpick.needs`). A provider that is enabled but not among ``names`` is
        fitted too (unless already fitted on ``dataset``); only ``names`` are in the result.
        """
        self.dataset = dataset
        wanted = self.enabled(names)
        plan = plan_fits(
            wanted,
            [n for n in self.config.enabled_plugins if n in self.plugins],
            {name: self.needs(name) for name in self.plugins},
            {name: plugin.info.provides for name, plugin in self.plugins.items()},
        )
        errors: dict[str, str | None] = {}
        for name in plan.order:
            plugin = self.plugins[name]
            if name not in wanted and plugin.fitted and plugin.fitted_on is dataset:
                continue  # a provider fitted earlier on this dataset
            error = plan.problems.get(name)
            products: dict[str, object] = {}
            if error is None:
                products, error = self._products(name, plan.suppliers[name], errors)
            if error is None:
                error = self._fit_one(name, dataset, products)
            else:
                log.error("plugin %s cannot be fitted: %s", name, error)
                plugin.fitted = False
            errors[name] = error
        return {name: errors[name] for name in wanted}

    def needs(self, name: str) -> list[Need]:
        """The needs of plugin ``name`` that its parameters switch on."""
        plugin = self.plugins[name]
        return [n for n in plugin.info.needs if n.when is None or plugin.params.get(n.when)]

    def _products(
        self, name: str, suppliers: dict[str, str], errors: dict[str, str | None]
    ) -> tuple[dict[str, object], str | None]:
        """What the fitted providers of ``name`` hand over, or why one cannot (one line)."""
        products: dict[str, object] = {}
        for product, provider in suppliers.items():
            why = f"{name} needs {product} from {provider}, which"
            if not self.plugins[provider].fitted:
                reason = errors.get(provider) or "is not fitted"
                return {}, f"{why} could not be fitted ({reason})"
            try:
                handed = self._caller(provider, "reelpick_provide")(product=product)
            except Exception as exc:
                _trace(f"plugin {provider} failed to provide {product}")
                return {}, f"{why} failed to hand it over ({_one_line(exc)})"
            if handed is None:
                return {}, f"{why} handed nothing over (reelpick_provide returned None)"
            products[product] = handed
        return products, None

    def _fit_one(self, name: str, dataset: Dataset, products: dict[str, object]) -> str | None:
        plugin = self.plugins[name]
        plugin.store = self.store_for(name, dataset)
        started = time.perf_counter()
        try:
            self._caller(name, "reelpick_fit")(
                dataset=dataset,
                params=dict(plugin.params),
                store=plugin.store,
                config=self.config,
                needs=products,
            )
        except Exception as exc:
            # One line for the caller to show; the traceback only in the verbose log (a
            # ConfigError is a setting the plugin judged wrong: the person needs the line).
            if not isinstance(exc, ConfigError):
                _trace(f"plugin {name} failed to fit")
            plugin.fitted = False
            return _one_line(exc)
        plugin.fitted = True
        plugin.fitted_on = dataset
        log.info("plugin %s ready in %.1f s", name, time.perf_counter() - started)
        return None

    def similar(self, movie_id: int, k: int, names: list[str] | None = None) -> list[PluginAnswer]:
        """Ask each plugin for ``k`` movies similar to ``movie_id``; one answer per plugin.

        A plugin that raises yields an answer with ``error`` set (traceback logged); the
        others' answers are unaffected.
        """
        return [self.ask(name, movie_id, k) for name in self.enabled(names)]

    def ask(self, name: str, movie_id: int, k: int) -> PluginAnswer:
        """One plugin's answer (see :meth:`similar`)."""
        return self._answer(
            name,
            f"movie {movie_id}",
            lambda: checked_neighbours(
                self._caller(name, "reelpick_similar")(movie_id=int(movie_id), k=int(k)),
                k,
                self.dataset,
                exclude=frozenset({int(movie_id)}),
                hook="reelpick_similar",
                query=int(movie_id),
            ),
        )

    def ask_new(self, name: str, movie: NewMovie, k: int) -> PluginAnswer:
        """``reelpick_similar_new`` of plugin ``name`` (isolation as in :meth:`similar`)."""
        hook, banned = "reelpick_similar_new", frozenset({int(movie.movie_id)})
        call, movies = self._caller(name, hook), recommendable(self.dataset)
        return self._answer(
            name,
            f"new movie {movie.movie_id}",
            lambda: checked_neighbours(call(movie=movie, k=int(k)), k, movies, banned, hook),
        )

    def recommend(
        self,
        profile: Profile,
        k: int,
        names: list[str] | None = None,
        exclude: frozenset[int] | set[int] = frozenset(),
    ) -> list[PluginAnswer]:
        """Ask each plugin that recommends for ``k`` movies for ``profile``; one answer each.

        Plugins without ``reelpick_recommend`` are left out. Movies of the profile and of
        ``exclude`` never come back. Isolation as in :meth:`similar`.
        """
        return [
            self.ask_recommend(name, profile, k, exclude)
            for name in self.enabled(names)
            if self.implements(name, "reelpick_recommend")
        ]

    def ask_recommend(
        self,
        name: str,
        profile: Profile,
        k: int,
        exclude: frozenset[int] | set[int] = frozenset(),
    ) -> PluginAnswer:
        """One plugin's recommendations for ``profile`` (see :meth:`recommend`)."""
        banned = frozenset(int(m) for m in exclude) | profile.movies
        return self._answer(
            name,
            f"a profile of {len(profile)} movies",
            lambda: [
                n if isinstance(n, Recommendation) else Recommendation(n.movie_id, n.score)
                for n in checked_neighbours(
                    self._caller(name, "reelpick_recommend")(
                        profile=profile, k=int(k), exclude=banned
                    ),
                    k,
                    recommendable(self.dataset),
                    exclude=banned,
                    hook="reelpick_recommend",
                )
            ],
        )

    def ask_image(self, name: str, image: bytes, k: int) -> PluginAnswer:
        """Plugin ``name``'s movies whose posters look like ``image`` (``reelpick_similar_image``).

        Isolation as in :meth:`similar`. May load a model: call it in a worker process
        (:class:`reelpick.imagesearch.ImageSearchWorker`), not where people wait.
        """
        return self._answer(
            name,
            f"an image of {len(image):,} bytes",
            lambda: checked_neighbours(
                self._caller(name, "reelpick_similar_image")(image=bytes(image), k=int(k)),
                k,
                recommendable(self.dataset),  # a photo may show a catalogue movie's poster
                exclude=frozenset(),
                hook="reelpick_similar_image",
            ),
        )

    def image_searchers(self, names: list[str] | None = None) -> list[str]:
        """The enabled plugins (or those of ``names``) that find movies by a picture."""
        return [n for n in self.enabled(names) if self.implements(n, "reelpick_similar_image")]

    def _answer(self, name: str, about: str, call: Any) -> PluginAnswer:
        """Run one plugin ``call`` and turn any outcome into a :class:`PluginAnswer`."""
        plugin = self.plugins[name]
        label = plugin.info.label
        if not plugin.fitted:
            return PluginAnswer(name, label, error=f"{label} is not fitted")
        started = time.perf_counter()
        try:
            neighbours = call()
        except NoAnswer as exc:
            return PluginAnswer(
                name, label, no_answer=str(exc), seconds=time.perf_counter() - started
            )
        except Exception as exc:
            log.error("plugin %s failed on %s: %s", name, about, _one_line(exc))
            _trace(f"plugin {name} failed on {about}")
            error = _one_line(exc)
            return PluginAnswer(name, label, error=error, seconds=time.perf_counter() - started)
        return PluginAnswer(
            name, label, neighbours=neighbours, seconds=time.perf_counter() - started
        )

    def predict(self, name: str, user_id: int, movie_ids: list[int]) -> list[float] | None:
        """Predicted ratings from plugin ``name``, or None if it does not predict."""
        predicted: list[float] | None = self._caller(name, "reelpick_predict")(
            user_id=int(user_id), movie_ids=list(movie_ids)
        )
        return predicted

    def predicts(self, name: str) -> bool:
        """Whether plugin ``name`` implements ``reelpick_predict``."""
        return self.implements(name, "reelpick_predict")

    def implements(self, name: str, hook: str) -> bool:
        """Whether plugin ``name`` implements the hook ``hook`` (optional hooks vary)."""
        return any(
            self.pm.get_name(impl.plugin) == name
            for impl in getattr(self.pm.hook, hook).get_hookimpls()
        )

    def call_unchecked(self, name: str, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` of plugin ``name`` alone and return exactly what it returns or raises.

        No checks, no trimming, no isolation: for the contract kit, which must see the raw
        answer. Front ends use :meth:`ask`, :meth:`ask_recommend` and :meth:`predict`.
        """
        return self._caller(name, hook)(**kwargs)

    def check_hooks(self) -> None:
        """Raise :class:`PluginError` if a registered plugin has a ``@hookimpl`` that matches
        no reelpick hook (a misspelt hook name would otherwise be silently never called)."""
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(" ".join(str(exc).split())) from None

    def plugin_object(self, name: str) -> object:
        """The object registered as plugin ``name`` (tests and benchmarks inspect its state)."""
        return self.pm.get_plugin(name)


def _check_info(info: PluginInfo) -> None:
    for need in info.needs:
        if need.when is not None and need.when not in info.params:
            raise PluginError(
                f"PluginInfo.needs: {need.product!r} is switched by unknown parameter {need.when!r}"
            )
    for variant, overrides in info.variants.items():
        unknown = sorted(set(overrides) - set(info.params))
        if unknown:
            raise PluginError(
                f"PluginInfo.variants[{variant!r}] sets unknown parameter {unknown[0]!r}"
            )


def _one_line(exc: BaseException) -> str:
    """``"TypeError: ..."`` on one line (a plugin's message may span several)."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _trace(what: str) -> None:
    """The traceback of the exception being handled, for ``-v`` (INFO) logs only."""
    log.info("%s", what, exc_info=True)


def _import(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)
