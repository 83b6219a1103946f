"""Benchmark the Telegram bot: update delivery -> last album request, and the bot's memory.

The bot runs as a real ``reelpick bot`` process against the Bot API test server
(the ``tests.support.bot_api`` package) on 127.0.0.1. Both timestamps come from the server: when
getUpdates handed the update to the bot, and when the bot's last answer request for it
(the last plugin's album) arrived. Caches are warm: every title is asked once first, so
plugins are loaded, posters read and their file_ids known (as on a bot that has run a while).

Phases:
  1 chat      queries one after another from one chat, paced as the per-chat flood limit
              (about 1 message/s) allows (p50/p95; target p95 <= 300 ms)
  50 chats    50 chats send a title at the same moment, repeated (target p95 <= 1 s), with
              Telegram's flood limit for the whole bot (max_messages_per_second = 30) and,
              in a second bot process, without it (to show what the bot itself costs)
  memory      the bot process's RSS after the runs, and its peak (target <= 1.5 GiB)
  /forme      personal picks, warm: /forme -> the last album (the fused "Picks"), p50/p95,
              from a few chats whose profiles hold 20 ratings each, paced like the 1-chat
              phase. A third bot process runs tests/support/profile_plugins.py (reelpick with the
              GenreFan test recommender added), so at least one plugin recommends; every
              enabled plugin that implements reelpick_recommend adds its album (target p95
              <= 1 s).
  inline      ``@bot title`` -> answerInlineQuery, cards warm (p50/p95; target p95 <= 300 ms)
  photo       a poster photo -> the "That looks like ..." reply: the first one (cold: the image
              worker starts, loads TensorFlow and the index) and then warm; the bot's RSS
              before any photo, and the image worker's RSS (its own process)

There is no other Telegram bot to compare with, so each figure is printed beside its target
with the ratio figure/target (below 1.0 meets it). The per-chat anti-spam limit
(bot.messages_per_minute) is switched off here: the 1-chat phase sends more than 20 a minute.

    .venv/bin/python bench/bench_bot.py                       # all three plugins
    .venv/bin/python bench/bench_bot.py --plugins cosine-cf   # quick
    .venv/bin/python bench/bench_bot.py --plugins cosine-cf --only-forme
    .venv/bin/python bench/bench_bot.py --plugins cosine-cf,vgg16-poster --phases inline,photo
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from reelpick.profiles import ProfileStore  # noqa: E402
from tests.support.bot_api import BotAPIServer  # noqa: E402

SHARED = Path(os.environ.get("REELPICK_SHARED", REPO.parent / "shared"))
ML_SMALL = SHARED / "data" / "ml-latest-small"
POSTERS = SHARED / "data" / "posters"
VGG16_WEIGHTS = SHARED / "models" / "vgg16_imagenet_notop.weights.h5"
TITLES = [
    "Heat",
    "Toy Story",
    "The Matrix 1999",
    "Amelie",
    "Alien",
    "Fargo",
    "Se7en",
    "Jurassic Park",
    "Titanic 1997",
    "Shrek",
    "Casablanca",
    "Psycho 1960",
    "Jaws",
    "Inception",
    "Memento",
    "Goodfellas",
    "Gladiator 2000",
    "Braveheart",
    "Fight Club",
    "The Lion King 1994",
]
# ml-latest-small movieIds of well-known films (Toy Story, Heat, The Matrix, ...): profiles.
RATED = [1, 6, 47, 110, 364, 480, 608, 912, 1213, 1214, 1219, 1387, 1721, 2571, 2959]
RATED += [3578, 4226, 4306, 4973, 79132]
FORME_CHATS = 5
ANSWERS = ("sendMediaGroup", "sendPhoto", "sendMessage")
CHAT_RATE = 1.0  # bot.max_messages_per_chat_second (the default)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plugins", default="cosine-cf,sgd-mf,vgg16-poster")
    parser.add_argument("--cache", default="/tmp/reelpick-bench-bot", help="kept between runs")
    parser.add_argument("--rounds", type=int, default=25, help="queries in the 1-chat phase")
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--waves", type=int, default=3, help="bursts in the many-chats phase")
    parser.add_argument("--startup-timeout", type=float, default=3600.0)
    parser.add_argument("--forme-rounds", type=int, default=25, help="/forme queries")
    parser.add_argument("--only-forme", action="store_true", help="run the /forme phase only")
    parser.add_argument("--phases", default="text,inline,photo", help="text, inline, photo")
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    plugins = [p.strip() for p in args.plugins.split(",") if p.strip()]
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)

    if args.only_forme:
        with BotAPIServer() as server:
            forme, recommenders = forme_phase(server, cache, plugins, args)
        print()
        print(
            f"{'phase':<44} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'target':>8} {'p95/target':>10}"
        )
        report(f"/forme -> Picks album ({recommenders} recommenders)", forme, 1000)
        return 0

    with BotAPIServer() as server:
        print(f"plugins: {', '.join(plugins)}; data: {ML_SMALL.name}; cache: {cache}", flush=True)
        bot = Bot(server, cache, plugins, flood=30.0, timeout=args.startup_timeout)
        try:
            answering = bot.warm_up()
            print(f"answering plugins: {answering} (+1 header per query)", flush=True)
            if "text" in phases:
                one = bot.one_chat(args.rounds)
                many = bot.many_chats(args.chats, args.waves)
            if "inline" in phases:
                inline = bot.inline_queries(args.rounds * 2)
            if "photo" in phases:
                rss_no_photo = bot.memory()[0]
                cold, warm = bot.photos(args.rounds)
                worker_rss = bot.worker_memory()
            rss, peak = bot.memory()
        finally:
            bot.stop()
        if "inline" in phases or "photo" in phases:
            print()
            print(
                f"{'phase':<44} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'target':>8} {'p95/target':>10}"
            )
        if "inline" in phases:
            report("inline query -> answerInlineQuery (warm)", inline, 300)
        if "photo" in phases:
            report("photo -> identification, cold worker", cold, 60_000)
            report("photo -> identification, warm worker", warm, 3000)
            gib = 1024**3
            print(f"bot RSS after text queries, before any photo: {rss_no_photo / gib:.2f} GiB")
            print(f"bot RSS after the photos: {rss / gib:.2f} GiB (the bot process alone)")
            for pid, (now, most, command) in worker_rss.items():
                print(
                    f"image worker pid {pid} ({command}): RSS {now / gib:.2f} GiB, "
                    f"peak {most / gib:.2f} GiB"
                )
        if "text" not in phases:
            return 0
        unlimited = Bot(server, cache, plugins, flood=0.0, timeout=args.startup_timeout)
        try:
            unlimited.warm_up(chat=100_000_000)
            cpu_before = unlimited.cpu_seconds()
            many_free = unlimited.many_chats(args.chats, args.waves, first_chat=5000)
            cpu_per_query = (unlimited.cpu_seconds() - cpu_before) / len(many_free)
            rss_free, peak_free = unlimited.memory()
        finally:
            unlimited.stop()
        forme, recommenders = forme_phase(server, cache, plugins, args)

    print()
    print(f"{'phase':<44} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'target':>8} {'p95/target':>10}")
    report("1 chat", one, 300)
    report(f"{args.chats} chats, flood limit 30 msg/s", many, 1000)
    report(f"{args.chats} chats, no flood limit", many_free, 1000)
    report(f"/forme -> Picks album ({recommenders} recommenders)", forme, 1000)
    print(
        f"bot CPU per query in the no-limit phase: {cpu_per_query * 1000:.1f} ms "
        f"({args.chats} queries need {cpu_per_query * args.chats:.2f} s of one core); "
        f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    gib = 1024**3
    print(f"\nbot process memory, plugins enabled: {', '.join(plugins)}; target 1.5 GiB")
    for name, (now, most) in (
        ("first bot (fitted what was not cached)", (rss, peak)),
        ("second bot (started from the cache)", (rss_free, peak_free)),
    ):
        print(
            f"  {name:<40} RSS {now / gib:.2f} GiB, peak {most / gib:.2f} GiB, "
            f"peak/target {most / (1.5 * gib):.2f}"
        )
    return 0


def forme_phase(
    server: BotAPIServer, cache: Path, plugins: list[str], args: argparse.Namespace
) -> tuple[list[float], int]:
    """/forme from FORME_CHATS chats with 20 ratings each, warm; (latencies, recommenders)."""
    chats = [300_000_000 + c for c in range(FORME_CHATS)]
    with ProfileStore(cache / "state" / "profiles.sqlite3") as store:
        for c, chat in enumerate(chats):
            store.forget(f"tg:{chat}")
            for i, movie_id in enumerate(RATED):
                store.rate(f"tg:{chat}", movie_id, float(1 + (i * 7 + c * 3) % 5))
    bot = Bot(
        server,
        cache,
        [*plugins, "genre-fan"],
        flood=30.0,
        timeout=args.startup_timeout,
        launcher=REPO / "tests" / "support" / "profile_plugins.py",
        name="forme",
    )
    try:
        recommenders = bot.warm_forme(chats)
        print(f"/forme answers with {recommenders} recommender albums + Picks", flush=True)
        samples = []
        for i in range(args.forme_rounds):
            chat = chats[i % len(chats)]
            samples.append(bot._latency(chat, bot.command(chat, "forme")))
            time.sleep(bot.answers_per_query / CHAT_RATE / len(chats))
    finally:
        bot.stop()
    return samples, recommenders


def report(name: str, samples: list[float], target_ms: float) -> None:
    ms = sorted(s * 1000 for s in samples)
    p50 = statistics.median(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(
        f"{name:<44} {len(ms):>4} {p50:>8.0f} {p95:>8.0f} {target_ms:>8.0f} {p95 / target_ms:>10.2f}"
    )


class Bot:
    """A ``reelpick bot`` process talking to ``server``."""

    def __init__(
        self,
        server: BotAPIServer,
        cache: Path,
        plugins: list[str],
        flood: float,
        timeout: float,
        launcher: Path | None = None,
        name: str = "",
    ) -> None:
        self.server = server
        self.plugins = plugins
        self.answers_per_query = 0
        self._seen: dict[int, list[float]] = {}
        self._unfinished: list = []
        self._scanned = 0
        config = cache / f"bench-config-{name or int(flood)}.toml"
        config.write_text(
            f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{cache / "cache"}"\n'
            f'[state]\ndir = "{cache / "state"}"\n'
            "[plugins]\nenabled = [" + ", ".join(f'"{p}"' for p in plugins) + "]\n"
            f'[posters]\ndir = "{POSTERS}"\n'
            # The anti-spam limits (per chat, per person, the bot-wide answer budget, inline
            # queries per person) would refuse the bench's own load; Telegram's flood limits
            # stay as configured.
            f"[bot]\nmessages_per_minute = 0\nmessages_per_user_minute = 0\n"
            f"heavy_answers_per_minute = 0\nmax_messages_per_second = {flood}\n"
            f"max_messages_per_chat_second = {CHAT_RATE}\n"
            "[inline]\nqueries_per_minute = 0\n"
        )
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": server.token,
            "REELPICK_TELEGRAM_BASE_URL": server.base_url,
            "REELPICK_TELEGRAM_BASE_FILE_URL": server.base_file_url,
            "REELPICK_VGG16_WEIGHTS": str(VGG16_WEIGHTS),
        }
        self.log = open(cache / f"bot-{name or int(flood)}.log", "w")  # noqa: SIM115 - closed in stop()
        started = time.perf_counter()
        commands_before = len(server.calls("setMyCommands"))
        program = [str(launcher)] if launcher else ["-m", "reelpick"]
        self.process = subprocess.Popen(
            [sys.executable, *program, "-v", "--config", str(config), "bot"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        server.wait_for_sync(
            lambda: (
                len(server.calls("setMyCommands")) > commands_before
                or self.process.poll() is not None
            ),
            timeout=timeout,
        )
        if self.process.poll() is not None:
            raise SystemExit(f"the bot exited; see {self.log.name}")
        print(
            f"bot started in {time.perf_counter() - started:.1f} s (pid {self.process.pid})",
            flush=True,
        )

    def ask(self, chat_id: int, title: str) -> int:
        return self.server.push_text(chat_id, title)["update_id"]

    def command(self, chat_id: int, command: str) -> int:
        return self.server.push_command(chat_id, command)["update_id"]

    def warm_forme(self, chats: list[int]) -> int:
        """/forme once per chat (posters read, file_ids known); returns the recommender albums.

        The answer is a header, one album (or line) per recommender, then the Picks album:
        its count is learnt from the first answer, up to the Picks album."""
        for chat in chats:
            delivered_after = time.perf_counter()
            self.command(chat, "forme")
            picks = self.server.wait_for_sync(
                lambda chat=chat: [
                    r
                    for r in self.server.calls("sendMediaGroup", chat)
                    if r.ok and "<b>Picks</b>" in str(r.params["media"])
                ],
                timeout=300,
            )
            self.answers_per_query = len(
                [at for at in self._answers(chat) if delivered_after <= at <= picks[0].at]
            )
        return self.answers_per_query - 2

    def warm_up(self, chat: int = 200_000_000) -> int:
        """Ask every title once (a chat per title, so no pacing): posters read, file_ids known.

        Every query answers with a header and one album (or line) per plugin."""
        self.answers_per_query = 1 + len(self.plugins)
        for i, title in enumerate(TITLES):
            try:
                self._latency(chat + i, self.ask(chat + i, title), timeout=300)
            except AssertionError:
                raise SystemExit(f"no full answer to {title!r}; see {self.log.name}") from None
        return len(self.plugins)

    def one_chat(self, rounds: int, chat: int = 1) -> list[float]:
        """Queries one after another from one chat, at a pace the per-chat flood limit allows
        (one message a second: a person reading the answer before asking again)."""
        samples = []
        for i in range(rounds):
            update_id = self.ask(chat, TITLES[i % len(TITLES)])
            samples.append(self._latency(chat, update_id))
            time.sleep(self.answers_per_query / CHAT_RATE)
        return samples

    def many_chats(self, chats: int, waves: int, first_chat: int = 1000) -> list[float]:
        samples = []
        for wave in range(waves):
            pushed = [
                (first_chat + c, self.ask(first_chat + c, TITLES[(c + wave) % len(TITLES)]))
                for c in range(chats)
            ]
            samples += [self._latency(chat, update_id, timeout=120) for chat, update_id in pushed]
            first_chat += chats
        return samples

    def inline_queries(self, rounds: int, user: int = 300_000_000) -> list[float]:
        """Inline queries one after another (every query once first, to warm the cards)."""
        queries = ["", *TITLES]
        for query in queries:
            self._inline_latency(user, query)
        return [self._inline_latency(user, queries[i % len(queries)]) for i in range(rounds)]

    def _inline_latency(self, user: int, query: str) -> float:
        server = self.server
        query_id = server.push_inline_query(user, query)
        update_id = server._next_update_id  # the update just pushed (pushes are sequential)
        server.wait_for_sync(lambda: server.inline_queries[query_id]["answered"], timeout=60)
        [answer] = [
            r
            for r in server.calls("answerInlineQuery")
            if r.params.get("inline_query_id") == query_id
        ]
        return answer.at - server.delivered_at[update_id]

    def photos(self, rounds: int, chat: int = 400_000_000) -> tuple[list[float], list[float]]:
        """A re-photographed poster per chat; the first starts the image worker (cold)."""
        from tests.support.photo_variants import variants

        ids = sorted(int(p.stem) for p in POSTERS.glob("*.jpg"))[:: max(1, 500 // (rounds + 1))]
        samples = []
        for i, movie_id in enumerate(ids[: rounds + 1]):
            photo = variants((POSTERS / f"{movie_id}.jpg").read_bytes())["scaled 60%"]
            update_id = self.server.push_photo(chat + i, photo)["update_id"]
            samples.append(self._reply_latency(chat + i, update_id))
            time.sleep(self.answers_per_query / CHAT_RATE)  # let its albums go out
        return samples[:1], samples[1:]

    def _reply_latency(self, chat: int, update_id: int, timeout: float = 300.0) -> float:
        server = self.server
        server.wait_for_sync(lambda: update_id in server.delivered_at, timeout=timeout)
        delivered = server.delivered_at[update_id]
        replies = server.wait_for_sync(
            lambda: [r for r in server.calls("sendMessage", chat) if r.ok], timeout=timeout
        )
        if not replies[0].result["text"].startswith("That looks like"):
            print(f"  photo in chat {chat}: {replies[0].result['text']!r}", flush=True)
        return replies[0].at - delivered

    def worker_memory(self) -> dict[int, tuple[int, int, str]]:
        """RSS and peak of the bot's child processes (the image worker), by pid."""
        found = {}
        pid = self.process.pid
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                status = Path(f"/proc/{child}/status").read_text()
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
                found[int(child)] = (
                    int(fields["VmRSS"].split()[0]) * 1024,
                    int(fields["VmHWM"].split()[0]) * 1024,
                    command.decode(errors="replace")[:60].strip(),
                )
        return found

    def memory(self) -> tuple[int, int]:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return (
            int(fields["VmRSS"].split()[0]) * 1024,
            int(fields["VmHWM"].split()[0]) * 1024,
        )

    def cpu_seconds(self) -> float:
        """User + system CPU time the bot process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()

    def _answers(self, chat: int) -> list[float]:
        """Arrival times of the bot's accepted answer requests in ``chat`` (sorted)."""
        self._scan()
        return sorted(self._seen.get(chat, []))

    def _scan(self) -> None:
        # Incremental, so that waiting does not slow the server down as requests pile up.
        requests = self.server.requests
        count = len(requests)
        unfinished = []
        for r in self._unfinished + requests[self._scanned : count]:
            if r.status == 0:
                unfinished.append(r)
            elif r.ok and r.method in ANSWERS and r.chat_id is not None:
                self._seen.setdefault(r.chat_id, []).append(r.at)
        self._unfinished, self._scanned = unfinished, count

    def _latency(self, chat: int, update_id: int, timeout: float = 60.0) -> float:
        """Seconds from delivering ``update_id`` to the arrival of its last answer request."""
        server = self.server
        server.wait_for_sync(lambda: update_id in server.delivered_at, timeout=timeout)
        delivered = server.delivered_at[update_id]
        answers = server.wait_for_sync(
            lambda: (
                found
                if len(found := [at for at in self._answers(chat) if at >= delivered])
                >= self.answers_per_query
                else None
            ),
            timeout=timeout,
        )
        return answers[self.answers_per_query - 1] - delivered


if __name__ == "__main__":
    sys.exit(main())
