"""Benchmark the bot in webhook mode behind nginx: 1,000 updates at 50/s, nothing lost.

A real ``reelpick bot`` process (cosine-CF on ml-latest-small) in webhook mode, the system's
nginx in front of it on 127.0.0.1 with TLS (a self-signed certificate; the site is
deploy/nginx-reelpick.conf, as tests/support/webhook_proxy.py adapts it), and the Bot API
stand-in (tests/support/bot_api) taking the bot's answers. Updates are POSTed through nginx
over HTTPS with Telegram's secret-token header, paced at ``--rate`` per second from
``--connections`` kept-alive connections (Telegram delivers on up to 40), each from its own
private chat: four in five a title (header and one album per plugin), one in five /help.
Telegram's flood limits and the bot's per-chat and bot-wide answer budgets are off, so the
figures are the bot's own cost.

Figures, each beside its target (ratio below 1.0 meets it):
  lost            updates not answered 200 by nginx, or whose chat never got an answer (0)
  handling p95    from the POST to the bot's last answer request for that update, as the
                  stand-in received it (<= 100 ms); p50 and max beside it
  bot histogram   the bot's own reelpick_update_seconds p95 (bucket bound) from /metrics
  nginx           $request_time p95 of the webhook POSTs (the bot answers 200 once queued)
  bot CPU         the bot process's CPU seconds per update during the run, with the load
  /healthz, /metrics  "ready", and reelpick_updates_total == updates sent

    .venv/bin/python bench/bench_webhook.py                  # 1,000 at 50/s
    .venv/bin/python bench/bench_webhook.py --updates 200    # quick
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.bot_api import BotAPIServer  # noqa: E402
from tests.support.webhook_proxy import (  # noqa: E402
    Nginx,
    WebhookPoster,
    free_ports,
    http_get,
    message_update,
)

SHARED = Path(os.environ.get("REELPICK_SHARED", REPO.parent / "shared"))
ML_SMALL = SHARED / "data" / "ml-latest-small"
POSTERS = SHARED / "data" / "posters"
TITLES = ["Heat", "Toy Story", "The Matrix 1999", "Alien", "Fargo", "Jaws", "Memento", "Shrek"]
TARGET_P95 = 0.100
FIRST_CHAT = 900_000


def metric_sum(text: str, name: str) -> float:
    return sum(
        float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if not line.startswith("#") and line.split("{")[0].split(" ")[0] == name
    )


def counted(health: str) -> float:
    return metric_sum(http_get(health + "/metrics")[1], "reelpick_updates_total")


def watch(health: str, seen: dict[str, float]) -> None:
    """One look at /healthz and the pending updates while the run goes on."""
    seen["ready" if http_get(health + "/healthz")[0] == 200 else "not ready"] += 1
    pending = metric_sum(http_get(health + "/metrics")[1], "reelpick_updates_pending")
    seen["pending"] = max(seen["pending"], pending)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def buckets_of(text: str, name: str) -> dict[float, float]:
    buckets = {}
    for line in text.splitlines():
        found = re.match(rf'{name}_bucket{{le="([^"]+)"}} (\S+)', line)
        if found:
            buckets[float(found[1])] = float(found[2])
    return buckets


def bucket_p95(text: str, name: str, before: str) -> float | None:
    """The bucket bound holding the 95th percentile of what was observed since ``before``."""
    earlier = buckets_of(before, name)
    buckets = {b: n - earlier.get(b, 0.0) for b, n in buckets_of(text, name).items()}
    total = buckets.get(float("inf"), 0.0)
    if not total:
        return None
    return next(b for b in sorted(buckets) if buckets[b] >= 0.95 * total)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def answered_at(server: BotAPIServer, chat: int, text: str) -> float | None:
    """When the bot's last answer for ``chat`` arrived (None while incomplete)."""
    calls = [r for r in server.calls(None, chat) if r.method.startswith("send")]
    done = any(r.method == "sendMediaGroup" for r in calls) if text != "/help" else bool(calls)
    return max(r.at for r in calls) if done and calls else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="updates per second")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--wait", type=float, default=300.0, help="seconds to wait for answers")
    parser.add_argument(
        "--profile", type=Path, help="run the bot under cProfile, writing its stats here"
    )
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    bot_port, health_port, nginx_port = free_ports(3)
    nginx = Nginx(folder / "nginx", bot_port, nginx_port)
    config = folder / "config.toml"
    config.write_text(
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{folder / "cache"}"\n'
        f'[state]\ndir = "{folder / "state"}"\n'
        '[plugins]\nenabled = ["cosine-cf"]\n'
        f'[posters]\ndir = "{POSTERS}"\n'
        f'[bot]\nmode = "webhook"\nwebhook_url = "{nginx.url}"\n'
        f'webhook_port = {bot_port}\nhealth = "127.0.0.1:{health_port}"\n'
        "messages_per_minute = 0\nmessages_per_user_minute = 0\nheavy_answers_per_minute = 0\n"
        "max_messages_per_second = 0\nmax_messages_per_group_minute = 0\n"
        "max_messages_per_chat_second = 0\nwaiting_per_chat = 100\nwaiting_per_person = 100\n"
    )
    health = f"http://127.0.0.1:{health_port}"
    with BotAPIServer() as server:
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": server.token,
            "REELPICK_TELEGRAM_BASE_URL": server.base_url,
            "REELPICK_TELEGRAM_BASE_FILE_URL": server.base_file_url,
        }
        log = folder / "bot.log"
        bot = subprocess.Popen(
            [
                sys.executable,
                *(["-m", "cProfile", "-o", str(args.profile)] if args.profile else []),
                "-m",
                "reelpick",
                "-v",
                "--config",
                str(config),
                "bot",
            ],
            stdout=open(log, "wb"),  # noqa: SIM115 (kept by Popen)
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            nginx.start()
            started = time.perf_counter()
            server.wait_for_sync(lambda: server.webhook["url"] == nginx.url, timeout=300)
            server.wait_for_sync(lambda: http_get(health + "/healthz")[0] == 200, timeout=60)
            print(f"bot ready in {time.perf_counter() - started:.1f} s (fit included)")
            secret = server.webhook["secret_token"]
            # Warm, as a bot that has run a while: each title asked once (posters read and
            # uploaded, their file ids known). The run's figures count from here.
            warm = WebhookPoster(nginx)
            for n, text in enumerate([*TITLES, "/help"]):
                assert (
                    warm.post(message_update(server, 10**7 + n, 800_000 + n, text), secret) == 200
                )
                server.wait_for_sync(
                    lambda n=n, text=text: answered_at(server, 800_000 + n, text), timeout=120
                )
            warm.close()
            warmed = len(TITLES) + 1
            server.wait_for_sync(lambda: counted(health) == warmed, timeout=30)
            before_text = http_get(health + "/metrics")[1]
            before = metric_sum(before_text, "reelpick_updates_total")
            cpu_before = cpu_seconds(bot.pid)
            warm_log = len(nginx.access_log())
            texts = [
                "/help" if i % 5 == 4 else TITLES[i % len(TITLES)] for i in range(args.updates)
            ]
            updates = [
                message_update(server, 1 + i, FIRST_CHAT + i, texts[i]) for i in range(args.updates)
            ]
            posted: dict[int, float] = {}
            statuses: dict[int, int] = {}
            local = threading.local()
            posters: list[WebhookPoster] = []

            def post(i: int, at: float) -> None:
                poster = getattr(local, "poster", None)
                if poster is None:
                    poster = local.poster = WebhookPoster(nginx)
                    posters.append(poster)
                time.sleep(max(0.0, at - time.perf_counter()))
                posted[i] = time.perf_counter()
                try:
                    statuses[i] = poster.post(updates[i], secret)
                except OSError:
                    statuses[i] = -1

            t0 = time.perf_counter() + 0.5
            seen: dict[str, float] = {"ready": 0, "not ready": 0, "pending": 0}
            with ThreadPoolExecutor(args.connections) as pool:
                for i in range(args.updates):
                    pool.submit(post, i, t0 + i / args.rate)
                while not all(i in statuses for i in range(args.updates)):
                    watch(health, seen)
                    time.sleep(1)
            sent_for = time.perf_counter() - t0
            for poster in posters:
                poster.close()
            chats = {i: FIRST_CHAT + i for i in range(args.updates)}
            # On a loaded machine a backlog takes a while to drain: an update is lost only
            # when it is still unanswered --wait seconds after the last one was sent.
            deadline = time.monotonic() + args.wait
            # Polled through /metrics, not the stand-in: scanning its requests while the bot
            # sends would hold the stand-in's lock and slow the bot's answers down.
            while time.monotonic() < deadline and counted(health) < before + args.updates:
                watch(health, seen)
                time.sleep(1)
            last_send: dict[int, float] = {}
            for request in server.calls():
                if request.method.startswith("send") and request.ok and request.chat_id:
                    last_send[request.chat_id] = max(
                        request.at, last_send.get(request.chat_id, 0.0)
                    )
            done = {i: last_send[c] for i, c in chats.items() if c in last_send}
            cpu = cpu_seconds(bot.pid) - cpu_before
            refused = sum(1 for s in statuses.values() if s != 200)
            lost = args.updates - len(done)
            latencies = [done[i] - posted[i] for i in done]
            _, metrics = http_get(health + "/metrics")
            healthz = http_get(health + "/healthz")
        finally:
            bot.send_signal(signal.SIGINT)
            try:
                bot.wait(timeout=60)
            except subprocess.TimeoutExpired:
                bot.kill()
            nginx.stop()

    p95 = percentile(latencies, 0.95) if latencies else float("inf")
    request_times = [
        float(f[5])
        for f in nginx.access_log()[warm_log:]
        if len(f) > 5 and f[2] == "/reelpick-hook"
    ]
    handled = metric_sum(metrics, "reelpick_updates_total") - before
    missing = sorted(i for i in range(args.updates) if i not in done)
    if missing:
        print("never answered:", ", ".join(f"#{i} {texts[i]!r}" for i in missing[:10]))
    print(f"sent {args.updates} updates in {sent_for:.1f} s ({args.updates / sent_for:.1f}/s) "
          f"on {args.connections} connections through nginx (TLS)")  # fmt: skip
    print(f"lost                  {lost} (refused by nginx or bot: {refused})   target 0")
    print(
        f"handling p50 / p95 / max  {statistics.median(latencies) * 1000:.0f} / "
        f"{p95 * 1000:.0f} / {max(latencies) * 1000:.0f} ms   target p95 <= "
        f"{TARGET_P95 * 1000:.0f} ms   ratio {p95 / TARGET_P95:.2f}"
    )
    bound = bucket_p95(metrics, "reelpick_update_seconds", before_text)
    print(f"bot histogram p95     <= {bound * 1000:.0f} ms (bucket bound)" if bound else "-")
    if request_times:
        print(f"nginx $request_time   p95 {percentile(request_times, 0.95) * 1000:.0f} ms")
    print(f"bot CPU per update    {cpu / max(1, len(done)) * 1000:.1f} ms "
          f"({cpu:.1f} s in all; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")  # fmt: skip
    errors = metric_sum(metrics, "reelpick_plugin_errors_total") - metric_sum(
        before_text, "reelpick_plugin_errors_total"
    )
    print(f"plugin errors         {errors:.0f} (timeouts under backlog replace an album by a line)")
    print(
        f"/healthz              {healthz[0]} {healthz[1].strip()} after the run; during it "
        f"{seen['ready']:.0f} x ready, {seen['not ready']:.0f} x not (each second), "
        f"most updates pending {seen['pending']:.0f}"
    )
    print(
        f"/metrics              reelpick_updates_total {handled:.0f} during the run "
        f"(== {args.updates}: {handled == args.updates}), pending "
        f"{metric_sum(metrics, 'reelpick_updates_pending'):.0f}"
    )
    return 0 if lost == 0 and handled == args.updates else 1


if __name__ == "__main__":
    sys.exit(main())
