"""Fuzz: thousands of random updates of every kind against the whole bot (movie nights too).

Random text of any length and script, commands with junk, callback data of any shape
(including other chats' night ids), edited messages, photos, documents and poll answers
from strangers, over several chats, from a seeded RNG. Afterwards:

- no error reached the error handler and no traceback was logged;
- nothing happened in two "bystander" groups that sent nothing (their open nights, one
  waiting for a random pick, are the target of forged buttons from every other chat):
  no message to them, their store rows unchanged;
- every night's history row belongs to its own chat;
- every callback query was answered;
- the bot still answers a plain /help.

Then hostile inputs, each from its own private chat: CSVs with odd numbers, huge cells,
broken UTF-16 or a million rows, a 1 x 40,000,000 PNG, ``/settings k ²``. Each gets one
clear reply, nothing in a CSV that could be stored is lost, no traceback is logged.
(bench/bench_hostile.py measures the memory and time they cost against the real bot.)

``REELPICK_FUZZ_UPDATES`` sets the number of updates (default 1500; the full run is 10000),
``REELPICK_FUZZ_SEED`` the seed.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import time
from pathlib import Path

import pytest

from reelpick.app import Reelpick
from reelpick.bot.app import build_application
from reelpick.bot.movienight import MovieNight
from reelpick.bot.services import SERVICES
from reelpick.config import Config, load_config
from reelpick.profiles import ProfileStore
from tests.support.bot_api import BOT_ID, BOT_USERNAME, BotAPIServer, running
from tests.support.fixtures import ML_SMALL, POSTERS
from tests.support.hostile import HEAT_ROW, LETTERBOXD, strip_png

UPDATES = int(os.environ.get("REELPICK_FUZZ_UPDATES", "1500"))
SEED = int(os.environ.get("REELPICK_FUZZ_SEED", "16"))
pytestmark = pytest.mark.timeout(max(120, UPDATES // 40))

GROUPS = [-100301, -100302, -100303]
PRIVATE = [5101, 5102, 5103]
BYSTANDERS = [-100901, -100902]  # send nothing; their nights must not change
MEMBERS = list(range(7001, 7009))
STRANGERS = list(range(9001, 9005))
COMMANDS = [
    "start", "help", "plugins", "about", "settings", "similar", "reload", "movienight",
    "night_suggest", "night_seen", "night_veto", "night_status", "night_vote", "night_close",
    "suggest", "status", "vote", "close", "frobnicate",
]  # fmt: skip
TITLES = ["Heat", "Toy Story", "Jumanji", "Alien", "Hamlet", "Amelie", "The Matrix 1999"]
SCRIPTS = [
    (0x20, 0x7E),  # ASCII
    (0x400, 0x4FF),  # Cyrillic
    (0x600, 0x6FF),  # Arabic
    (0x4E00, 0x9FFF),  # CJK
    (0x1F300, 0x1F6FF),  # emoji
    (0x200B, 0x200F),  # zero-width and direction marks
    (0x0, 0x1F),  # control characters
    (0xE000, 0xF8FF),  # private use
]


def junk(rng: random.Random, longest: int = 300) -> str:
    length = rng.choice([0, 1, 2, 5, 20, 64, longest, rng.randint(0, 5000)])
    out = []
    while len(out) < length:
        low, high = rng.choice(SCRIPTS)
        out += [chr(rng.randint(low, high)) for _ in range(rng.randint(1, 12))]
    return "".join(out[:length])


def callback_data(rng: random.Random, night_ids: list[int]) -> str:
    night = rng.choice(night_ids + [0, -1, 10**30, rng.randint(1, 10**12)])
    movie = rng.choice([1, 2, 6, 999999999, -5, 10**30, rng.randint(0, 200000)])
    return rng.choice(
        [
            f"mn:r:{night}",
            f"mn:a:{rng.choice('swvx?')}:{night}:{movie}",
            f"mn:a:s:{night}",
            f"pick:{movie}",
            f"set:k:{rng.choice([3, 4, 5, 99, '٣', ''])}",
            f"set:p:{rng.choice(['cosine-cf', 'nope', ''])}",
            "mn:",
            "",
            junk(rng, 64)[:64],
        ]
    )


class Fuzzer:
    def __init__(self, server: BotAPIServer, rng: random.Random, night_ids: list[int]) -> None:
        self.server, self.rng, self.night_ids = server, rng, night_ids
        self.sent: dict[str, int] = {}

    def message(self, chat_id: int, user_id: int, **content) -> dict:
        """A user's message in ``chat_id``, kept by the server (so replies to it work)."""
        server = self.server
        chat = server.chat(chat_id)
        with server._lock:
            message = {
                "message_id": chat.next_message_id,
                "from": server.user(user_id),
                "chat": server._chat_json(chat),
                "date": int(time.time()),
                **content,
            }
            chat.next_message_id += 1
            chat.messages[message["message_id"]] = message
        return message

    def one(self) -> None:
        rng, server = self.rng, self.server
        chat_id = rng.choice(GROUPS + PRIVATE)
        user = chat_id if chat_id > 0 else rng.choice(MEMBERS)
        kind = rng.choices(
            ["text", "command", "callback", "edited", "photo", "document", "poll_answer"],
            weights=[20, 30, 25, 5, 5, 5, 10],
        )[0]
        self.sent[kind] = self.sent.get(kind, 0) + 1
        if kind == "text":
            text = rng.choice([junk(rng), rng.choice(TITLES), f"@{BOT_USERNAME} {junk(rng, 40)}"])
            server.push_text(chat_id, text, user_id=user)
        elif kind == "command":
            command = rng.choice(COMMANDS) + rng.choice(["", "", f"@{BOT_USERNAME}", "@other_bot"])
            args = rng.choice(["", junk(rng, 80), "; ".join(rng.sample(TITLES, 3)), "k 5"])
            server.push_command(chat_id, command, args, user_id=user)
        elif kind == "callback":
            chat = server.chat(chat_id)
            with server._lock:
                ours = [m for m in chat.messages.values() if m["from"]["id"] == BOT_ID]
                anywhere = list(chat.messages.values())
            target = rng.choice(ours or anywhere or [self.message(chat_id, user, text="hi")])
            data = callback_data(rng, self.night_ids)
            server.push_callback(chat_id, target["message_id"], data, user_id=user)
        elif kind == "edited":
            original = self.message(chat_id, user, text=rng.choice(TITLES))
            edited = {**original, "text": junk(rng, 100) or "x", "edit_date": int(time.time())}
            server.push_update({"edited_message": edited})
        elif kind == "photo":
            size = {"file_id": "AgAC" + str(rng.random()), "file_unique_id": "u", "width": 90,
                    "height": 90}  # fmt: skip
            extra = {"caption": junk(rng, 50)} if rng.random() < 0.5 else {}
            server.push_update({"message": self.message(chat_id, user, photo=[size], **extra)})
        elif kind == "document":
            document = {"file_id": "BQAC" + str(rng.random()), "file_unique_id": "d",
                        "file_name": junk(rng, 30) or "f", "mime_type": "text/plain"}  # fmt: skip
            server.push_update({"message": self.message(chat_id, user, document=document)})
        else:
            with server._lock:
                polls = list(server.polls)
            poll_id = rng.choice(polls + ["1", junk(rng, 20) or "0"]) if polls else "404"
            options = rng.choice([[], [0], [1], [rng.randint(-3, 20)], [0, 1]])
            server.push_update(
                {
                    "poll_answer": {
                        "poll_id": poll_id,
                        "user": server.user(rng.choice(MEMBERS + STRANGERS)),
                        "option_ids": options,
                        "option_persistent_ids": [f"{poll_id}-{i}" for i in options],
                    }
                }
            )


def rows(db: Path, chat_id: int) -> dict:
    """Everything the store holds about one chat's nights."""
    with sqlite3.connect(db) as con:
        ids = [r[0] for r in con.execute("SELECT id FROM nights WHERE chat_id = ?", (chat_id,))]
        marks = ",".join("?" * len(ids))
        out = {
            "nights": con.execute("SELECT * FROM nights WHERE chat_id = ?", (chat_id,)).fetchall()
        }
        for table in ("seeds", "exclusions", "options", "votes"):
            out[table] = con.execute(
                f"SELECT * FROM {table} WHERE night_id IN ({marks}) ORDER BY 1, 2", ids
            ).fetchall()
        out["history"] = con.execute(
            "SELECT * FROM history WHERE chat_id = ?", (chat_id,)
        ).fetchall()
    return out


def write_config(tmp_path: Path, server: BotAPIServer, db: Path) -> Config:
    (tmp_path / "config.toml").write_text(
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{tmp_path / "cache"}"\n'
        '[plugins]\nenabled = ["cosine-cf"]\n'
        f'[posters]\ndir = "{POSTERS}"\n'
        f'[bot]\nbase_url = "{server.base_url}"\nbase_file_url = "{server.base_file_url}"\n'
        # Flood limits off (they only slow the run); answers that ask plugins capped, so
        # most titles get the cheap "busy" line and the cap is exercised too.
        "messages_per_minute = 0\nmessages_per_user_minute = 0\nheavy_answers_per_minute = 30\n"
        "max_messages_per_second = 0\nmax_messages_per_group_minute = 0\n"
        "max_messages_per_chat_second = 0\nretries = 0\nadmins = []\n"
        f'[movienight]\nvoting_minutes = 30\ndb = "{db}"\n'
    )
    return load_config(tmp_path / "config.toml")


async def test_random_updates_break_nothing_and_stay_in_their_chat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reelpick_app: Reelpick, caplog
) -> None:
    server = BotAPIServer().start()
    for chat in GROUPS + BYSTANDERS:
        server.chat(chat, "supergroup")
        server.set_admins(chat, [MEMBERS[0]])
    for chat in PRIVATE:
        server.chat(chat, "private")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", server.token)
    db = tmp_path / "nights.db"
    application = build_application(write_config(tmp_path, server, db), reelpick_app)
    store = application.bot_data[SERVICES].features.get(MovieNight).store
    caplog.set_level(logging.WARNING)

    # Bystanders: one night waiting for a random pick (its button is there), one gathering.
    waiting = store.open_night(BYSTANDERS[0], 1, "B")
    store.add_seed(waiting.id, 1, 1, "B", max_seeds=20)
    store.start_voting(waiting.id, [(2, 1.0, "1. Jumanji"), (3, 0.5, "2. Grumpier")])
    store.claim_close(waiting.id, [0, 0], None)
    store.mark_announced(waiting.id, None, "novotes")  # its "Nobody voted" went out before
    gathering = store.open_night(BYSTANDERS[1], 1, "B")
    store.add_seed(gathering.id, 1, 1, "B", max_seeds=20)
    before = {chat: rows(db, chat) for chat in BYSTANDERS}
    night_ids = [waiting.id, gathering.id, *range(1, 30)]

    rng = random.Random(SEED)
    fuzzer = Fuzzer(server, rng, night_ids)
    started = time.perf_counter()
    try:
        async with running(application):
            for pushed in range(UPDATES):
                fuzzer.one()
                if pushed % 200 == 199:  # in batches: the bot fetches up to 100 per getUpdates
                    await server.wait_for(lambda: server.pending_updates() < 300, timeout=120)
            await server.wait_for(lambda: server.pending_updates() == 0, timeout=300)
            # Alive: a plain question is still answered.
            asked = server.push_command(PRIVATE[0], "help")
            await server.wait_for(
                lambda: any(
                    m.get("reply_to_message", {}).get("message_id")
                    == asked["message"]["message_id"]
                    or "Send me a movie title" in m.get("text", "")
                    and m["message_id"] > asked["message"]["message_id"]
                    for m in server.sent(PRIVATE[0])
                ),
                timeout=60,
            )
        # Leaving `running` handled every fetched update: now everything can be counted.
        elapsed = time.perf_counter() - started
        tracebacks = [r for r in caplog.records if r.exc_info]
        handled_errors = [r for r in caplog.records if "error while handling" in r.getMessage()]
        apologies = [
            r for r in server.calls("sendMessage") if "something went wrong" in r.params["text"]
        ]
        cross = {chat: rows(db, chat) for chat in BYSTANDERS}
        to_bystanders = [r for r in server.requests if r.chat_id in BYSTANDERS]
        with sqlite3.connect(db) as con:
            misfiled = con.execute(
                "SELECT h.night_id FROM history h JOIN nights n ON n.id = h.night_id"
                " WHERE n.chat_id != h.chat_id"
            ).fetchall()
        unanswered = server.unanswered_callbacks()
        print(
            f"\nfuzz: {UPDATES} updates (seed {SEED}) in {elapsed:.1f} s: {fuzzer.sent}; "
            f"{len(server.calls())} Bot API calls; {len(tracebacks)} tracebacks, "
            f"{len(handled_errors)} errors at the error handler, {len(unanswered)} unanswered "
            f"callbacks, {len(to_bystanders)} requests to bystander chats"
        )
        assert tracebacks == [], tracebacks[0].getMessage()
        assert handled_errors == [] and apologies == []
        for chat in BYSTANDERS:
            for table, found in cross[chat].items():
                assert found == before[chat][table], (chat, table)
        assert to_bystanders == []
        assert misfiled == []
        assert unanswered == []
    finally:
        store.close()
        server.stop()


# -- hostile input: one clear reply each, nothing storable lost -------------------------------

# (what is sent, a piece of the one reply, whether Heat (row 2) ends up rated)
HOSTILE_CSVS = {
    "superscript-year": (LETTERBOXD + HEAT_ROW + "2021,Toy Story,²,u,4\n", "is not a year", True),
    "superscript-id": ("movieId,rating\n6,4.5\n¹⁹⁹⁵,3\n", "is not in the catalogue", True),
    "5000-digits": (LETTERBOXD + HEAT_ROW + f"2021,Toy Story,{'9' * 5000},u,4\n", "5,000", True),
    "huge-title": (LETTERBOXD + HEAT_ROW + f"2021,{'x' * 130_000},1995,u,4\n", "130,000", True),
    "long-reasons": (
        LETTERBOXD + HEAT_ROW + "".join(f"2021,{'Qx' * 240}{n},1995,u,4\n" for n in range(50)),
        "50 rows did not match",
        True,
    ),
    "million-rows": ("movieId,rating\n" + "6,4\n" * 2_600_000, "more than 20,000 rows", False),
}
BROKEN_UTF16 = b"\xff\xfe" + (LETTERBOXD + HEAT_ROW).encode("utf-16-le") + b"\x00\xd8\x41\x00"


async def test_hostile_files_and_settings_get_one_clear_reply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reelpick_app: Reelpick, caplog
) -> None:
    server = BotAPIServer().start()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", server.token)
    application = build_application(
        write_config(tmp_path, server, tmp_path / "nights.db"), reelpick_app
    )
    profiles_db = application.bot_data[SERVICES].profiles.path
    caplog.set_level(logging.WARNING)
    expected: dict[int, tuple[str, bool | None]] = {}
    try:
        async with running(application):
            for chat_id, (name, (text, reply, stored)) in enumerate(HOSTILE_CSVS.items(), 6001):
                server.push_document(chat_id, f"{name}.csv", text.encode(), "text/csv")
                expected[chat_id] = (reply, stored)
            server.push_document(6101, "ratings.csv", BROKEN_UTF16, "text/csv")
            expected[6101] = ("invalid bytes in row 3", False)
            strip = strip_png()
            server.push_document(6102, "strip.png", strip, "image/png")
            server.push_document(6103, "wide.png", strip_png(4000, 40), "image/png")
            expected[6102] = expected[6103] = ("That picture is too large for me", None)
            for chat_id, k in [(6104, "²"), (6105, "¹⁹⁹⁵"), (6106, "9" * 4000)]:
                server.push_command(chat_id, "settings", f"k {k}")
                expected[chat_id] = ("I did not understand that", None)
            await server.wait_for(
                lambda: all(server.calls("sendMessage", c) for c in expected), timeout=120
            )
            asked = server.push_command(PRIVATE[0], "help")  # alive afterwards
            await server.wait_for(
                lambda: any(
                    m["message_id"] > asked["message"]["message_id"]
                    for m in server.sent(PRIVATE[0])
                ),
                timeout=60,
            )
        with ProfileStore(profiles_db) as profiles:
            for chat_id, (reply, stored) in expected.items():
                sent = [r.params["text"] for r in server.calls("sendMessage", chat_id)]
                assert len(sent) == 1 and reply in sent[0], (chat_id, sent)
                assert len(sent[0]) < 4096 and "something went wrong" not in sent[0]
                if stored is not None:
                    assert (6 in profiles.profile(f"tg:{chat_id}").ratings) is stored, chat_id
        tracebacks = [r for r in caplog.records if r.exc_info]
        assert tracebacks == [], tracebacks[0].getMessage()
    finally:
        server.stop()
