"""Movie nights with TMDB (the stand-in on 127.0.0.1): limited to the group's services, each
poll option saying where it streams, the announcement saying where to watch the winner, and
a movie on two members' watchlists as a sure candidate."""

from __future__ import annotations

import csv
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
from tests.support.movienight import ADMIN, ALICE, BOB, GROUP, Bot
from tests.support.tmdb_server import API_KEY, TMDBServer

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
async def bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reelpick_app: Reelpick):
    tmdb = TMDBServer().start()
    server = BotAPIServer().start()
    server.chat(GROUP, "supergroup")
    server.set_admins(GROUP, [ADMIN])
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", server.token)
    monkeypatch.setenv("TMDB_API_KEY", API_KEY)
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        f'[data]\nsource = "{ML_SMALL}"\ndir = "{tmp_path / "data"}"\n'
        f'[cache]\ndir = "{reelpick_app.config.cache_dir}"\n'
        '[plugins]\nenabled = ["cosine-cf"]\n'
        f'[posters]\ndir = "{POSTERS}"\napi_url = "{tmdb.api_url}"\nrequests_per_second = 0\n'
        f'[bot]\nbase_url = "{server.base_url}"\nbase_file_url = "{server.base_file_url}"\n'
        "messages_per_minute = 0\nmessages_per_user_minute = 0\n"
        "max_messages_per_group_minute = 10000\nretries = 0\n"
        "[movienight]\nvoting_minutes = 30\n"
    )
    config = load_config(config_file)
    application = build_application(config, Reelpick.open(config))
    feature = application.bot_data[SERVICES].features.get(MovieNight)
    try:
        async with running(application):
            yield Bot(server, application, feature)
    finally:
        server.stop()
        tmdb.stop()


async def test_a_night_limited_to_our_services(bot: Bot) -> None:
    services = bot.application.bot_data[SERVICES]
    dataset = services.reelpick.dataset
    # The stand-in streams a movie in the US on Netflix when its TMDB id is a multiple of 3.
    with open(POSTERS / "posters.csv", newline="") as fh:  # the movies the stand-in knows
        known = {int(row["tmdbId"]) for row in csv.DictReader(fh)}
    on_netflix = [
        int(m)
        for m, t in dataset.movies["tmdb_id"].dropna().items()
        if int(t) % 3 == 0 and int(t) in known and int(m) in dataset.rating_counts.index
    ]
    shared = on_netflix[len(on_netflix) // 2]  # on both members' watchlists: a sure place
    services.watchlist.add(f"tg:{ALICE}", shared)
    services.watchlist.add(f"tg:{BOB}", shared)
    services.settings.set_region(GROUP, "US")
    services.settings.set_services(GROUP, ["Netflix"])
    services.settings.set_night_services(GROUP, True)
    await bot.say(GROUP, "movienight", "Toy Story", user=ALICE)
    await bot.say(GROUP, "night_in", user=ALICE)
    await bot.say(GROUP, "night_in", user=BOB)
    polls = len(bot.server.calls("sendPoll", GROUP))
    bot.server.push_command(GROUP, "night_vote", user_id=ALICE)
    await bot.server.wait_for(lambda: len(bot.server.calls("sendPoll", GROUP)) > polls, 120)
    night = await bot.server.wait_for(lambda: bot._polled(GROUP), timeout=10)
    options = bot.store.options(night.id)
    assert options and shared in [o.movie_id for o in options]
    tmdb_of = dataset.movies["tmdb_id"]
    assert all(int(tmdb_of[o.movie_id]) % 3 == 0 for o in options)  # all on Netflix
    assert all(o.text.endswith("📺 Netflix") for o in options)
    await bot.vote(night, ALICE, [0])
    await bot.votes_are(night, [1] + [0] * (len(options) - 1))
    bot.server.push_command(GROUP, "night_close", user_id=ADMIN)
    caption = (await bot.announced(GROUP))["caption"]
    assert "📺 Where to watch in US: Stream: Netflix (Streaming data: JustWatch)" in caption
