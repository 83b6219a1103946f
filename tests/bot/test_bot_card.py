"""The movie card and TMDB candidates in the bot, over the Bot API and TMDB stand-ins: a
title the dataset does not have -> candidate buttons -> the chosen movie added and carded ->
albums -> watch later -> a restart -> /watchlist; the card without TMDB; /settings language,
region and services."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelpick.app import Reelpick
from reelpick.bot.i18n import translator
from reelpick.bot.replies import STALE
from reelpick.catalogue import catalogue_id
from reelpick.registry import Registry
from reelpick.testing import small_dataset
from tests.support.bot_api import BotAPIServer, album_captions, album_media, buttons, running
from tests.support.fixtures import ML_SMALL, POSTERS, hybrid_table, write_config
from tests.support.tmdb_server import API_KEY, DUNE_PART_TWO, TMDBServer

pytestmark = pytest.mark.timeout(300)

USER, GROUP = 9190919, -100919
HEAT = 6


@pytest.fixture(scope="module")
def tmdb():
    with TMDBServer() as running_server:
        yield running_server


@pytest.fixture
def make_bot(tmp_path: Path, server: BotAPIServer, tmdb, shared_cache, monkeypatch):
    """``make_bot(key=True)``: the bot over a fresh Reelpick (cosine-CF from the module's
    cache) with its data, state and catalogue under this test's folder."""

    def make(key: bool = True):
        from reelpick.bot.app import build_application

        if key:
            monkeypatch.setenv("TMDB_API_KEY", API_KEY)
        else:
            monkeypatch.delenv("TMDB_API_KEY", raising=False)
        folder = tmp_path / "config"
        folder.mkdir(exist_ok=True)
        config = write_config(
            folder,
            f'[data]\nsource = "{ML_SMALL}"\ndir = "{tmp_path / "data"}"\n'
            f'[cache]\ndir = "{shared_cache}"\n[plugins]\nenabled = ["cosine-cf"]\n'
            f'[posters]\ndir = "{POSTERS}"\napi_url = "{tmdb.api_url}"\ntimeout = 2.0\n'
            "retries = 1\nrequests_per_second = 0\n"
            f'[state]\ndir = "{tmp_path / "state"}"\n'
            f'[bot]\nbase_url = "{server.base_url}"\nbase_file_url = "{server.base_file_url}"\n'
            "max_messages_per_chat_second = 0\nmessages_per_user_minute = 0\n",
        )
        return build_application(config, Reelpick.open(config))

    return make


def sent_texts(server: BotAPIServer, chat_id: int) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in server.sent(chat_id)]


async def press(server: BotAPIServer, chat_id: int, message_id: int, data: str, **kw) -> str:
    query_id = server.push_callback(chat_id, message_id, data, **kw)
    await server.wait_for(lambda: server.callback_queries[query_id]["answered"] is not None)
    return server.callback_queries[query_id]["answered"].get("text", "")


async def test_title_candidates_card_albums_watch_later_restart_watchlist(server, make_bot):
    dune_two = catalogue_id(DUNE_PART_TWO)
    async with running(make_bot()):
        server.push_text(USER, "Dune")
        question = await server.wait_for(
            lambda: next((r for r in server.calls("sendMessage", USER) if buttons(r.params)), None),
            timeout=30,
        )
        choices = dict(buttons(question.params))
        assert choices["🌐 Dune: Part Two (2024)"] == f"tmdb:{DUNE_PART_TWO}"
        assert "Dune (1984)" in choices  # the dataset's own Dune stays offered
        await press(server, USER, question.result["message_id"], f"tmdb:{DUNE_PART_TWO}")
        card = await server.wait_for(
            lambda: next(
                (r for r in server.calls("sendMessage", USER) if "Villeneuve" in r.params["text"]),
                None,
            ),
            timeout=30,
        )
        text = card.params["text"]
        assert "Dune: Part Two (2024)" in text and "Timothée Chalamet" in text
        assert "Streaming data: JustWatch" in text and "Where to watch in US" in text
        # Albums (or one line per plugin that cannot answer for a new movie) follow the card.
        await server.wait_for(
            lambda: any("cosine" in t.lower() for t in sent_texts(server, USER)), timeout=30
        )
        data = dict(buttons(card.params))["🔖 Watch later"]
        assert data == f"wl:a:{dune_two}"
        assert "Added" in await press(server, USER, card.result["message_id"], data)
        server.push_command(USER, "settings")  # a chat without settings: no crash, defaults
        await server.wait_for(lambda: any("Region: US" in t for t in sent_texts(server, USER)))
    # A restart: the catalogue movie and the watchlist are read back from their files.
    async with running(make_bot(key=False)):
        server.push_command(USER, "watchlist")
        view = await server.wait_for(
            lambda: next(
                (r for r in server.calls("sendMessage", USER) if "watchlist" in r.params["text"]),
                None,
            ),
            timeout=30,
        )
        server.push_command(USER, "export")
        [sent] = await server.wait_for(lambda: server.calls("sendDocument", USER), timeout=30)
    assert "1. Dune: Part Two (2024)" in view.params["text"]
    rows = sent.params["document"].decode().splitlines()
    assert rows[1].endswith(f",Dune: Part Two,2024,,{dune_two}")  # a catalogue movie, named


async def test_a_title_only_tmdb_knows_is_added_and_carded_at_once(server, make_bot):
    async with running(make_bot()):
        server.push_text(USER, "Saltwater Atlas", language_code="de")
        card = await server.wait_for(
            lambda: next(
                (r for r in server.calls("sendMessage", USER) if "Okafor" in r.params["text"]),
                None,
            ),
            timeout=30,
        )
        # Forged candidate data: an id TMDB does not know, or no id at all.
        message_id = card.result["message_id"]
        for forged in ("tmdb:987654321", "tmdb:0", "tmdb:x"):
            assert await press(server, USER, message_id, forged) == "That button is out of date."
    text = card.params["text"]
    assert "Salzwasser-Atlas (2025)" in text  # TMDB's German title for a German client
    assert "📺 Wo läuft er in DE:" in text  # a German client in Germany, by default
    assert card.params.get("link_preview_options")  # the poster as the preview


async def test_a_new_film_gets_content_albums_and_its_stars_rate_it(
    server, tmdb, tmp_path, ml_small, monkeypatch
):
    """A title only TMDB knows -> card -> the hybrid's album: it places the new film by its
    genres and year without a refit, as ``reelpick similar`` does; cosine-CF, which only
    knows rated movies, says "no ratings yet" in one line."""
    from reelpick.bot.app import build_application

    monkeypatch.setenv("TMDB_API_KEY", API_KEY)
    hybrid = hybrid_table()
    config = write_config(
        tmp_path,
        f'[data]\nsource = "{ML_SMALL}"\ndir = "{tmp_path / "data"}"\n'
        f'[cache]\ndir = "{tmp_path / "cache"}"\n'
        f'[plugins]\nenabled = ["cosine-cf", "hybrid"]\n[plugins.hybrid]\n{hybrid}'
        f'[posters]\ndir = "{POSTERS}"\napi_url = "{tmdb.api_url}"\ntimeout = 2.0\n'
        "retries = 1\nrequests_per_second = 0\n"
        f'[state]\ndir = "{tmp_path / "state"}"\n'
        f'[bot]\nbase_url = "{server.base_url}"\nbase_file_url = "{server.base_file_url}"\n'
        "max_messages_per_chat_second = 0\nmessages_per_user_minute = 0\n",
    )
    dataset = small_dataset(ml_small, 300)
    registry = Registry(config, load_entry_points=False)
    assert registry.fit(dataset) == {"cosine-cf": None, "hybrid": None}
    async with running(build_application(config, Reelpick(config, dataset, registry))):
        server.push_text(USER, "Saltwater Atlas")
        [album] = await server.wait_for(lambda: server.calls("sendMediaGroup", USER), timeout=60)
        texts = sent_texts(server, USER)
        card = next(r for r in server.calls("sendMessage", USER) if "Okafor" in r.params["text"])
        # The card's stars rate the new film, as they rate a dataset movie.
        star = next(d for _, d in buttons(card.params) if d.startswith("rate:5:"))
        rated = await press(server, USER, card.result["message_id"], star)
        server.push_command(USER, "myratings")
        mine = await server.wait_for(
            lambda: next((t for t in sent_texts(server, USER) if "Top rated" in t), None)
        )
    header = album_captions(album)[0].split("\n")[0]
    assert header.startswith("<b>Hybrid") and header.endswith("like Saltwater Atlas (2025)"), header
    titles = album_captions(album)[0].split("\n")[1:]
    assert len(titles) == len(album_media(album)) >= 3, titles  # a poster per title
    assert any(
        t.startswith("cosine-CF has no suggestions") and "no ratings yet" in t for t in texts
    )
    assert not any("had a problem" in t for t in texts), texts
    assert "Saltwater Atlas (2025)" in rated, rated
    assert "★5 Saltwater Atlas (2025)" in mine, mine


async def test_without_tmdb_the_card_is_the_datasets_with_one_line_more(server, make_bot):
    async with running(make_bot(key=False)):
        server.push_text(USER, "Heat 1995")
        card = await server.wait_for(lambda: server.calls("sendMessage", USER), timeout=30)
        [album] = await server.wait_for(lambda: server.calls("sendMediaGroup", USER), timeout=30)
    # Every title of an album links to "watch later" (a /start deep link to the bot).
    lines = album_captions(album)[0].split("\n")[1:]
    assert lines and all("?start=wl_" in line and "🔖</a>" in line for line in lines)
    caption = card[0].params["text"]
    assert caption.startswith("<b>Heat (1995)</b>")
    assert "Action · Crime · Thriller" in caption and "tt0113277" in caption
    assert "With a TMDB key I would also show" in caption
    assert ("🔖 Watch later", f"wl:a:{HEAT}") in buttons(card[0].params)


async def test_settings_language_region_and_services(server, make_bot):
    async with running(make_bot()):
        server.push_command(GROUP, "settings", user_id=USER)
        view = await server.wait_for(
            lambda: next(iter(server.calls("sendMessage", GROUP)), None), timeout=30
        )
        message_id = view.result["message_id"]
        server.set_admins(GROUP, [USER])
        await press(server, GROUP, message_id, "set:l:de", user_id=USER)
        await press(server, GROUP, message_id, "set:r:de", user_id=USER)
        await server.wait_for(
            lambda: (
                "Region: DE" in server.chats[GROUP].messages[message_id]["text"]
                or "Region: DE" in str(server.chats[GROUP].messages[message_id])
            )
        )
        await press(server, GROUP, message_id, "set:s:0", user_id=USER)
        await server.wait_for(lambda: "WOW" in str(server.chats[GROUP].messages[message_id]))
        page = dict(
            (label, data)
            for row in server.chats[GROUP].messages[message_id]["reply_markup"]["inline_keyboard"]
            for label, data in [(b["text"], b.get("callback_data")) for b in row]
        )
        await press(server, GROUP, message_id, page["⬜ Netflix"], user_id=USER)
        stale = translator("de")(STALE)  # the chat speaks German now
        assert await press(server, GROUP, message_id, "set:t:999", user_id=USER) == stale
        # The chat's language now applies to whoever writes there, whatever their client says.
        server.push_command(GROUP, "watchlist", user_id=USER, language_code="en")
        await server.wait_for(lambda: len(server.calls("sendMessage", GROUP)) >= 2)
    reply = server.calls("sendMessage", GROUP)[-1].result["text"]
    assert reply.startswith("Deine Merkliste ist persönlich")
