"""Logging every plugin hook call: which plugin, with what, how it ended and how long it took.

Turned on by ``REELPICK_TRACE=1`` or :meth:`reelpick.registry.Registry.trace_hook_calls`,
through pluggy's hook-call monitoring; lines go to the ``reelpick.trace`` logger.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pluggy

from .cache import ArtifactStore
from .types import Profile

trace_log = logging.getLogger("reelpick.trace")


def log_hook_calls(pm: pluggy.PluginManager) -> None:
    """Log each hook call of ``pm`` once it returns or raises."""
    started: dict[int, float] = {}

    def before(
        hook_name: str, hook_impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]
    ) -> None:
        started[id(kwargs)] = time.perf_counter()

    def after(
        outcome: pluggy.Result[Any],
        hook_name: str,
        hook_impls: Sequence[pluggy.HookImpl],
        kwargs: Mapping[str, Any],
    ) -> None:
        seconds = time.perf_counter() - started.pop(id(kwargs), time.perf_counter())
        names = ",".join(pm.get_name(impl.plugin) or "?" for impl in hook_impls)
        # The dataset and config are the same on every call and too long to print.
        shown = {k: shown_value(v) for k, v in kwargs.items() if k not in ("dataset", "config")}
        status = "raised " + type(outcome.exception).__name__ if outcome.exception else "ok"
        trace_log.warning(
            "%s[%s](%s) %s in %.1f ms", hook_name, names, shown, status, seconds * 1e3
        )

    pm.add_hookcall_monitoring(before, after)


def shown_value(value: object) -> object:
    """What a trace line shows of a hook argument. A person's profile, and the movies
    excluded for them (their own movies among them), are shown as counts only: traces end
    up in logs, and what someone rated is theirs."""
    if isinstance(value, ArtifactStore):
        return str(value.path)
    if isinstance(value, Profile):
        return (
            f"<profile: {len(value.ratings)} ratings, {len(value.seen)} seen, "
            f"{len(value.not_interested)} not interested>"
        )
    if isinstance(value, set | frozenset):
        return f"<{len(value)} movies>"
    return value
