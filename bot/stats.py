"""``/stats``: the bot's numbers in a few lines, for its owner only (``bot.owner``).

The same numbers as ``/metrics`` (:class:`~reelpick.bot.metrics.BotMetrics`): updates handled
by kind, the 95th percentile of update handling time, plugin errors, paused plugins, open
movie nights, the import queue and busy refusals. Anyone else gets what any unknown command
gets (the fallbacks feature answers), so the command does not show that it exists; it is in
no command menu. The text is for the operator, in English.
"""

from __future__ import annotations

import time

from telegram import Update
from telegram.ext import MessageHandler, filters

from .context import BotApplication, BotContext
from .handler_groups import HandlerGroup
from .metrics import BotMetrics
from .services import BotServices
from .stopping import stop_after
from .updates import message_of


def register(application: BotApplication, services: BotServices) -> None:
    """``/stats`` for ``bot.owner``; without an owner, nothing is added."""
    if not services.owner:
        return
    # Not a CommandHandler: the fallbacks answer commands no CommandHandler knows, so anyone
    # else's /stats gets exactly what any unknown command gets.
    owner_stats = (
        filters.Regex(r"^/stats(@\w+)?(\s|$)")
        & filters.User(user_id=services.owner)
        & filters.UpdateType.MESSAGE
    )
    application.add_handler(
        MessageHandler(owner_stats, stop_after(cmd_stats)), HandlerGroup.OPERATIONS
    )


async def cmd_stats(update: Update, context: BotContext) -> None:
    await message_of(update).reply_text(stats_text(context.services.metrics))


def stats_text(metrics: BotMetrics, now: float | None = None) -> str:
    """The /stats message: a few lines of numbers."""
    now = time.time() if now is None else now
    updates = {kind[0]: n for kind, n in metrics.totals("updates").items()}
    total = sum(updates.values())
    kinds = ", ".join(f"{k} {_n(v)}" for k, v in sorted(updates.items(), key=lambda kv: -kv[1]))
    p95 = metrics.quantile("update_seconds", 0.95)
    errors: dict[str, float] = {}
    for (plugin, _reason), n in metrics.totals("plugin_errors").items():
        errors[plugin] = errors.get(plugin, 0.0) + n
    breakers = metrics.value("plugin_breaker_state")
    paused = sorted(p for p, s in breakers.items() if s) if isinstance(breakers, dict) else []
    busy = sum(metrics.totals("busy_refusals").values())
    lines = [
        f"Up {_duration(now - metrics.loop.started_at)}, {metrics.health(probe=False)[1]}",
        f"Updates handled: {_n(total)}" + (f" ({kinds})" if kinds else ""),
        f"Waiting now: {metrics.loop.pending}",
        "Handling time p95: " + ("-" if p95 is None else _seconds(p95)),
        "Plugin errors: "
        + (", ".join(f"{p} {_n(n)}" for p, n in sorted(errors.items())) or "none"),
        "Paused plugins: " + (", ".join(paused) or "none"),
        f"Open movie nights: {_number(metrics.value('open_movie_nights'))}",
        f"Imports queued: {_number(metrics.value('import_queue_length'))}",
        f"Busy refusals: {_n(busy)}",
    ]
    return "\n".join(lines)


def _n(value: float) -> str:
    return f"{int(value):,}"


def _number(value: object) -> str:
    return _n(value) if isinstance(value, int | float) else "-"


def _seconds(bound: float) -> str:
    if bound == float("inf"):
        return "over 30 s"
    return f"≤ {bound * 1000:.0f} ms" if bound < 1 else f"≤ {bound:g} s"


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"
