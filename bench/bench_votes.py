"""Benchmark movie-night votes: does a flood of votes in 50 groups slow down everyone else?

Every vote is written to SQLite with an fsync (``record_vote``, off the event loop). If such
writes ran on the loop, each would stall every chat. Here one ``reelpick bot`` process
(cosine-CF, the Bot API test server on 127.0.0.1) holds an open poll in each of ``--groups``
groups, and a private chat asks for titles one after another (paced one a second, as the
per-chat flood limit allows), in the same run:

  quiet   no votes: the reference
  flood   a thread votes in every group's poll at ``--rate`` votes a second (``--voters`` per
          group: vote, change, retract, vote again, round-robin over the groups; 0: no pause).
          100/s is every voter of 50 groups of 30 changing their mind every 15 s

The flood limits are off (they would pace the answers, hiding what the bot itself costs).
Each query's latency is from the update's delivery to the bot's last answer request for it
(server timestamps, as bench_bot.py). Printed: p50/p95 of both phases and the ratio flood /
quiet (1.0: the votes cost the others nothing), the votes delivered per second, and whether
every group's stored tally equals the poll's count on the server once the flood is over.

    .venv/bin/python bench/bench_votes.py [--groups 50] [--voters 30] [--rate 100] [--rounds 30]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from reelpick.bot.movienight.store import MovieNightStore  # noqa: E402
from tests.support.bot_api import BotAPIServer  # noqa: E402
from tests.support.bot_process import BotProcess, open_poll  # noqa: E402
from tests.support.fixtures import ML_SMALL, POSTERS  # noqa: E402

TITLES = ["Heat", "Toy Story", "Alien", "Fargo", "Jaws", "Memento", "Shrek", "Casablanca"]
ASKER = 4242
ADMIN = 1001
FIRST_GROUP = -100_900_000
ANSWERS = ("sendMediaGroup", "sendPhoto", "sendMessage")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--voters", type=int, default=30, help="per group")
    parser.add_argument("--rate", type=float, default=100.0, help="votes a second (0: no pause)")
    parser.add_argument("--rounds", type=int, default=30, help="title queries per phase")
    parser.add_argument("--cache", default="/tmp/reelpick-bench-votes")
    args = parser.parse_args()
    folder = Path(args.cache)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nights.db").unlink(missing_ok=True)
    config = folder / "config.toml"
    config.write_text(
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{folder / "cache"}"\n'
        '[plugins]\nenabled = ["cosine-cf"]\n'
        f'[posters]\ndir = "{POSTERS}"\n'
        "[bot]\nmessages_per_minute = 0\nmessages_per_user_minute = 0\n"
        "max_messages_per_group_minute = 10000\nmax_messages_per_chat_second = 0\n"
        "max_messages_per_second = 0\n"
        f'[movienight]\nvoting_minutes = 600\ndb = "{folder / "nights.db"}"\n'
    )
    with BotAPIServer() as server:
        bot = BotProcess(server, folder, config, [sys.executable, "-m", "reelpick"])
        try:
            bot.start(timeout=600)
            answers = warm_up(server)
            groups = [FIRST_GROUP - g for g in range(args.groups)]
            polls = {}
            for group in groups:
                server.chat(group, "supergroup")
                polls[group] = open_poll(server, group, ADMIN)
            print(f"{len(polls)} polls open; each title answer is {answers} requests", flush=True)
            quiet = [latency(server, title, answers) for title in queries(args.rounds)]
            stop = threading.Event()
            pushed = itertools.count()
            voter = threading.Thread(
                target=vote_flood, args=(server, polls, args.voters, args.rate, stop, pushed)
            )
            started = time.perf_counter()
            voter.start()
            try:
                flood = [latency(server, title, answers) for title in queries(args.rounds)]
            except AssertionError:  # the votes outran the bot: say so rather than a traceback
                print(f"overloaded at {args.rate:g} votes/s: a title went unanswered for 60 s")
                return 1
            finally:
                stop.set()
                voter.join()
            seconds = time.perf_counter() - started
            votes = next(pushed)
            agree = tallies_agree(server, folder / "nights.db", polls)
        finally:
            bot.stop()
    print()
    print(f"{'phase':<34} {'n':>4} {'p50 ms':>8} {'p95 ms':>8}")
    report("quiet (no votes)", quiet)
    report(f"flood ({args.groups} groups voting)", flood)
    print(
        f"\nflood / quiet p95: {p95(flood) / p95(quiet):.2f}x; p50: "
        f"{statistics.median(flood) / statistics.median(quiet):.2f}x"
    )
    print(f"votes delivered during the flood: {votes} in {seconds:.1f} s ({votes / seconds:.0f}/s)")
    print(f"stored tallies equal the polls' counts in {agree} of {len(polls)} groups")
    return 0 if agree == len(polls) else 1


def queries(rounds: int) -> list[str]:
    return [TITLES[i % len(TITLES)] for i in range(rounds)]


def warm_up(server: BotAPIServer) -> int:
    """Every title once (posters read, file_ids known); returns the answer requests per title."""
    counts = set()
    for title in TITLES:
        update = server.push_text(ASKER, title)["update_id"]
        server.wait_for_sync(lambda u=update: u in server.delivered_at, timeout=60)
        time.sleep(3)  # the whole answer: a header and the album
        delivered = server.delivered_at[update]
        counts.add(len(answers_since(server, delivered)))
    if len(counts) != 1:
        raise SystemExit(f"titles answered with different numbers of requests: {counts}")
    return counts.pop()


def answers_since(server: BotAPIServer, since: float) -> list[float]:
    with server._lock:
        return sorted(
            r.at
            for r in server.requests
            if r.ok and r.method in ANSWERS and r.chat_id == ASKER and r.at >= since
        )


def latency(server: BotAPIServer, title: str, answers: int) -> float:
    """Seconds from delivering one title to the bot's last answer request; then a 1 s pause."""
    update = server.push_text(ASKER, title)["update_id"]
    server.wait_for_sync(lambda: update in server.delivered_at, timeout=60)
    delivered = server.delivered_at[update]
    found = server.wait_for_sync(
        lambda: at if len(at := answers_since(server, delivered)) >= answers else None,
        timeout=60,
    )
    time.sleep(1.0)
    return found[answers - 1] - delivered


def vote_flood(
    server: BotAPIServer,
    polls: dict[int, str],
    voters: int,
    rate: float,
    stop: threading.Event,
    pushed: itertools.count,
) -> None:
    """Vote, change, retract and vote again, round-robin over the groups, until ``stop``."""
    choices = ([0], [1], [], [2])
    started = time.perf_counter()
    done = 0
    for step in itertools.count():
        for group, poll_id in polls.items():
            for voter in range(voters):
                if stop.is_set():
                    return
                user = 10_000 + voter
                server.push_poll_answer(poll_id, user, choices[(step + voter + group) % 4])
                next(pushed)
                done += 1
                if rate > 0:  # keep to the rate: sleep until this vote's slot
                    time.sleep(max(0.0, started + done / rate - time.perf_counter()))


def tallies_agree(server: BotAPIServer, db: Path, polls: dict[int, str]) -> int:
    """Groups whose stored tally equals the server's poll count (waits up to 60 s for the bot)."""
    store = MovieNightStore(db)

    def agreeing() -> int:
        count = 0
        for group, poll_id in polls.items():
            night = store.current(group)
            options = server.polls[poll_id]["poll"]["options"]
            wanted = [o["voter_count"] for o in options]
            count += night is not None and list(store.tally(night.id)) == wanted
        return count

    deadline = time.monotonic() + 60
    while (found := agreeing()) < len(polls) and time.monotonic() < deadline:
        time.sleep(0.5)
    return found


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def report(name: str, samples: list[float]) -> None:
    ms = [s * 1000 for s in samples]
    print(f"{name:<34} {len(ms):>4} {statistics.median(ms):>8.0f} {p95(ms):>8.0f}")


if __name__ == "__main__":
    sys.exit(main())
