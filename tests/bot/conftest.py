"""Fixtures of the bot tests: the Bot API test server, cosine-CF fitted once per module, and a
config per test pointed at both."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelpick.app import Reelpick
from tests.support.bot_api import BotAPIServer
from tests.support.fixtures import ML_SMALL, POSTERS, write_config


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    """A fresh Bot API test server; its token in TELEGRAM_BOT_TOKEN, where the bot reads it."""
    with BotAPIServer() as api:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", api.token)
        yield api


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's cache folder, holding the tables :func:`reelpick_app` fitted."""
    return tmp_path_factory.mktemp("bot-shared") / "cache"


@pytest.fixture(scope="module")
def reelpick_app(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Reelpick:
    """cosine-CF on the real ml-latest-small, fitted once for the module (about 2 s)."""
    config = write_config(
        tmp_path_factory.mktemp("bot-app"),
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{shared_cache}"\n'
        '[plugins]\nenabled = ["cosine-cf"]\n',
    )
    return Reelpick.open(config)


@pytest.fixture
def bot_config(tmp_path: Path, server: BotAPIServer):
    """A config for one test: its own bot cache, the test server, the poster folder."""

    def make(extra: str = "", enabled: list[str] | None = None, cache: Path | None = None):
        enabled = enabled or ["cosine-cf"]
        text = (
            f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{cache or tmp_path / "cache"}"\n'
            "[plugins]\nenabled = [" + ", ".join(f'"{n}"' for n in enabled) + "]\n"
            f'[posters]\ndir = "{POSTERS}"\n'
            f'[bot]\nbase_url = "{server.base_url}"\nbase_file_url = "{server.base_file_url}"\n'
            # Telegram's per-chat pacing is tested on its own; elsewhere it only slows tests.
            + (
                ""
                if "max_messages_per_chat_second" in extra
                else "max_messages_per_chat_second = 0\n"
            )
            # Tests send as one person in many chats; the per-person cap is tested on its own.
            + ("" if "messages_per_user_minute" in extra else "messages_per_user_minute = 0\n")
            + extra
        )
        folder = tmp_path / f"config-{abs(hash(text))}"
        folder.mkdir(exist_ok=True)
        return write_config(folder, text)

    return make
