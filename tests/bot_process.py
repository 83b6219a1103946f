"""The bot under test: as a real process for restart tests (started, killed with SIGKILL,
started again), and in the test process for the movie-night tests (the ``bot`` fixture,
with the :class:`MovieNight` it built).

The Bot API test server lives in the test process, so, like Telegram, it keeps the updates
that arrive while the bot is down and delivers them after the restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from telegram import Update
from telegram_server import BotAPIServer

from reelpick.app import Reelpick
from reelpick.bot.app import build_application
from reelpick.bot.movienight import MovieNight
from reelpick.bot.services import SERVICES
from reelpick.config import load_config
from tests.fixtures import ML_SMALL, POSTERS

GROUP, OTHER_GROUP = -100111, -100222
ALICE, BOB, CAROL, ADMIN = 1001, 1002, 1003, 1009


class BotProcess:
    """``command`` plus ``-v bot`` in a subprocess, pointed at ``server`` and ``config``.

    Each start logs to ``<folder>/bot-<n>.log``; a bot that exits early fails the test with
    the end of its log.
    """

    def __init__(
        self, server: BotAPIServer, folder: Path, config: Path, command: list[str]
    ) -> None:
        self.server = server
        self.folder = folder
        self.command = command
        self.env = {
            **os.environ,
            "REELPICK_CONFIG": str(config),
            "REELPICK_TELEGRAM_BASE_URL": server.base_url,
            "REELPICK_TELEGRAM_BASE_FILE_URL": server.base_file_url,
            "TELEGRAM_BOT_TOKEN": server.token,
        }
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self, timeout: float = 90) -> None:
        """Start the bot and wait until it is ready: it asks for updates (a long poll)."""
        polls_before = self._get_updates()
        self.starts += 1
        log = open(self.folder / f"bot-{self.starts}.log", "wb")  # noqa: SIM115 (kept by Popen)
        self.proc = subprocess.Popen(
            [*self.command, "-v", "bot"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.server.wait_for_sync(
            lambda: self._check_alive() and self._get_updates() > polls_before, timeout=timeout
        )

    def _get_updates(self) -> int:
        with self.server._lock:
            return sum(r.method == "getUpdates" for r in self.server.requests)

    def _check_alive(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            log = (self.folder / f"bot-{self.starts}.log").read_text()[-3000:]
            raise AssertionError(f"bot exited with {self.proc.returncode}:\n{log}")
        return True

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when the machine loses power."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(timeout=10) == -signal.SIGKILL

    def terminate(self) -> None:
        """SIGTERM, and wait for the process to finish what it was doing and exit."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class NightBot(BotProcess):
    """``reelpick bot`` with cosine-CF, its movie nights in ``folder/nights.db``."""

    def __init__(
        self, server: BotAPIServer, folder: Path, voting_minutes: float, cache: Path
    ) -> None:
        self.cache = cache
        self.config = folder / "config.toml"
        self.write_config(voting_minutes)
        script = Path(sys.executable).with_name("reelpick")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "reelpick"]
        super().__init__(server, folder, self.config, command)

    def write_config(self, voting_minutes: float) -> None:
        """The config file (read afresh by every start)."""
        self.config.write_text(
            f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{self.cache}"\n'
            '[plugins]\nenabled = ["cosine-cf"]\n'
            f'[posters]\ndir = "{POSTERS}"\n'
            "[bot]\nmessages_per_minute = 0\nmessages_per_user_minute = 0\nmax_messages_per_group_minute = 10000\n"
            f"[movienight]\nvoting_minutes = {voting_minutes}\n"
            f'db = "{self.config.parent / "nights.db"}"\n'
        )


def open_poll(server: BotAPIServer, group: int, user_id: int, timeout: float = 60) -> str:
    """In ``group``: /movienight with two seeds, then /vote; returns the poll's id."""
    pushed = server.push_command(group, "movienight", "Toy Story; Jumanji", user_id=user_id)
    message_id = pushed["message"]["message_id"]
    server.wait_for_sync(
        lambda: any(
            m.get("reply_to_message", {}).get("message_id") == message_id
            for m in server.sent(group)
        ),
        timeout=timeout,
    )
    polls = len(server.calls("sendPoll", group))
    server.push_command(group, "vote", user_id=user_id)
    server.wait_for_sync(lambda: len(server.calls("sendPoll", group)) > polls, timeout=timeout)
    return server.calls("sendPoll", group)[-1].result["poll"]["id"]


@pytest.fixture(scope="module")
def reelpick_app(tmp_path_factory: pytest.TempPathFactory) -> Reelpick:
    folder = tmp_path_factory.mktemp("movienight-app")
    config_file = folder / "config.toml"
    config_file.write_text(
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{folder / "cache"}"\n'
        '[plugins]\nenabled = ["cosine-cf"]\n'
    )
    return Reelpick.open(load_config(config_file))


class Bot:
    """The running bot and the test server, with what a test needs to talk to them."""

    def __init__(self, server: BotAPIServer, application, feature: MovieNight) -> None:
        self.server = server
        self.application = application
        self.feature = feature
        self.store = feature.store

    async def say(self, chat: int, command: str, args: str = "", user: int = ALICE) -> dict:
        """A user sends ``/command args``; returns the bot's reply to that message."""
        pushed = self.server.push_command(chat, command, args, user_id=user)
        message_id = pushed["message"]["message_id"]
        return await self.server.wait_for(lambda: self.reply_to(chat, message_id), timeout=15)

    def reply_to(self, chat: int, message_id: int) -> dict | None:
        for message in self.server.sent(chat):
            if message.get("reply_to_message", {}).get("message_id") == message_id:
                return message
        return None

    async def open_vote(self, chat: int, *seeds: str, user: int = ALICE):
        """/movienight with ``seeds`` and /vote; returns (night, poll request)."""
        await self.say(chat, "movienight", "; ".join(seeds), user=user)
        polls_before = len(self.server.calls("sendPoll", chat))
        self.server.push_command(chat, "vote", user_id=user)
        await self.server.wait_for(
            lambda: len(self.server.calls("sendPoll", chat)) > polls_before, timeout=15
        )
        night = await self.server.wait_for(lambda: self._polled(chat), timeout=5)
        return night, self.server.calls("sendPoll", chat)[-1]

    def _polled(self, chat: int):
        night = self.store.current(chat)
        return night if night is not None and night.poll_id else None

    async def vote(self, night, user: int, options: list[int]) -> None:
        self.server.push_poll_answer(night.poll_id, user, options)

    async def votes_are(self, night, counts: list[int]) -> None:
        await self.server.wait_for(lambda: self.store.tally(night.id) == counts, timeout=10)

    def announcements(self, chat: int) -> list[dict]:
        return [
            m
            for m in self.server.sent(chat)
            if "Tonight's movie" in (m.get("caption") or m.get("text") or "")
        ]

    async def announced(self, chat: int, count: int = 1) -> dict:
        found = await self.server.wait_for(
            lambda: len(self.announcements(chat)) >= count and self.announcements(chat),
            timeout=15,
        )
        return found[-1]


@pytest.fixture
async def bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reelpick_app: Reelpick):
    server = BotAPIServer().start()
    for chat in (GROUP, OTHER_GROUP):
        server.chat(chat, "supergroup")
        server.set_admins(chat, [ADMIN])
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", server.token)
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{tmp_path / "cache"}"\n'
        '[plugins]\nenabled = ["cosine-cf"]\n'
        f'[posters]\ndir = "{POSTERS}"\n'
        f'[bot]\nbase_url = "{server.base_url}"\nbase_file_url = "{server.base_file_url}"\n'
        "messages_per_minute = 0\nmessages_per_user_minute = 0\n"
        "max_messages_per_group_minute = 10000\nretries = 0\n"
        "[movienight]\nvoting_minutes = 30\n"
    )
    config = load_config(config_file)
    application = build_application(config, reelpick_app)
    feature = application.bot_data[SERVICES].features.get(MovieNight)
    async with application:
        await application.start()
        await application.updater.start_polling(
            poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES
        )
        try:
            yield Bot(server, application, feature)
        finally:
            await application.updater.stop()
            await application.stop()
            if application.post_shutdown:
                await application.post_shutdown(application)
            server.stop()
