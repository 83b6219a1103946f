"""Benchmark fair scheduling: is a private chat still answered while groups keep the bot busy?

One ``reelpick bot`` process (cosine-CF, real posters, every limit at its default) runs
against the Bot API test server on 127.0.0.1. Private chats ask for titles one after another
(``--pace`` seconds apart, rotating over ``--askers`` people so each stays within the
per-person limit), in two phases of the same run:

  idle    nothing else happens: the reference (goal p95 <= 0.2 s)
  load    meanwhile ``--groups`` groups send ``/similar TITLE`` at their allowed rate (two
          members each at ``messages_per_user_minute``, together the group's
          ``messages_per_minute``), two anonymous admins (``GroupAnonymousBot``, each in a
          group of its own) send ``--flood`` ``/similar`` at once, then two a second, and one
          person sends ``--imports`` maximal Letterboxd ratings.csv files in a private chat;
          the private titles and the uploads start ``--ramp`` seconds into the load, so
          that the imports run while titles are measured (goal p95 <= 1 s)

The uploads are as large as the limits let them be: ``MAX_ROWS`` rows (the import row cap),
padded (in the Letterboxd URI, a column the import drops) to just under ``bot.max_import_mb``.
Their rows are ml-latest-small's titles with years, and no title and year repeats across the
files (written as the catalogue has it, in lower or upper case, title case, with a doubled
space or a trailing mark; with or without the year), so every row is a fresh search for the
matcher rather than an answer from its cache; most rows match. The person sends the next
file as soon as the previous one was taken (the bot downloads it); a file refused with "your
previous import is still running" is sent again once the previous result arrives, and one
over the per-person limit (files count as messages) once the wait it was told is over. Files
still waiting or importing when the load ends are reported as not done.

A group's answers leave at Telegram's 20 messages a minute per group, slower than its members
may ask, so every group's line fills up; what is measured is whether that holds anyone else.
Each latency is from the update's delivery to the bot's last answer request for it (server
timestamps, as bench_bot.py and bench_votes.py). A private title left unanswered for
``--timeout`` seconds, or refused as "busy", counts as that long. Printed: p50/p95 of both phases, the ratio
load / idle, what the groups got (albums, "busy" lines, over-the-limit notices), and each
import (sent and answered when, in seconds into the load, how long, rows matched). Bounded:
each phase is ``--rounds`` titles; the load stops with its phase.

    .venv/bin/python bench/bench_fairness.py [--rounds 20] [--groups 5] [--flood 125]
    .venv/bin/python bench/bench_fairness.py [--imports 6] [--import-mb 10]
    .venv/bin/python bench/bench_fairness.py --unbounded   # the same without the waiting line
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from reelpick.data import load_dataset  # noqa: E402
from reelpick.profiles.imports import MAX_ROWS  # noqa: E402
from tests.support.bot_api import BotAPIServer  # noqa: E402
from tests.support.bot_process import BotProcess  # noqa: E402
from tests.support.hostile import LETTERBOXD  # noqa: E402

SHARED = Path(os.environ.get("REELPICK_SHARED", REPO.parent / "shared"))
ML_SMALL = SHARED / "data" / "ml-latest-small"
POSTERS = SHARED / "data" / "posters"
TITLES = ["Heat", "Toy Story", "Alien", "Fargo", "Jaws", "Memento", "Shrek", "Casablanca"]
FIRST_ASKER = 4242
WARM_UP_CHAT = 4000
FIRST_GROUP = -100_900_000
ANSWERS = ("sendMediaGroup", "sendPhoto", "sendMessage")
BUSY = "Busy in this chat right now"
REFUSALS = (BUSY, "I'm answering a lot of requests")
OVER_LIMIT = "That's a lot of requests"
PER_PERSON_MINUTE = 10  # messages_per_user_minute's default: the members' allowed rate
UPLOADER = 5151
STILL_IMPORTING = "Your previous import is still running"
IMPORTED = re.compile(r"Imported <b>[^<]*</b> \(\w+\): ([\d,]+) of ([\d,]+) rows matched")
WAIT = re.compile(r"Please wait (\d+) s")
MB = 1024 * 1024
# Ways of writing a catalogue title that still find it: with the year and without, no title
# and year repeats within a run's files (cache misses for the matcher).
SPELLINGS = (
    lambda t: t,
    str.lower,
    str.upper,
    str.title,
    lambda t: t.replace(" ", "  ", 1),
    lambda t: t + ".",
    lambda t: t + "!",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="private titles per phase")
    parser.add_argument("--askers", type=int, default=4, help="private chats taking turns")
    parser.add_argument("--pace", type=float, default=2.0, help="seconds between private titles")
    parser.add_argument("--groups", type=int, default=5)
    parser.add_argument("--flood", type=int, default=125, help="/similar per anonymous admin")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a title may take")
    parser.add_argument(
        "--ramp", type=float, default=60.0, help="seconds of load before the private titles"
    )
    parser.add_argument(
        "--unbounded", action="store_true", help="no waiting line (waiting_per_* = 0): compare"
    )
    parser.add_argument("--imports", type=int, default=6, help="maximal CSVs one person sends")
    parser.add_argument(
        "--import-mb", type=float, default=10.0, help="bot.max_import_mb; files fill it"
    )
    parser.add_argument("--cache", default="/tmp/reelpick-bench-fairness")
    args = parser.parse_args()
    folder = Path(args.cache)
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.toml"
    config.write_text(
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{folder / "cache"}"\n'
        '[plugins]\nenabled = ["cosine-cf"]\n'
        f'[posters]\ndir = "{POSTERS}"\n'
        f'[bot]\nprofiles_db = "{folder / "profiles.sqlite3"}"\n'
        f"max_import_mb = {args.import_mb}\n"
        + ("waiting_per_chat = 0\nwaiting_per_person = 0\n" if args.unbounded else "")
    )
    askers = [FIRST_ASKER + i for i in range(args.askers)]
    files = maximal_letterboxd_files(args.imports, int(args.import_mb * MB))
    print(f"{len(files)} ratings.csv of {MAX_ROWS:,} rows, {len(files[0]) / MB:.2f} MB each")
    uploads: list[Upload] = []
    with BotAPIServer() as server:
        bot = BotProcess(server, folder, config, [sys.executable, "-m", "reelpick"])
        try:
            bot.start(timeout=600)
            answers = warm_up(server)
            print(f"each title answer is {answers} requests", flush=True)
            idle = ask_in_turn(server, askers, args, answers)
            groups = [FIRST_GROUP - g for g in range(args.groups)]
            admins = [FIRST_GROUP - args.groups - a for a in range(2)]
            for chat in groups + admins:
                server.chat(chat, "supergroup")
            stop = threading.Event()
            load = [
                threading.Thread(target=members_at_their_rate, args=(server, group, stop))
                for group in groups
            ] + [
                threading.Thread(target=anonymous_flood, args=(server, group, args.flood, stop))
                for group in admins
            ]
            load.append(
                threading.Thread(
                    target=upload_in_turn, args=(server, files, uploads, args.ramp, stop)
                )
            )
            load_started = time.perf_counter()
            for thread in load:
                thread.start()
            try:
                time.sleep(args.ramp)  # the groups' burst allowance spent, their lines filling
                loaded = ask_in_turn(server, askers, args, answers)
            finally:
                stop.set()
                for thread in load:
                    thread.join()
            got = {chat: replies(server, chat) for chat in groups + admins}
            load_ended = time.perf_counter()
            for upload in uploads:
                upload.read_result(server)
        finally:
            bot.stop()
    print()
    print(f"waiting line: {'off (--unbounded)' if args.unbounded else 'bot defaults'}")
    print(f"{'phase':<46} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'goal':>8}")
    report("idle", idle, 200)
    report(f"load ({args.groups} groups, 2 admins, {args.imports} CSVs)", loaded, 1000)
    print(
        f"\nload / idle p95: {p95(loaded) / p95(idle):.2f}x; "
        f"p50: {statistics.median(loaded) / statistics.median(idle):.2f}x"
    )
    unanswered = sum(s >= args.timeout for s in loaded)
    if unanswered:
        print(f"{unanswered} private titles refused or unanswered within {args.timeout:g} s")
    print("\nchat                       titles asked  albums  busy lines  over-limit notices")
    for chat, (asked, albums, busy, over) in got.items():
        kind = "anonymous admin" if chat in admins else "group"
        print(f"{kind:<16} {chat:>10} {asked:>12} {albums:>7} {busy:>11} {over:>19}")
    print_uploads(uploads, args.imports, load_started, load_ended, args.ramp)
    met = p95(idle) <= 0.2 and p95(loaded) <= 1.0 and not unanswered
    return 0 if met else 1


def maximal_letterboxd_files(count: int, max_bytes: int) -> list[bytes]:
    """``count`` Letterboxd ratings.csv of ``MAX_ROWS`` rows and just under ``max_bytes``:
    ml-latest-small's titles, no title and year twice across the files (see the docstring)."""
    movies = load_dataset(ML_SMALL).movies
    movies = movies[movies["year"].notna()]
    catalogue = list(zip(movies["name"].astype(str), movies["year"].astype(int), strict=True))
    spellings = len(SPELLINGS) * 2  # each with the year and without
    if count * MAX_ROWS > spellings * len(catalogue):
        raise SystemExit(f"at most {spellings * len(catalogue) // MAX_ROWS} distinct files")
    row_bytes = (max_bytes - len(LETTERBOXD) - 1024) // MAX_ROWS  # a little room to spare
    files = []
    for f in range(count):
        lines = [LETTERBOXD]
        for i in range(MAX_ROWS):
            row = f * MAX_ROWS + i
            title, year = catalogue[row % len(catalogue)]
            spelling, with_year = divmod(row // len(catalogue), 2)
            title = SPELLINGS[spelling](title).replace('"', '""')
            date = f"20{10 + i % 15:02d}-{1 + i % 12:02d}-{1 + i % 28:02d}"
            start = f'{date},"{title}",{year if with_year == 0 else ""},https://boxd.it/{row:x}'
            end = f",{0.5 * (1 + i % 10):g}\n"
            lines.append(start + "-" * max(0, row_bytes - len(start) - len(end)) + end)
        data = "".join(lines).encode()
        if len(data) > max_bytes:
            raise SystemExit(f"a maximal file came out {len(data):,} bytes, over {max_bytes:,}")
        files.append(data)
    return files


class Upload:
    """One file the uploader got taken: when it was delivered, and what came of it."""

    def __init__(self, number: int, message_id: int, delivered: float, refused: int) -> None:
        self.number = number
        self.message_id = message_id
        self.delivered = delivered
        self.refused = refused  # times sent and refused first ("still running", over the limit)
        self.answered: float | None = None
        self.matched = self.rows = 0
        self.outcome = "not answered"

    def read_result(self, server: BotAPIServer) -> None:
        """The bot's report on this file (a reply to it), if it came."""
        report = replies_to(server, UPLOADER, self.message_id)
        if report is None:
            return
        self.answered, text = report
        found = IMPORTED.match(text)
        if found:
            self.matched, self.rows = (int(g.replace(",", "")) for g in found.groups())
            self.outcome = "imported"
        else:
            self.outcome = text[:60]


def upload_in_turn(
    server: BotAPIServer,
    files: list[bytes],
    uploads: list[Upload],
    delay: float,
    stop: threading.Event,
) -> None:
    """After ``delay`` s, one person sends ``files`` one after another as fast as the bot
    takes them, each refused one again after the previous file's result; until done or
    ``stop``."""
    if stop.wait(delay):
        return
    refused = 0
    for number, data in enumerate(files, 1):
        while not stop.is_set():
            said = len(texts_to(server, UPLOADER))
            update = server.push_document(UPLOADER, f"ratings-{number}.csv", data)
            message = update["message"]
            file_id = message["document"]["file_id"]
            if not wait_until(stop, lambda u=update["update_id"]: u in server.delivered_at):
                return
            delivered = server.delivered_at[update["update_id"]]
            if not wait_until(
                stop,
                lambda f=file_id, n=said: (
                    downloaded(server, f) or len(texts_to(server, UPLOADER)) > n
                ),
            ):
                return
            if downloaded(server, file_id):  # taken: on to the next file
                uploads.append(Upload(number, message["message_id"], delivered, refused))
                refused = 0
                break
            answer = texts_to(server, UPLOADER)[said]
            if answer.startswith(OVER_LIMIT):  # ignored until the minute is over: wait it out
                wait = WAIT.search(answer)
                print(f"upload {number}: {answer!r}", flush=True)
                refused += 1
                if stop.wait(int(wait.group(1)) + 1 if wait else 60):
                    return
                continue
            if not answer.startswith(STILL_IMPORTING):
                print(f"upload {number} answered {answer[:80]!r}: uploads stopped", flush=True)
                return
            refused += 1
            previous = uploads[-1].message_id if uploads else None
            if previous is not None and not wait_until(
                stop, lambda p=previous: replies_to(server, UPLOADER, p) is not None
            ):
                return


def wait_until(stop: threading.Event, predicate: Callable[[], object]) -> bool:
    """Poll ``predicate`` until it holds (True) or ``stop`` is set (False)."""
    while not stop.is_set():
        if predicate():
            return True
        stop.wait(0.05)
    return False


def downloaded(server: BotAPIServer, file_id: str) -> bool:
    with server._lock:
        return any(
            r.ok and r.method == "getFile" and r.params.get("file_id") == file_id
            for r in server.requests
        )


def texts_to(server: BotAPIServer, chat: int) -> list[str]:
    with server._lock:
        return [
            str(r.params.get("text", ""))
            for r in server.requests
            if r.ok and r.method == "sendMessage" and r.chat_id == chat
        ]


def replies_to(server: BotAPIServer, chat: int, message_id: int) -> tuple[float, str] | None:
    """(when, text) of the bot's first message in ``chat`` replying to ``message_id``."""
    with server._lock:
        for r in server.requests:
            if r.ok and r.method == "sendMessage" and r.chat_id == chat:
                replied = (r.result or {}).get("reply_to_message") or {}
                if replied.get("message_id") == message_id:
                    return r.at, str(r.params.get("text", ""))
    return None


def print_uploads(
    uploads: list[Upload], wanted: int, started: float, ended: float, ramp: float
) -> None:
    done = [u for u in uploads if u.answered is not None and u.answered <= ended]
    print(
        f"\nimports: {len(done)} of {wanted} answered during the load "
        f"({ended - started:.0f} s; private titles measured from {ramp:g} s)"
    )
    print("file          sent s  answered s  took s  refused first      rows matched  outcome")
    for u in uploads:
        answered = f"{u.answered - started:>10.1f}" if u.answered is not None else f"{'-':>10}"
        took = f"{u.answered - u.delivered:>6.1f}" if u.answered is not None else f"{'-':>6}"
        matched = f"{u.matched:,} of {u.rows:,}" if u.rows else "-"
        print(
            f"ratings-{u.number}.csv {u.delivered - started:>7.1f} {answered}  {took} "
            f"{u.refused:>14}  {matched:>16}  {u.outcome}"
        )
    if done:
        took = [u.answered - u.delivered for u in done if u.answered is not None]
        print(f"import took: median {statistics.median(took):.1f} s, max {max(took):.1f} s")


def warm_up(server: BotAPIServer) -> int:
    """Every title once, each from a chat of its own (posters read, file_ids known); returns
    the answer requests per title."""
    counts = set()
    for i, title in enumerate(TITLES):
        chat = WARM_UP_CHAT + i
        update = server.push_text(chat, title, user_id=chat)["update_id"]
        server.wait_for_sync(lambda u=update: u in server.delivered_at, timeout=60)
        time.sleep(3)  # the whole answer: a header and the album
        counts.add(len(answers_since(server, chat, server.delivered_at[update])))
    if len(counts) != 1:
        raise SystemExit(f"titles answered with different numbers of requests: {counts}")
    return counts.pop()


def ask_in_turn(
    server: BotAPIServer, askers: list[int], args: argparse.Namespace, answers: int
) -> list[float]:
    """``args.rounds`` titles, one every ``args.pace`` s, the askers taking turns."""
    started = time.perf_counter()
    samples = []
    for i in range(args.rounds):
        time.sleep(max(0.0, started + i * args.pace - time.perf_counter()))
        chat = askers[i % len(askers)]
        samples.append(latency(server, chat, TITLES[i % len(TITLES)], answers, args.timeout))
    return samples


def latency(server: BotAPIServer, chat: int, title: str, answers: int, timeout: float) -> float:
    """Seconds from delivering ``title`` to the bot's last answer request for it; ``timeout``
    when it was not answered in time or was refused ("busy")."""
    update = server.push_text(chat, title, user_id=chat)["update_id"]
    try:
        server.wait_for_sync(lambda: update in server.delivered_at, timeout=timeout)
        delivered = server.delivered_at[update]
        found = server.wait_for_sync(
            lambda: (
                refused(server, chat, delivered)
                or (at if len(at := answers_since(server, chat, delivered)) >= answers else None)
            ),
            timeout=timeout,
        )
    except AssertionError:  # not answered in time: the worst case this run can see
        return timeout
    if found is True:
        print(f"a private title was refused: {title!r} in chat {chat}", flush=True)
        return timeout
    return found[answers - 1] - delivered


def refused(server: BotAPIServer, chat: int, since: float) -> bool:
    """Whether ``chat`` was told "busy" (its line, or the bot-wide budget) since ``since``."""
    with server._lock:
        return any(
            r.ok
            and r.method == "sendMessage"
            and r.chat_id == chat
            and r.at >= since
            and str(r.params.get("text", "")).startswith(REFUSALS)
            for r in server.requests
        )


def members_at_their_rate(server: BotAPIServer, group: int, stop: threading.Event) -> None:
    """Two members, each sending ``/similar`` at the per-person rate, until ``stop``."""
    members = (abs(group) % 1_000_000 * 10 + 1, abs(group) % 1_000_000 * 10 + 2)
    interval = 60.0 / PER_PERSON_MINUTE / len(members)
    for step in range(1_000_000):
        if stop.wait(0 if step == 0 else interval):
            return
        member = members[step % len(members)]
        server.push_command(group, "similar", TITLES[step % len(TITLES)], user_id=member)


def anonymous_flood(server: BotAPIServer, group: int, flood: int, stop: threading.Event) -> None:
    """An anonymous admin: ``flood`` ``/similar`` at once, then two a second, until ``stop``."""
    for step in range(1_000_000):
        if step >= flood and stop.wait(0.5):
            return
        if stop.is_set():
            return
        server.push_command(group, "similar", TITLES[step % len(TITLES)], sender_chat=group)


def answers_since(server: BotAPIServer, chat: int, since: float) -> list[float]:
    with server._lock:
        return sorted(
            r.at
            for r in server.requests
            if r.ok and r.method in ANSWERS and r.chat_id == chat and r.at >= since
        )


def replies(server: BotAPIServer, chat: int) -> tuple[int, int, int, int]:
    """(titles asked, albums, "busy" lines, over-the-limit notices) of one group."""
    with server._lock:
        asked = sum(
            1 for m in server.chats[chat].messages.values() if m.get("text", "").startswith("/")
        )
        albums = sum(
            1
            for r in server.requests
            if r.ok and r.method == "sendMediaGroup" and r.chat_id == chat
        )
        texts = [
            r.params.get("text", "")
            for r in server.requests
            if r.ok and r.method == "sendMessage" and r.chat_id == chat
        ]
    busy = sum(t.startswith(BUSY) for t in texts)
    return asked, albums, busy, sum(t.startswith(OVER_LIMIT) for t in texts)


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def report(name: str, samples: list[float], goal_ms: float) -> None:
    ms = [s * 1000 for s in samples]
    print(f"{name:<46} {len(ms):>4} {statistics.median(ms):>8.0f} {p95(ms):>8.0f} {goal_ms:>8.0f}")


if __name__ == "__main__":
    sys.exit(main())
