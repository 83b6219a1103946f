"""Restart safety of profiles: the bot as a real process, killed with SIGKILL between rating
and /forme, or in the middle of an import. The ratings, the rating session, the buttons
already sent and an interrupted import all survive.

The bot runs ``tests/support/profile_plugins.py`` (``reelpick`` with the GenreFan test plugin
installed as if built in); the Bot API test server lives in this process and keeps what
arrives while the bot is down, as Telegram does.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from reelpick.data import load_dataset
from reelpick.profiles import ProfileStore
from tests.support.bot_api import BotAPIServer, buttons
from tests.support.bot_process import BotProcess
from tests.support.fixtures import ML_SMALL, POSTERS

pytestmark = pytest.mark.timeout(180)

USER = 5151
LAUNCHER = Path(__file__).parents[1] / "support" / "profile_plugins.py"


def profile_bot(server: BotAPIServer, folder: Path) -> BotProcess:
    """The bot with the GenreFan test plugin, its profiles in ``folder/profiles.db``."""
    config = folder / "config.toml"
    config.write_text(
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{folder / "cache"}"\n'
        '[plugins]\nenabled = ["genre-fan"]\n'
        f'[posters]\ndir = "{POSTERS}"\n'
        "[bot]\nmessages_per_minute = 0\nmax_messages_per_chat_second = 0\n"
        f'profiles_db = "{folder / "profiles.db"}"\n'
    )
    return BotProcess(server, folder, config, [sys.executable, str(LAUNCHER)])


def questions(server: BotAPIServer) -> list:
    return [
        r
        for r in server.calls("sendPhoto", USER)
        if r.ok and any(d.startswith("rate:") for _, d in buttons(r.params))
    ]


def tap(server: BotAPIServer, question, choice: str) -> None:
    server.push_callback(
        USER, question.result["message_id"], dict(buttons(question.params))[choice]
    )


def movie_of(question) -> int:
    return int(buttons(question.params)[0][1].split(":")[2])


def test_ratings_survive_sigkill_and_forme_uses_them(tmp_path: Path) -> None:
    dataset = load_dataset(ML_SMALL)
    with BotAPIServer() as server:
        bot = profile_bot(server, tmp_path)
        try:
            bot.start()
            server.push_command(USER, "rate")
            server.wait_for_sync(lambda: len(questions(server)) == 1, timeout=30)
            tap(server, questions(server)[0], "★5")
            server.wait_for_sync(lambda: len(questions(server)) == 2, timeout=30)
            tap(server, questions(server)[1], "★4")
            server.wait_for_sync(lambda: len(questions(server)) == 3, timeout=30)
            first, second, third = (movie_of(q) for q in questions(server))
            with ProfileStore(tmp_path / "profiles.db") as store:
                assert dict(store.profile(f"tg:{USER}").ratings) == {first: 5.0, second: 4.0}

            bot.kill()
            server.push_command(USER, "forme")  # waits at Telegram while the bot is down
            bot.start()

            server.wait_for_sync(lambda: len(server.calls("sendMediaGroup", USER)) == 2, timeout=60)
            header = [r.result["text"] for r in server.calls("sendMessage", USER) if r.ok][-1]
            assert header.startswith("Picks for you, from your 2 ratings")
            picks = server.calls("sendMediaGroup", USER)[-1].result[0]["caption"].split("\n")
            assert picks[0] == "Picks · all recommenders together"
            liked = str(dataset.movies.loc[first]["name"])
            assert all(line.endswith(f"because you liked {liked}") for line in picks[1:])

            # The question sent before the kill still works, and the session goes on.
            tap(server, questions(server)[2], "★3")
            server.wait_for_sync(lambda: len(questions(server)) == 4, timeout=30)
            assert movie_of(questions(server)[3]) not in (first, second, third)
            with ProfileStore(tmp_path / "profiles.db") as store:
                ratings = dict(store.profile(f"tg:{USER}").ratings)
            assert ratings == {first: 5.0, second: 4.0, third: 3.0}
        finally:
            bot.stop()


def letterboxd_export(dataset) -> bytes:
    """A heavy Letterboxd ratings.csv: every catalogue movie with a year, twice (seconds of
    matching), ratings cycling through the half-star scale."""
    lines = ["Date,Name,Year,Letterboxd URI,Rating"]
    movies = dataset.movies[dataset.movies["year"].notna()]
    for copy in range(2):
        for i, (name, year) in enumerate(zip(movies["name"], movies["year"], strict=True)):
            title = str(name).replace('"', '""')
            lines.append(f'2023-01-02,"{title}",{int(year)},https://boxd.it/{copy}x{i},5')
    return ("\n".join(lines) + "\n").encode()


def queued(path: Path, condition: str = "1") -> int:
    """Imports queued in the bot's profile store (read-only), those matching ``condition``."""
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        try:
            sql = f"SELECT count(*) FROM queued_imports WHERE {condition}"
            return int(db.execute(sql).fetchone()[0])
        except sqlite3.OperationalError:  # the table is not there yet
            return 0


def test_an_import_killed_midway_is_resumed_and_reported(tmp_path: Path) -> None:
    dataset = load_dataset(ML_SMALL)
    data = letterboxd_export(dataset)
    database = tmp_path / "profiles.db"
    with BotAPIServer() as server:
        bot = profile_bot(server, tmp_path)
        try:
            bot.start()
            server.push_document(USER, "ratings.csv", data)
            # Queued with its file, reading under way: kill -9 (no result sent yet).
            server.wait_for_sync(lambda: queued(database, "data IS NOT NULL") == 1, timeout=60)
            bot.kill()
            assert not server.calls("sendMessage", USER)
            with ProfileStore(database) as store:
                assert store.entries(f"tg:{USER}") == []

            bot.start()
            [report] = server.wait_for_sync(
                lambda: [r for r in server.calls("sendMessage", USER) if r.ok], timeout=90
            )
            text = report.result["text"]
            assert text.startswith("Imported ratings.csv (letterboxd): ")
            assert report.params.get("reply_parameters")  # still a reply to the file
            # Off the queue once reported (dropped right after the report went out).
            server.wait_for_sync(lambda: queued(database) == 0, timeout=10)
            with ProfileStore(database) as store:
                ratings = store.profile(f"tg:{USER}").ratings
                assert len(ratings) > 9000 and set(ratings.values()) == {5.0}
            assert f"{len(ratings):,} changed your profile" in text
            assert len(server.calls("downloadFile")) == 1  # the file was kept, not fetched again
        finally:
            bot.stop()
