"""The order in which plugins are fitted, from the products each needs and provides.

A plugin that needs a product (see :mod:`reelpick.products`) is fitted after the plugin that
provides it. The provider is the first plugin of ``[plugins] enabled`` that lists the product
in ``PluginInfo.provides`` (or, failing that, one of the plugins asked for). A product that
no enabled plugin provides, and a cycle of needs, are worded here in one line each: the
registry reports them as the fit errors of the plugins concerned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .types import Need


@dataclass(frozen=True)
class FitPlan:
    """Which plugins to fit, in which order, and who supplies what.

    ``order`` lists the plugins asked for and the providers they pull in, each after the
    plugins it needs; ``suppliers`` maps a plugin to {product: providing plugin}; ``problems``
    maps a plugin that cannot be fitted to the reason, one line.
    """

    order: list[str] = field(default_factory=list)
    suppliers: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


def plan_fits(
    wanted: Sequence[str],
    enabled: Sequence[str],
    needs: Mapping[str, Sequence[Need]],
    provides: Mapping[str, Sequence[str]],
) -> FitPlan:
    """The plan for fitting ``wanted``.

    ``enabled`` are the plugins of ``[plugins] enabled``, in order; ``needs`` and ``provides``
    cover every installed plugin, ``needs`` holding only the needs switched on by its params.
    """
    candidates = list(dict.fromkeys([*enabled, *wanted]))
    plan = FitPlan()
    done: set[str] = set()

    def provider_of(product: str) -> str | None:
        return next((n for n in candidates if product in provides.get(n, ())), None)

    def visit(name: str, path: list[tuple[str, str]]) -> None:
        if name in done:
            return
        on_path = [step[0] for step in path]
        if name in on_path:
            cycle = path[on_path.index(name) :]
            line = _cycle_line(cycle)
            for member, _ in cycle:
                plan.problems[member] = line
            return
        plan.suppliers[name] = {}
        for need in needs.get(name, ()):
            provider = provider_of(need.product)
            if provider is None:
                installed = [n for n in provides if need.product in provides[n]]
                plan.problems.setdefault(name, _missing_line(name, need, installed))
                continue
            plan.suppliers[name][need.product] = provider
            visit(provider, [*path, (name, need.product)])
        done.add(name)
        plan.order.append(name)

    for name in wanted:
        visit(name, [])
    return plan


def _missing_line(name: str, need: Need, installed: list[str]) -> str:
    if installed:
        fix = f"enable {' or '.join(installed)} in [plugins] enabled"
    else:
        fix = "install a plugin that provides it"
    if need.when is not None:
        fix += f", or set {need.when} = false in [plugins.{name}]"
    return f"{name} needs {need.product}, which no enabled plugin provides: {fix}"


def _cycle_line(cycle: list[tuple[str, str]]) -> str:
    """``cycle`` is [(plugin, product it needs from the next one), ...], closing on the first."""
    steps = [
        f"{name} needs {product} from {cycle[(i + 1) % len(cycle)][0]}"
        for i, (name, product) in enumerate(cycle)
    ]
    return f"plugins that need each other cannot be fitted: {', '.join(steps)}"
