"""The plugin contract kit: one call that tells a plugin author whether their plugin is fit to ship.

::

    from reelpick.testing import check_plugin

    def test_contract(tmp_path):
        check_plugin(MyPlugin, "path/to/ml-latest-small", cache_root=tmp_path)

:func:`check_plugin` registers the plugin in a fresh :class:`~reelpick.registry.Registry`
whose cache is a temporary folder, fits it on the dataset, asks it about a spread of movies
and checks what every front end relies on:

- ``reelpick_plugin_info`` returns a :class:`PluginInfo` whose params are plain TOML values,
  and every ``@hookimpl`` names a real hook;
- answers are lists of :class:`Neighbour` with movie ids of the dataset (plain ``int``) and
  finite ``float`` scores, never the query, no repeats, sorted best first, at most ``k``, and a
  smaller ``k`` gives a prefix of a larger one;
- a movie the plugin cannot answer for raises :class:`reelpick.NoAnswer` with a reason, an
  unknown movie id raises ``NoAnswer`` (nothing else), and no other exception escapes;
- two fits into fresh caches answer alike (determinism); a second fit from the first one's
  cache answers alike and writes nothing (the cache round-trips, no refit); queries write
  nothing (answering is a lookup);
- an unknown parameter in ``[plugins.NAME]`` is refused with :class:`reelpick.ConfigError`;
- ``reelpick_predict``, when implemented, returns one finite float per movie (or None), and
  an unknown user gets ``NoAnswer`` or predictions, never another exception;
- ``reelpick_recommend``, when implemented, passes the checks of :mod:`.recommend_checks`.

Every problem found is listed in one :class:`PluginContractError` (an ``AssertionError``, so
pytest shows it as a plain test failure) whose message names the plugin.

Small real test data comes from :mod:`.datasets`; docs/writing-plugins.md has the whole story.
"""

from __future__ import annotations

import copy
import math
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..answers import neighbour_problems
from ..config import DEFAULTS, Config
from ..data import Dataset, load_dataset
from ..errors import ConfigError, NoAnswer, PluginError
from ..registry import Registry
from .compare import Outcome, close_lists, outcome_of, same_ranking, snapshot
from .datasets import pick_queries
from .recommend_checks import RecommendChecks
from .report import report_problems
from .sources import PluginSource, default_name, factory_of

TOML_TYPES = (bool, int, float, str, list, dict)


class PluginContractError(AssertionError):
    """A plugin broke the contract; the message lists every problem found."""


@dataclass
class ContractReport:
    """What :func:`check_plugin` saw (returned when the plugin passes)."""

    name: str
    label: str
    queries: int
    answered: int
    no_answer: int
    cold_fit_seconds: float
    warm_fit_seconds: float
    cache_files: int
    cache_bytes: int
    predicts: bool
    checks: list[str] = field(default_factory=list)
    recommends: bool = False

    def __str__(self) -> str:
        return (
            f"{self.name} ({self.label}): {len(self.checks)} checks passed; "
            f"{self.answered}/{self.queries} movies answered, {self.no_answer} NoAnswer; "
            f"fit {self.cold_fit_seconds:.2f} s cold, {self.warm_fit_seconds:.2f} s from cache "
            f"({self.cache_files} files, {self.cache_bytes:,} bytes)"
        )


def check_plugin(
    plugin: PluginSource,
    dataset: Dataset | str | Path,
    params: dict[str, Any] | None = None,
    k: int = 10,
    *,
    name: str | None = None,
    config: Config | None = None,
    queries: Iterable[int] | None = None,
    cache_root: str | Path | None = None,
    expect_cache: bool = True,
    providers: Mapping[str, PluginSource] | None = None,
) -> ContractReport:
    """Check ``plugin`` against the plugin contract; raise :class:`PluginContractError` if broken.

    ``plugin`` is a class or a factory (called once per fit, so every fit starts from a fresh
    object: the strongest check) or an object (reused across fits). ``dataset`` is a
    :class:`Dataset` or a MovieLens folder or zip; keep it small (see :func:`small_dataset`).
    ``params`` overlay the plugin's defaults as ``[plugins.NAME]`` would; ``config`` supplies
    other settings (posters, ...) and its cache folder is replaced by temporary ones under
    ``cache_root`` (default: a temporary folder removed afterwards). ``queries`` are the movie
    ids to ask about (default: a spread of popular, rare, unrated and random movies).
    ``expect_cache=False`` is for plugins whose fit is too cheap to cache. ``providers`` name
    the plugins that provide what ``plugin`` needs (``PluginInfo.needs``): each is registered
    and enabled beside it, and the registry fits it first, as in a real configuration.
    """
    __tracebackhide__ = True  # pytest: show the contract message, not this function
    if not isinstance(dataset, Dataset):
        dataset = load_dataset(dataset)
    if cache_root is None:
        with tempfile.TemporaryDirectory(prefix="reelpick-contract-") as tmp:
            return check_plugin(
                plugin,
                dataset,
                params,
                k,
                name=name,
                config=config,
                queries=queries,
                cache_root=tmp,
                expect_cache=expect_cache,
                providers=providers,
            )
    checker = _Checker(plugin, dataset, params or {}, k, name, config, Path(cache_root))
    checker.providers = {n: factory_of(p) for n, p in (providers or {}).items()}
    return checker.run(
        list(queries) if queries is not None else pick_queries(dataset), expect_cache
    )


def contract_test(
    plugin: PluginSource, dataset: Dataset | str | Path | Callable[[], Dataset], **options: Any
) -> Callable[..., None]:
    """A pytest test function running :func:`check_plugin`; assign it to a ``test_*`` name.

    ``dataset`` may be a callable, so that the data is loaded when the test runs rather than
    when the module is imported::

        test_contract = contract_test(MyPlugin, lambda: small_dataset(load_dataset(PATH)))
    """

    def test_plugin_contract(tmp_path: Path) -> None:
        __tracebackhide__ = True
        data = dataset() if callable(dataset) else dataset
        check_plugin(plugin, data, cache_root=tmp_path, **options)

    return test_plugin_contract


class _Checker:
    """One run of the contract; problems accumulate in ``self.problems``."""

    def __init__(
        self,
        plugin: PluginSource,
        dataset: Dataset,
        params: dict[str, Any],
        k: int,
        name: str | None,
        config: Config | None,
        root: Path,
    ) -> None:
        if k < 2:
            raise ValueError("check_plugin needs k >= 2 (it also asks for a smaller k)")
        self.make = factory_of(plugin)
        self.dataset = dataset
        self.params = params
        self.k = k
        self.base = config
        self.root = root
        self.name = name or default_name(self.make())
        self.label = self.name
        self.problems: list[str] = []
        self.checks: list[str] = []
        self.providers: dict[str, Callable[[], object]] = {}

    # -- the run ---------------------------------------------------------------------
    def run(self, queries: list[int], expect_cache: bool) -> ContractReport:
        __tracebackhide__ = True
        cache_a, cache_b = self.root / "fit-a", self.root / "fit-b"
        first, cold = self._fit(cache_a)  # fresh cache: a real fit
        self._check_info(first)
        answers = {m: self._ask(first, m, self.k) for m in queries}
        self._check_answers(answers)
        self._check_smaller_k(first, answers)
        self._check_unknown_movie(first)
        self._check_registry_agrees(first, answers)
        predicted = self._check_predict(first)
        recommend = None
        if first.implements(self.name, "reelpick_recommend"):
            recommend = RecommendChecks(self.dataset, self.name, self.k, self._problem, self._pass)
            recommend.check(first)
        self._fail_now()

        after_fit = snapshot(cache_a)
        if expect_cache and not after_fit:
            self._problem(
                f"wrote nothing under its cache folder ({cache_a}); save what the fit learned in "
                "the ArtifactStore it is given (NeighbourTable.save / store.save_arrays), or "
                "pass expect_cache=False if fitting is trivially cheap"
            )
        for m in queries:  # queries must be lookups: ask again, then compare the cache
            self._ask(first, m, self.k)
        if recommend is not None:
            recommend.ask_all(first)
        self._compare_snapshots(after_fit, snapshot(cache_a), "answering queries")
        self._pass("queries write nothing")

        second, warm = self._fit(cache_a)  # same cache: must load, not refit
        self._compare_snapshots(after_fit, snapshot(cache_a), "a second fit from its own cache")
        self._compare(answers, {m: self._ask(second, m, self.k) for m in queries}, "from cache")
        if recommend is not None:
            recommend.compare(second, "from cache")
        self._pass("cache round-trips without refitting")

        third, _ = self._fit(cache_b)  # another fresh cache: must learn the same thing
        self._compare(answers, {m: self._ask(third, m, self.k) for m in queries}, "refitted")
        if recommend is not None:
            recommend.compare(third, "refitted")
        if predicted is not None:
            again = self._predict(third, *predicted[0])
            if not close_lists(predicted[1], again):
                self._problem(
                    f"reelpick_predict differs between two fits: {predicted[1]} vs {again}"
                )
        self._pass("deterministic across fits")
        self._check_unknown_param()
        self._fail_now()
        files = [p for p in cache_a.rglob("*") if p.is_file()]
        return ContractReport(
            name=self.name,
            label=self.label,
            queries=len(queries),
            answered=sum(o.neighbours is not None for o in answers.values()),
            no_answer=sum(o.no_answer is not None for o in answers.values()),
            cold_fit_seconds=cold,
            warm_fit_seconds=warm,
            cache_files=len(files),
            cache_bytes=sum(p.stat().st_size for p in files),
            predicts=predicted is not None,
            checks=self.checks,
            recommends=recommend is not None,
        )

    # -- fitting and asking ----------------------------------------------------------
    def _config(self, cache_dir: Path) -> Config:
        values = copy.deepcopy(self.base.values if self.base else DEFAULTS)
        values["cache"]["dir"] = str(cache_dir)
        values["plugins"]["enabled"] = [*self.providers, self.name]
        values["plugins"][self.name] = {**values["plugins"].get(self.name, {}), **self.params}
        return Config(values=values, path=self.base.path if self.base else None)

    def _registry(self, cache_dir: Path) -> Registry:
        __tracebackhide__ = True
        registry = Registry(self._config(cache_dir), load_entry_points=False, load_builtins=False)
        for name, make in self.providers.items():
            registry.register(make(), name, origin="check_plugin (provider)")
        self.label = registry.register(self.make(), self.name, origin="check_plugin").info.label
        return registry

    def _fit(self, cache_dir: Path) -> tuple[Registry, float]:
        __tracebackhide__ = True
        registry = self._registry(cache_dir)
        started = time.perf_counter()
        error = registry.fit(self.dataset, [self.name])[self.name]
        seconds = time.perf_counter() - started
        if error is not None:
            self._problem(f"reelpick_fit failed into {cache_dir}: {error}")
            self._fail_now()
        return registry, seconds

    def _ask(self, registry: Registry, movie_id: int, k: int) -> Outcome:
        # The hook itself, not Registry.ask: the registry trims and checks answers, and the
        # point here is to see exactly what the plugin returns.
        return outcome_of(
            lambda: registry.call_unchecked(self.name, "reelpick_similar", movie_id=movie_id, k=k),
            "Neighbour",
        )

    def _predict(self, registry: Registry, user_id: int, movie_ids: list[int]) -> Any:
        return registry.call_unchecked(
            self.name, "reelpick_predict", user_id=user_id, movie_ids=movie_ids
        )

    # -- the checks ------------------------------------------------------------------
    def _check_info(self, registry: Registry) -> None:
        info = registry.plugins[self.name].info
        if not (isinstance(info.label, str) and info.label.strip()):
            self._problem("PluginInfo.label is empty")
        if not (isinstance(info.description, str) and info.description.strip()):
            self._problem("PluginInfo.description is empty")
        if not isinstance(info.version, str):
            self._problem(f"PluginInfo.version is {type(info.version).__name__}, not str")
        for key, value in info.params.items():
            if not isinstance(value, TOML_TYPES):
                self._problem(
                    f"PluginInfo.params[{key!r}] is a {type(value).__name__}; parameters must "
                    "be TOML values (bool, int, float, str, list, table) to be set in config.toml"
                )
        try:
            registry.check_hooks()
        except PluginError as exc:  # it names the @hookimpl that matches no hook
            self._problem(f"has a @hookimpl that is not a reelpick hook: {exc}")
        for hook in ("reelpick_fit", "reelpick_similar"):
            if not registry.implements(self.name, hook):
                self._problem(f"does not implement {hook}")
        self._pass("plugin info and hooks")

    def _check_answers(self, answers: dict[int, Outcome]) -> None:
        for movie_id, outcome in answers.items():
            where = f"reelpick_similar({movie_id} {self._title(movie_id)}, k={self.k})"
            if outcome.error is not None:
                self._problem(
                    f"{where} raised or returned {outcome.error}; expected a list of "
                    "Neighbour or reelpick.NoAnswer"
                )
            elif outcome.no_answer is not None:
                if not outcome.no_answer.strip():
                    self._problem(f"{where} raised NoAnswer without a reason")
            else:
                for problem in self._result_problems(movie_id, outcome.neighbours or [], self.k):
                    self._problem(f"{where} {problem}")
        if not any(o.neighbours for o in answers.values()):
            self._problem(
                f"answered none of the {len(answers)} movies asked about "
                f"({', '.join(str(m) for m in list(answers)[:8])}, ...)"
            )
        self._pass("answers: Neighbours of known movies, not the query, sorted, at most k")

    def _result_problems(self, movie_id: int, found: list[Any], k: int) -> list[str]:
        return neighbour_problems(
            found, k, self.dataset, frozenset({movie_id}), movie_id, thorough=True
        )

    def _check_smaller_k(self, registry: Registry, answers: dict[int, Outcome]) -> None:
        small = max(1, self.k // 3)
        for movie_id, outcome in answers.items():
            if not outcome.neighbours:
                continue
            fewer = self._ask(registry, movie_id, small)
            where = f"reelpick_similar({movie_id}, k={small})"
            if fewer.neighbours is None:
                self._problem(f"{where} gave {fewer.describe()} but k={self.k} gave neighbours")
                continue
            for problem in self._result_problems(movie_id, fewer.neighbours, small):
                self._problem(f"{where} {problem}")
            if not same_ranking(outcome.neighbours[:small], fewer.neighbours):
                self._problem(
                    f"{where} is not the start of the k={self.k} answer: "
                    f"{fewer.describe()} vs {outcome.describe()}"
                )
        self._pass(f"k={small} answers are prefixes of k={self.k} answers")

    def _check_unknown_movie(self, registry: Registry) -> None:
        unknown = int(self.dataset.movies.index.max()) + 1_000_003
        for movie_id in (unknown, -1):
            outcome = self._ask(registry, movie_id, self.k)
            if outcome.no_answer is None:
                self._problem(
                    f"reelpick_similar({movie_id}), a movie id not in the dataset, gave "
                    f"{outcome.describe()}; it must raise reelpick.NoAnswer"
                )
            elif not outcome.no_answer.strip():
                self._problem(f"reelpick_similar({movie_id}) raised NoAnswer without a reason")
        self._pass("unknown movie id raises NoAnswer")

    def _check_registry_agrees(self, registry: Registry, answers: dict[int, Outcome]) -> None:
        """The registry's own checks (what the CLI and bot see) accept every answer."""
        for movie_id, outcome in answers.items():
            answer = registry.ask(self.name, movie_id, self.k)
            if outcome.neighbours is not None and answer.error:
                self._problem(f"the registry refused the answer for {movie_id}: {answer.error}")
        self._pass("the registry accepts every answer")

    def _check_predict(
        self, registry: Registry
    ) -> tuple[tuple[int, list[int]], list[float]] | None:
        if not registry.implements(self.name, "reelpick_predict"):
            return None
        ratings = self.dataset.ratings
        if ratings.empty:
            return None
        user_id = int(ratings["userId"].iloc[0])
        mine = ratings.loc[ratings["userId"] == user_id, "movieId"].head(3).tolist()
        others = [m for m in self.dataset.movies.index[:3].tolist() if m not in mine]
        movie_ids = [int(m) for m in mine + others]
        try:
            predicted = self._predict(registry, user_id, movie_ids)
        except NoAnswer:
            predicted = None
        except Exception as exc:
            self._problem(
                f"reelpick_predict({user_id}, {movie_ids}) raised {type(exc).__name__}: {exc}"
            )
            return None
        if predicted is not None:
            predicted = list(predicted)
            if len(predicted) != len(movie_ids) or not all(
                isinstance(p, int | float) and math.isfinite(p) for p in predicted
            ):
                self._problem(
                    f"reelpick_predict({user_id}, {movie_ids}) returned {predicted!r}; "
                    "expected one finite float per movie"
                )
        stranger = int(ratings["userId"].max()) + 1_000_003
        try:
            self._predict(registry, stranger, movie_ids)
        except NoAnswer:
            pass
        except Exception as exc:
            self._problem(
                f"reelpick_predict for unknown user {stranger} raised {type(exc).__name__}: "
                f"{exc}; raise reelpick.NoAnswer instead"
            )
        self._pass("reelpick_predict")
        return (user_id, movie_ids), predicted

    def _check_unknown_param(self) -> None:
        bogus = "no_such_parameter_for_contract_check"
        values = copy.deepcopy(self._config(self.root / "fit-params").values)
        values["plugins"][self.name][bogus] = 1
        registry = Registry(Config(values=values), load_entry_points=False, load_builtins=False)
        try:
            registry.register(self.make(), self.name)
        except ConfigError as exc:
            if self.name not in str(exc) or bogus not in str(exc):
                self._problem(f"the unknown-parameter error does not name plugin and key: {exc}")
        except Exception as exc:
            self._problem(
                f"an unknown parameter raised {type(exc).__name__}: {exc}, not ConfigError"
            )
        else:
            self._problem(f"accepted an unknown parameter {bogus!r} in [plugins.{self.name}]")
        self._pass("unknown parameters raise ConfigError")

    def _compare(self, expected: dict[int, Outcome], got: dict[int, Outcome], how: str) -> None:
        for movie_id, want in expected.items():
            have = got[movie_id]
            same = (
                same_ranking(want.neighbours, have.neighbours)
                if want.neighbours is not None and have.neighbours is not None
                else (want.neighbours is None) == (have.neighbours is None)
                and want.error == have.error
            )
            if not same:
                self._problem(
                    f"answers differ when {how} for movie {movie_id} {self._title(movie_id)}: "
                    f"first fit {want.describe()}, {how} {have.describe()}"
                )

    def _compare_snapshots(
        self,
        before: dict[str, tuple[int, int]],
        after: dict[str, tuple[int, int]],
        during: str,
    ) -> None:
        changed = sorted(
            set(before.items()).symmetric_difference(after.items()), key=lambda item: item[0]
        )
        if changed:
            names = sorted({path for path, _ in changed})
            self._problem(
                f"{during} wrote to the cache ({len(names)} files added or rewritten, e.g. "
                f"{', '.join(names[:3])}); a fit must load what an earlier fit stored "
                "and queries must be lookups"
            )

    # -- reporting -------------------------------------------------------------------
    def _title(self, movie_id: int) -> str:
        return f"({self.dataset.label(movie_id)})" if movie_id in self.dataset else "(unknown)"

    def _problem(self, text: str) -> None:
        self.problems.append(text)

    def _pass(self, check: str) -> None:
        self.checks.append(check)

    def _fail_now(self) -> None:
        __tracebackhide__ = True
        if self.problems:
            raise PluginContractError(report_problems(self.name, self.label, self.problems))
