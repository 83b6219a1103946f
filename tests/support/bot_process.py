"""The bot under test as a real process, for restart tests (started, killed with SIGKILL,
started again).

The Bot API test server lives in the test process, so, like Telegram, it keeps the updates
that arrive while the bot is down and delivers them after the restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.bot_api import BotAPIServer
from tests.support.fixtures import ML_SMALL, POSTERS


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
    server.push_command(group, "night_vote", user_id=user_id)
    server.wait_for_sync(lambda: len(server.calls("sendPoll", group)) > polls, timeout=timeout)
    return server.calls("sendPoll", group)[-1].result["poll"]["id"]
