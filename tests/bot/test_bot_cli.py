"""``reelpick bot`` as a real process: long polling and webhook mode against the test server."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from reelpick.cli import main
from tests.support.bot_api import BotAPIServer
from tests.support.fixtures import ML_SMALL, POSTERS
from tests.support.webhook_proxy import free_ports

pytestmark = pytest.mark.timeout(120)

USER = 31337


@pytest.fixture(scope="module")
def plugin_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the module: the second bot process loads cosine-CF's table, not fits it."""
    return tmp_path_factory.mktemp("bot-cli") / "cache"


def start_bot(
    tmp_path: Path, cache: Path, server: BotAPIServer, bot_section: str = "", *extra_args: str
):
    config = tmp_path / "config.toml"
    config.write_text(
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{cache}"\n'
        '[plugins]\nenabled = ["cosine-cf"]\n'
        f'[posters]\ndir = "{POSTERS}"\n[bot]\n{bot_section}'
    )
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": server.token,
        "REELPICK_TELEGRAM_BASE_URL": server.base_url,
        "REELPICK_TELEGRAM_BASE_FILE_URL": server.base_file_url,
    }
    log = open(tmp_path / "bot.log", "wb")  # noqa: SIM115 - closed by the caller via the process
    process = subprocess.Popen(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "reelpick",
            "-vv",
            "--config",
            str(config),
            "bot",
            *extra_args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    return process, tmp_path / "bot.log"


def stop_bot(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def albums(server: BotAPIServer) -> list:
    return [r for r in server.calls("sendMediaGroup", USER) if r.ok]


@pytest.mark.slow
def test_polling_bot_process_answers_and_keeps_the_token_out_of_its_log(tmp_path, plugin_cache):
    with BotAPIServer() as server:
        process, log = start_bot(tmp_path, plugin_cache, server)
        try:
            server.wait_for_sync(lambda: server.calls("setMyCommands"), timeout=60)
            server.push_text(USER, "Heat")
            server.wait_for_sync(lambda: albums(server), timeout=30)
        finally:
            code = stop_bot(process)
    output = log.read_text(errors="replace")
    assert code == 0, output[-3000:]
    assert server.token not in output
    assert "loading data and plugins" in output
    assert re.search(r"plugin cosine-cf ready in", output)  # loaded before polling started
    assert "long polling http://127.0.0.1" in output
    # The plugins were ready before the first getUpdates; TensorFlow was never imported.
    first_poll = next(r for r in server.requests if r.method == "getUpdates")
    assert first_poll.at > server.calls("setMyCommands")[0].at
    imported = re.findall(r"import time:\s+\d+ \|\s+\d+ \|\s+(\S+)", output)
    assert "reelpick.bot.titles" in imported
    assert not [m for m in imported if m.split(".")[0] in ("tensorflow", "keras")]


@pytest.mark.slow
def test_webhook_mode_receives_updates_with_a_secret(tmp_path, plugin_cache):
    [port] = free_ports(1)  # the bot binds it
    hook = f"http://127.0.0.1:{port}/reelpick-hook"
    with BotAPIServer() as server:
        process, log = start_bot(
            tmp_path,
            plugin_cache,
            server,
            f'webhook_url = "{hook}"\nwebhook_listen = "127.0.0.1"\nwebhook_port = {port}\n',
            "--mode",
            "webhook",
        )
        try:
            server.wait_for_sync(lambda: server.webhook["url"] == hook, timeout=60)
            assert len(server.webhook["secret_token"]) >= 32
            secret = server.webhook["secret_token"]
            server.wait_for_sync(lambda: _accepts(port), timeout=30)
            # Requests without Telegram's secret header are refused.
            forged = urllib.request.Request(
                hook, data=b"{}", headers={"Content-Type": "application/json"}
            )
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(forged, timeout=5)
            assert refused.value.code == 403
            server.push_text(USER, "Heat")
            server.wait_for_sync(lambda: albums(server), timeout=30)
        finally:
            code = stop_bot(process)
    output = log.read_text(errors="replace")
    assert code == 0, output[-3000:]
    assert server.token not in output
    assert "secret_token" in output  # PTB logs its webhook settings at -vv...
    assert secret not in output  # ...with the secret masked
    assert not server.calls("getUpdates")


def test_missing_token_is_a_clear_error(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{tmp_path}"\n')
    assert main(["--config", str(config), "bot"]) == 1
    assert "TELEGRAM_BOT_TOKEN is not set" in capsys.readouterr().err


def test_rejected_token_is_reported_before_loading_anything(tmp_path, capsys, monkeypatch):
    token = "999999:this-token-is-not-the-servers"
    with BotAPIServer() as server:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[data]\nsource = "{tmp_path / "no-such-data"}"\n[cache]\ndir = "{tmp_path}"\n'
        )
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
        monkeypatch.setenv("REELPICK_TELEGRAM_BASE_URL", server.base_url)
        assert main(["-vv", "--config", str(config), "bot"]) == 1
    captured = capsys.readouterr()
    assert "Telegram rejected the bot token (TELEGRAM_BOT_TOKEN)" in captured.err
    assert token not in captured.err + captured.out
    assert [r.method for r in server.requests] == ["getMe"]


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
