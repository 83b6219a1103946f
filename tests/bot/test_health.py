"""Health and metrics: the update loop's readiness, the per-bot registry, the HTTP server,
the handler timings and counters of a running bot, and the owner's /stats."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from reelpick.bot.app import build_application
from reelpick.bot.breaker import PluginBreaker
from reelpick.bot.health import HealthServer
from reelpick.bot.metrics import BotMetrics, UpdateLoop, handler_label
from reelpick.bot.movienight.store import MovieNightStore
from reelpick.bot.services import SERVICES
from reelpick.bot.stopping import stop_after
from reelpick.errors import ConfigError
from tests.support.bot_api.application import running
from tests.support.webhook_proxy import http_get

pytestmark = pytest.mark.timeout(120)

OWNER = 555


def test_waiting_updates_without_progress_are_stuck() -> None:
    loop = UpdateLoop()
    assert loop.stalled_for(time.monotonic() + 1000) == 0  # nothing waits: never stuck
    loop.received_one()
    later = time.monotonic() + 90
    assert loop.pending == 1 and loop.stalled_for(later) >= 89
    loop.started_one()  # progress: the clock restarts, nothing waits
    assert loop.stalled_for(later) == 0
    loop.received_one()
    loop.received_one()
    assert loop.pending == 2 and 85 < loop.stalled_for(time.monotonic() + 90) < 95


def test_health_answers_starting_then_ready_then_stuck_with_a_blocked_loop() -> None:
    metrics = BotMetrics()
    assert metrics.health() == (False, "starting")
    event_loop = asyncio.new_event_loop()
    thread = threading.Thread(target=event_loop.run_forever, daemon=True)
    thread.start()
    try:
        metrics.loop.loop = event_loop
        metrics.loop.running = lambda: True
        assert metrics.health() == (True, "ready")
        release = threading.Event()
        event_loop.call_soon_threadsafe(release.wait, 10)  # blocks the loop, as sync code would
        ready, why = metrics.health()
        assert not ready and "event loop did not answer" in why
        release.set()
        metrics.stuck_after = 5
        metrics.loop.received_one()
        metrics.loop._progress -= 10  # an update waited 10 s with nothing starting
        ready, why = metrics.health()
        assert not ready and why.startswith("stuck: 1 update(s) waiting")
    finally:
        event_loop.call_soon_threadsafe(event_loop.stop)
        thread.join(5)
        event_loop.close()


def test_each_bot_has_its_own_registry() -> None:
    first, second = BotMetrics(), BotMetrics()
    first.updates.labels(kind="message").inc()
    assert first.totals("updates") == {("message",): 1.0}
    assert second.totals("updates") == {}
    first.track("open_movie_nights", "doc", lambda: 3)
    first.track("broken", "doc", lambda: 1 / 0)
    assert first.value("open_movie_nights") == 3 and first.value("broken") is None


def test_breaker_states_for_the_gauge() -> None:
    breaker = PluginBreaker(failures=1, pause=10, max_running=2)
    assert breaker.state("a") == 0
    breaker.timed_out("a", now=100.0)
    assert breaker.state("a") == 1
    assert breaker.acquire("a", now=111.0) is None  # the pause is over: one trial call
    assert breaker.state("a") == 2
    breaker.succeeded("a")
    assert breaker.state("a") == 0


def test_handler_labels_see_through_stop_after() -> None:
    async def private_text(update: object, context: object) -> None: ...

    assert handler_label(stop_after(private_text))[1] == (
        "test_handler_labels_see_through_stop_after.private_text"
    )
    assert handler_label(stop_after(stop_after(private_text)))[0] == "tests.bot.test_health"


def test_health_server_serves_healthz_and_metrics(make_config) -> None:
    metrics = BotMetrics()
    metrics.updates.labels(kind="message").inc(3)
    section = make_config('[bot]\nhealth = "127.0.0.1:0"\n').settings.bot
    server = HealthServer.for_settings(section, metrics)
    assert server is not None
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert http_get(base + "/healthz") == (503, "starting\n")
        status, text = http_get(base + "/metrics")
        assert status == 200
        assert 'reelpick_updates_total{kind="message"} 3.0' in text
        assert "reelpick_ready 0.0" in text
        assert http_get(base + "/other")[0] == 404
    finally:
        server.close()
    assert HealthServer.for_settings(make_config("").settings.bot, metrics) is None


def test_health_address_is_loopback_unless_made_public(make_config) -> None:
    with pytest.raises(ConfigError, match=r"\[bot\] health: 0.0.0.0 is not a loopback address"):
        _ = make_config('[bot]\nhealth = "0.0.0.0:9100"\n').settings
    public = make_config('[bot]\nhealth = "0.0.0.0:9100"\nhealth_public = true\n')
    assert public.settings.bot.health == "0.0.0.0:9100"
    with pytest.raises(ConfigError, match=r"health: expected \"127.0.0.1:PORT\""):
        _ = make_config('[bot]\nhealth = "somewhere"\n').settings
    assert make_config('[bot]\nhealth = "9100"\n').settings.bot.health == "9100"


def test_health_port_taken_is_one_line(make_config) -> None:
    metrics = BotMetrics()
    first = HealthServer.for_settings(
        make_config('[bot]\nhealth = "127.0.0.1:0"\n').settings.bot, metrics
    )
    assert first is not None
    try:
        taken = make_config(f'[bot]\nhealth = "127.0.0.1:{first.port}"\n').settings.bot
        with pytest.raises(ConfigError, match="cannot listen on 127.0.0.1"):
            HealthServer.for_settings(taken, metrics)
    finally:
        first.close()


async def test_a_running_bot_counts_times_and_reports_to_its_owner(
    server, bot_config, reelpick_app
) -> None:
    config = bot_config(f"owner = {OWNER}\n")
    application = build_application(config, reelpick_app)
    metrics = application.bot_data[SERVICES].metrics
    async with running(application):
        # From the event loop's own thread: no probe that would wait for the loop itself.
        assert metrics.health() == (True, "ready")
        server.push_text(100, "Heat")
        server.push_text(101, "/help")
        await server.wait_for(lambda: len(server.calls("sendMediaGroup", 100)) >= 1)
        await server.wait_for(lambda: metrics.totals("updates").get(("message",)) == 2)
        timed = metrics.totals("handler_seconds")
        assert timed[("titles", "private_text")] == 1
        assert timed[("guard", "guard")] == 2
        assert metrics.value("plugin_breaker_state") == {"cosine-cf": 0}
        assert metrics.value("open_movie_nights") == 0
        assert metrics.value("import_queue_length") == 0
        server.push_text(OWNER, "/stats")
        await server.wait_for(lambda: server.sent(OWNER))
        stats = server.sent(OWNER)[-1]["text"]
        assert "Updates handled: 2 (message 2)" in stats
        assert "Plugin errors: none" in stats and "Busy refusals: 0" in stats
        server.push_text(OWNER + 1, "/stats")
        await server.wait_for(lambda: server.sent(OWNER + 1))
        assert "I don't know that command" in server.sent(OWNER + 1)[-1]["text"]
    assert metrics.health() == (False, "stopping")


async def test_refused_plugins_and_busy_answers_are_counted(
    server, bot_config, reelpick_app
) -> None:
    # A budget of one plugin answer a minute: the second title is answered "busy".
    config = bot_config(f"owner = {OWNER}\nheavy_answers_per_minute = 1\n")
    application = build_application(config, reelpick_app)
    services = application.bot_data[SERVICES]
    metrics = services.metrics
    for _ in range(services.breaker.failures):  # cosine-cf timed out: paused
        services.breaker.timed_out("cosine-cf")
    async with running(application):
        server.push_text(200, "Heat")
        await server.wait_for(lambda: metrics.totals("plugin_errors"))
        assert metrics.totals("plugin_errors") == {("cosine-cf", "refused"): 1}
        assert metrics.value("plugin_breaker_state") == {"cosine-cf": 1}
        server.push_text(201, "Alien")
        await server.wait_for(lambda: metrics.totals("busy_refusals"))
        assert metrics.totals("busy_refusals") == {("answer_budget",): 1}
        server.push_text(OWNER, "/stats")
        await server.wait_for(lambda: server.sent(OWNER))
        stats = server.sent(OWNER)[-1]["text"]
        assert "Plugin errors: cosine-cf 1" in stats
        assert "Paused plugins: cosine-cf" in stats and "Busy refusals: 1" in stats


def test_open_movie_nights_are_counted_across_chats(tmp_path) -> None:
    store = MovieNightStore(tmp_path / "nights.sqlite3")
    try:
        assert store.count_open() == 0
        first = store.open_night(-100, 1, "Ann")
        store.open_night(-200, 2, "Bo")
        assert store.count_open() == 2
        assert store.cancel(first.id)
        assert store.count_open() == 1
    finally:
        store.close()
