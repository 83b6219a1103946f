"""People's data survives ``rm -rf`` of the cache folder: an installation that kept profiles,
movie nights and chat settings under the cache is moved to the state folder when the bot
starts, and the bot holds the state folder's lock while it runs."""

from __future__ import annotations

import shutil

import diskcache
import pytest

from reelpick.bot.app import build_application
from reelpick.bot.movienight.store import MovieNightStore
from reelpick.bot.services import SERVICES
from reelpick.bot.settings import SettingsStore
from reelpick.profiles import ProfileStore
from reelpick.state import CHAT_SETTINGS_FILE, BotLock
from tests.support.bot_api import running
from tests.support.bot_chats import GROUP, USER

pytestmark = pytest.mark.timeout(60)

HEAT = 6


async def test_deleting_the_cache_folder_keeps_every_rating_night_and_setting(
    server, bot_config, reelpick_app, tmp_path
) -> None:
    state = tmp_path / "state"
    config = bot_config(f'[state]\ndir = "{state}"\n', enabled=["cosine-cf"])
    cache = config.cache_dir
    cache.mkdir(parents=True)
    # The layout of an older version: everything under the cache folder.
    with ProfileStore(cache / "profiles.sqlite3") as profiles:
        profiles.rate(f"tg:{USER}", HEAT, 4.5)
    nights = MovieNightStore(cache / "movienight.sqlite3")
    night = nights.open_night(GROUP, USER, "Ann")
    nights.add_seed(night.id, HEAT, USER, "Ann", max_seeds=20)
    nights.close()
    with diskcache.Cache(str(cache / "bot")) as old_bot_cache:
        old_bot_cache.set(f"chat-settings:{GROUP}", {"k": 3, "plugins": ["cosine-cf"]})
        old_bot_cache.set("file-id:unrelated", "kept")

    application = build_application(config, reelpick_app)
    async with running(application):
        services = application.bot_data[SERVICES]
        assert services.settings.get(GROUP, ["cosine-cf"]).k == 3
        assert not BotLock(state, exclusive=True).acquire()  # the bot holds it
    with BotLock(state, exclusive=True) as free:
        assert free.acquire()  # released when the bot stopped

    shutil.rmtree(cache)
    with ProfileStore(config.settings.bot.profiles_db) as profiles:
        assert dict(profiles.profile(f"tg:{USER}").ratings) == {HEAT: 4.5}
    nights = MovieNightStore(config.settings.movienight.db)
    try:
        assert nights.current(GROUP).id == night.id
        assert [seed.movie_id for seed in nights.seeds(night.id)] == [HEAT]
    finally:
        nights.close()
    settings = SettingsStore(state / CHAT_SETTINGS_FILE, default_k=5)
    try:
        assert settings.get(GROUP, ["cosine-cf", "ease"]).k == 3
        assert settings.get(GROUP, ["cosine-cf", "ease"]).plugins == ("cosine-cf",)
        assert settings.get(USER, ["cosine-cf"]).k == 5  # a chat that set nothing
    finally:
        settings.close()


def test_chat_settings_already_in_the_state_folder_win(tmp_path) -> None:
    settings = SettingsStore(tmp_path / "state" / CHAT_SETTINGS_FILE, default_k=5)
    settings.set_k(GROUP, 8)
    with diskcache.Cache(str(tmp_path / "cache" / "bot")) as old:
        old.set(f"chat-settings:{GROUP}", {"k": 3})
        old.set(f"chat-settings:{USER}", {"plugins": ["ease"]})
        assert settings.adopt(old) == 1
        assert f"chat-settings:{GROUP}" in old  # kept both: not dropped
        assert f"chat-settings:{USER}" not in old
    assert settings.get(GROUP, ["cosine-cf"]).k == 8
    assert settings.get(USER, ["cosine-cf", "ease"]).plugins == ("ease",)
    settings.close()
    assert settings.get(GROUP, ["cosine-cf"]).k == 8  # read after close: opened again
    settings.close()
