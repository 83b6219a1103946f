"""Fitting the plugins for a command, with progress: what each fit did (fitted, loaded from
the cache, or loaded from a fit another engine made) and one line per failure."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from ..app import Reelpick
from ..errors import ConfigError
from .progress import Stage

log = logging.getLogger("reelpick")

# Written into a plugin's store after a fit that wrote it: which engine made it.
FITTED_BY = "fitted-by.json"


@dataclass(frozen=True)
class FitOutcome:
    """One plugin's fit as a command reports it."""

    plugin: str
    error: str | None  # one line, or None when the plugin is ready
    how: str  # "fitted", "loaded", "loaded (fitted by the local engine; ...)", or "failed"
    seconds: float

    @property
    def ok(self) -> bool:
        return self.error is None


def fit_plugins(
    app: Reelpick,
    names: list[str] | None = None,
    *,
    quiet: bool = False,
    stage: str = "fit",
) -> dict[str, FitOutcome]:
    """Fit (or load) each plugin of ``names`` (default: the enabled ones), one at a time.

    Progress is one stage of ``len(names)`` steps on stderr (see :mod:`.progress`). A plugin
    whose fit fails is reported in its outcome; a :class:`ConfigError` from a fit (a setting
    the plugin judged wrong) is raised at once, as one line naming the plugin.
    """
    registry = app.registry
    wanted = [n for n in registry.enabled(names) if not _ready(app, n)]
    outcomes: dict[str, FitOutcome] = {
        n: FitOutcome(n, None, "loaded", 0.0) for n in registry.enabled(names) if n not in wanted
    }
    if not wanted:
        return outcomes
    engine = str(app.settings.engine.name)
    progress = Stage(stage, len(wanted), quiet=quiet, unit="plugins")
    try:
        for step, name in enumerate(wanted, 1):
            progress.advance(0, name)
            store = registry.store_for(name, app.dataset).path
            before = _snapshot(store)
            started = time.perf_counter()
            error = registry.fit(app.dataset, [name])[name]
            seconds = time.perf_counter() - started
            how = "failed" if error else _how(store, before, engine)
            outcomes[name] = FitOutcome(name, error, how, seconds)
            if error is None and how == "fitted":
                _mark(store, engine)
            config_error = error is not None and error.startswith("ConfigError: ")
            if not progress.live and not quiet and not config_error:
                said = _said(outcomes[name])
                print(f"{stage} {step}/{len(wanted)}: {name} {said}", file=progress.stream)
            progress.advance(1, f"{name} {how}")
            if config_error:
                raise ConfigError(f"plugin {name}: {(error or '').removeprefix('ConfigError: ')}")
            if error is not None and error.startswith("EngineError: "):
                break  # the engine is unusable for every plugin: no point asking the next one
    finally:
        progress.quiet = True  # the per-plugin lines above said it all off a terminal
        progress.close()
    return outcomes


def report_failures(outcomes: dict[str, FitOutcome]) -> None:
    """One log line per plugin that could not be fitted (the command goes on without it)."""
    for outcome in outcomes.values():
        if outcome.error is not None:
            log.error("plugin %s is unavailable: %s", outcome.plugin, outcome.error)


def _said(outcome: FitOutcome) -> str:
    if outcome.error is not None:
        return "failed"  # the error itself is one line of its own
    how, note = (outcome.how.split(" (", 1) + [""])[:2]
    return f"{how} in {outcome.seconds:.1f} s" + (f" ({note}" if note else "")


def _ready(app: Reelpick, name: str) -> bool:
    plugin = app.registry.plugins.get(name)
    return plugin is not None and plugin.fitted and plugin.fitted_on is app.dataset


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    if not folder.is_dir():
        return {}
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file() and p.name != FITTED_BY
    }


def _how(store: Path, before: dict[str, tuple[int, int]], engine: str) -> str:
    after = _snapshot(store)
    if after != before:
        return "fitted"
    if not after:
        return "fitted (it caches nothing)"
    try:
        made_by = json.loads((store / FITTED_BY).read_text())["engine"]
    except (OSError, ValueError, KeyError, TypeError):
        return "loaded"
    if made_by != engine:
        return f"loaded (fitted by the {made_by} engine; the {engine} engine did not run)"
    return "loaded"


def _mark(store: Path, engine: str) -> None:
    if store.is_dir():
        try:
            (store / FITTED_BY).write_text(json.dumps({"engine": engine}) + "\n")
        except OSError as exc:  # only a note for later fits: never a reason to fail
            log.info("cannot note the engine in %s: %s", store, exc)
