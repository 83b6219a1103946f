"""Benchmark hostile input: what does each costly or malformed input cost the real bot and CLI?

One ``reelpick bot`` process (cosine-CF, the Bot API test server on 127.0.0.1) gets each
hostile input below from its own private chat, one after another. For each: whether the bot
is still alive, its resident memory after the reply compared with before the first input
a second after the reply (``kept``: memory that stays), its highest resident memory while
the input was handled, sampled every 10 ms, over what it was just before (``peak``), the
seconds from sending to the reply, and the reply's first words. The goal: alive, kept
growth <= 100 MB, reply <= 5 s.

Then each hostile command line, as a separate ``reelpick`` process: exit code, lines on
stderr (the goal: one line, exit 1 or 2, no traceback), seconds and peak memory. A command
that runs past ``--cli-timeout`` is killed and shown as ``hung``.

    .venv/bin/python bench/bench_hostile.py [--only NAME ...] [--skip-cli] [--skip-bot]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from tests.support.bot_api import BotAPIServer  # noqa: E402
from tests.support.bot_process import BotProcess  # noqa: E402
from tests.support.fixtures import ML_SMALL, POSTERS  # noqa: E402
from tests.support.hostile import HEAT_ROW, LETTERBOXD, strip_png  # noqa: E402

MB = 1024 * 1024
FIRST_CHAT = 880_000


def long_titles(seed: int) -> bytes:
    """Just under 10 MB of rows, each with its own 130,000-character title."""
    rows = [f"2021,{seed:02d}{n:04d}{'x' * 130_000},1995,u,4\n" for n in range(78)]
    return (LETTERBOXD + "".join(rows)).encode()


# Sends one hostile update from a private chat.
Sender = Callable[[BotAPIServer, int], dict]


def document(name: str, data: bytes, mime: str = "text/csv") -> Sender:
    return lambda server, chat: server.push_document(chat, name, data, mime)


def command(name: str, args: str) -> Sender:
    return lambda server, chat: server.push_command(chat, name, args)


def bot_cases() -> dict[str, list[Sender]]:
    csv = LETTERBOXD + HEAT_ROW
    return {
        "csv: '²' as a year": [document("a.csv", (csv + "2021,Toy Story,²,u,4\n").encode())],
        "csv: '¹⁹⁹⁵' as a movieId": [document("a.csv", "movieId,rating\n6,4\n¹⁹⁹⁵,3\n".encode())],
        "csv: 5,000-digit year": [
            document("a.csv", (csv + f"2021,Toy Story,{'9' * 5000},u,4\n").encode())
        ],
        "csv: invalid UTF-16 after BOM": [
            document("a.csv", b"\xff\xfe" + csv.encode("utf-16-le") + b"\x00\xd8\x41\x00")
        ],
        "csv: 50 long-reason rows": [
            document(
                "a.csv",
                (csv + "".join(f"2021,{'Qx' * 2000}{n},1995,u,4\n" for n in range(50))).encode(),
            )
        ],
        "csv: 10 MB of '6,4' rows": [
            document("a.csv", b"movieId,rating\n" + b"6,4\n" * (10 * MB // 4 - 8))
        ],
        "csv: 10 MB of 130k titles": [document("t.csv", long_titles(99))],
        "csv: 5 x 10 MB of 130k titles": [document(f"t{n}.csv", long_titles(n)) for n in range(5)],
        "png: 1 x 40,000,000 (155 KB)": [document("strip.png", strip_png(), "image/png")],
        "png: 8,000 x 40 strip": [document("wide.png", strip_png(8000, 40), "image/png")],
        "/settings k ²": [command("settings", "k ²")],
        "/settings k ¹⁹⁹⁵": [command("settings", "k ¹⁹⁹⁵")],
        "/settings k 4,000 digits": [command("settings", "k " + "9" * 4000)],
    }


def rss(pid: int) -> int:
    """VmRSS of ``pid`` in bytes (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class PeakSampler:
    """The highest VmRSS of ``pid`` while the ``with`` block runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            self.peak = max(self.peak, rss(self.pid))

    def __enter__(self) -> PeakSampler:
        self.peak = rss(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def run_bot(folder: Path, only: list[str], timeout: float) -> list[tuple[str, ...]]:
    config = folder / "config.toml"
    config.write_text(
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{folder / "cache"}"\n'
        '[plugins]\nenabled = ["cosine-cf"]\n'
        f'[posters]\ndir = "{POSTERS}"\n'
        "[bot]\nmessages_per_minute = 0\nmessages_per_user_minute = 0\n"
        "max_messages_per_group_minute = 10000\nmax_messages_per_chat_second = 0\n"
        f'profiles_db = "{folder / "profiles.sqlite3"}"\n'
        f'[movienight]\ndb = "{folder / "nights.db"}"\n'
    )
    (folder / "profiles.sqlite3").unlink(missing_ok=True)
    rows = []
    with BotAPIServer() as server:
        bot = BotProcess(server, folder, config, [sys.executable, "-m", "reelpick"])
        try:
            bot.start(timeout=600)
            assert bot.proc is not None
            pid = bot.proc.pid
            # Warm up: a title, an honest import and a refused picture, so that what is
            # measured below is each hostile input, not the first use of a code path.
            for chat, send in enumerate(
                [
                    lambda s, c: s.push_text(c, "Heat"),
                    document("w.csv", (LETTERBOXD + HEAT_ROW).encode()),
                    document("w.png", strip_png(10, 10), "image/png"),
                ],
                FIRST_CHAT - 10,
            ):
                send(server, chat)
                server.wait_for_sync(lambda c=chat: server.calls("sendMessage", c), timeout=120)
            time.sleep(1)
            baseline = rss(pid)
            for number, (name, senders) in enumerate(bot_cases().items()):
                if only and not any(o.lower() in name.lower() for o in only):
                    continue
                chats = [FIRST_CHAT + 100 * number + i for i in range(len(senders))]
                before = rss(pid)
                with PeakSampler(pid) as sampler:
                    started = time.perf_counter()
                    for chat, send in zip(chats, senders, strict=True):
                        send(server, chat)
                    try:
                        server.wait_for_sync(
                            lambda chats=chats: all(server.calls("sendMessage", c) for c in chats),
                            timeout=timeout,
                        )
                        seconds = f"{time.perf_counter() - started:.2f}"
                    except AssertionError:
                        seconds = f"> {timeout:.0f}"
                    time.sleep(1)
                alive = bot.proc.poll() is None
                after = rss(pid)
                replies = server.calls("sendMessage", chats[-1])
                reply = replies[-1].params["text"] if replies else "(no reply)"
                rows.append(
                    (
                        name,
                        "yes" if alive else "NO",
                        f"{(after - baseline) / MB:+.0f}",
                        f"{(sampler.peak - before) / MB:+.0f}",
                        seconds,
                        " ".join(reply.split())[:60],
                    )
                )
                print(" | ".join(rows[-1]), flush=True)
                if not alive:
                    break
            asked = server.push_command(FIRST_CHAT - 1, "help")
            server.wait_for_sync(
                lambda: any(
                    m["message_id"] > asked["message"]["message_id"]
                    for m in server.sent(FIRST_CHAT - 1)
                ),
                timeout=60,
            )
            print(
                f"bot alive afterwards, answers /help; RSS before the inputs {baseline / MB:.0f} MB"
            )
        finally:
            bot.stop()
    return rows


def run_cli(folder: Path, timeout: float) -> list[tuple[str, ...]]:
    config = folder / "cli.toml"
    cache = folder / "cache"
    config.write_text(
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{cache}"\n'
        '[plugins]\nenabled = ["cosine-cf"]\n'
    )
    fifo = folder / "ratings.fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    blocker = folder / "not-a-folder"
    blocker.write_text("")
    deep = folder / "deep.toml"
    deep.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    negative = folder / "negative.toml"
    negative.write_text(config.read_text() + "[plugins.cosine-cf]\nneighbours = -5\n")
    fresh = folder / "fresh-cache"  # a cache without the fit: the negative value reaches it
    cases = {
        "--ratings /dev/zero": (["recommend", "--ratings", "/dev/zero"], {}),
        "--ratings FIFO": (["recommend", "--ratings", str(fifo)], {}),
        "REELPICK_CACHE unusable": (
            ["similar", "Heat"],
            {"REELPICK_CACHE": str(blocker / "cache")},
        ),
        "deeply nested TOML": (["--config", str(deep), "similar", "Heat"], {}),
        "neighbours = -5": (
            ["--config", str(negative), "similar", "Heat"],
            {"REELPICK_CACHE": str(fresh)},
        ),
    }
    rows = []
    for name, (argv, extra) in cases.items():
        env = {k: v for k, v in os.environ.items() if not k.startswith("REELPICK_")}
        env.update({"REELPICK_CONFIG": str(config), **extra})
        err = folder / "stderr.txt"
        with open(err, "wb") as stderr:
            started = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "reelpick", *argv],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=env,
                start_new_session=True,
            )
            killer = threading.Timer(timeout, os.killpg, (proc.pid, signal.SIGKILL))
            killer.start()
            _, status, usage = os.wait4(proc.pid, 0)
            killer.cancel()
            seconds = time.perf_counter() - started
        lines = err.read_text(errors="replace").strip().splitlines()
        hung = os.WIFSIGNALED(status)
        code = "hung" if hung else str(os.waitstatus_to_exitcode(status))
        rows.append(
            (
                name,
                code,
                str(len(lines)),
                f"{seconds:.1f}",
                f"{usage.ru_maxrss / 1024:.0f}",
                (lines[-1] if lines else "")[:70],
            )
        )
        print(" | ".join(rows[-1]), flush=True)
    return rows


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    rule = "-+-".join("-" * w for w in widths)
    return "\n".join(
        [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), rule, *lines]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="bot cases whose name has this")
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--skip-bot", action="store_true")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per bot reply")
    parser.add_argument("--cli-timeout", type=float, default=60.0)
    parser.add_argument("--folder", default="/tmp/reelpick-bench-hostile")
    args = parser.parse_args()
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not args.skip_bot:
        rows = run_bot(folder, args.only, args.timeout)
        header = ("bot input", "alive", "kept MB", "peak MB", "reply s", "reply")
        print("\n" + table(header, rows))
    if not args.skip_cli:
        rows = run_cli(folder, args.cli_timeout)
        header = ("command line", "exit", "stderr lines", "s", "max RSS MB", "last line")
        print("\n" + table(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
