"""Fixtures of the movie-night tests: the real bot Application running over the test server."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelpick.app import Reelpick
from reelpick.bot.app import build_application
from reelpick.bot.movienight import MovieNight
from reelpick.bot.services import SERVICES
from reelpick.config import load_config
from tests.support.bot_api import BotAPIServer
from tests.support.bot_api.application import running
from tests.support.fixtures import ML_SMALL, POSTERS
from tests.support.movienight import ADMIN, GROUP, OTHER_GROUP, Bot


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
    try:
        async with running(application):
            yield Bot(server, application, feature)
    finally:
        server.stop()
