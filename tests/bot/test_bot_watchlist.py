"""The watchlist in the bot over the Bot API stand-in: "watch later" presses (forged data
answered politely), /watchlist with remove and page buttons, watchlist files imported
instead of ratings, deep links, and /forget and /export covering it."""

from __future__ import annotations

import csv
import io
import json

import pytest

from reelpick.bot.services import SERVICES
from reelpick.profiles import ProfileStore
from reelpick.watchlist import WatchlistStore
from tests.support.bot_api import BotAPIServer, album_captions, buttons, running

pytestmark = pytest.mark.timeout(240)

USER, OTHER, GROUP = 8180818, 4545, -100777
HEAT, TOY_STORY, MATRIX = 6, 1, 2571


@pytest.fixture
def application(bot_config, tmp_path, reelpick_app):
    from reelpick.bot.app import build_application

    config = bot_config(f'profiles_db = "{tmp_path / "people" / "profiles.db"}"\n')
    return build_application(config, reelpick_app)


def services_of(application):
    return application.bot_data[SERVICES]


def reopened(s) -> WatchlistStore:
    """The watchlist file as a fresh process sees it (the bot closed its store)."""
    return WatchlistStore(s.watchlist.path)


def texts(server: BotAPIServer, chat_id: int) -> list[str]:
    return [r.result["text"] for r in server.calls("sendMessage", chat_id) if r.ok]


async def press(server: BotAPIServer, chat_id: int, message_id: int, data: str, **kw) -> str:
    query_id = server.push_callback(chat_id, message_id, data, **kw)
    await server.wait_for(lambda: server.callback_queries[query_id]["answered"] is not None)
    return server.callback_queries[query_id]["answered"].get("text", "")


async def test_watch_later_presses_add_to_the_pressers_own_list(server, application):
    s = services_of(application)
    async with running(application):
        server.push_command(GROUP, "help", user_id=OTHER)
        [sent] = await server.wait_for(lambda: server.calls("sendMessage", GROUP))
        message_id = sent.result["message_id"]
        assert "Added to your watchlist: Heat (1995)" in await press(
            server, GROUP, message_id, f"wl:a:{HEAT}", user_id=USER
        )
        assert "Already on" in await press(server, GROUP, message_id, f"wl:a:{HEAT}", user_id=USER)
        for forged in ("wl:a:999999999", "wl:a:0", "wl:a:-6", "wl:a:6:1", "wl:x", "wl:r:6"):
            assert await press(server, GROUP, message_id, forged, user_id=USER) == (
                "That button is out of date."
            )
        # A remove press from a group message never touches a list.
        assert "out of date" in await press(
            server, GROUP, message_id, f"wl:r:{HEAT}:0", user_id=USER
        )
    assert reopened(s).movies(f"tg:{USER}") == {HEAT}
    assert reopened(s).movies(f"tg:{OTHER}") == set()


async def test_watchlist_pages_and_removes(server, application):
    s = services_of(application)
    ids = [int(m) for m in s.reelpick.dataset.movies.index[:11]]
    for movie_id in ids:
        s.watchlist.add(f"tg:{USER}", movie_id)
    async with running(application):
        server.push_command(GROUP, "watchlist", user_id=USER)
        await server.wait_for(lambda: texts(server, GROUP))
        server.push_command(USER, "watchlist")
        [view] = await server.wait_for(
            lambda: [r for r in server.calls("sendMessage", USER) if buttons(r.params)]
        )
        shown = buttons(view.params)
        assert view.result["text"].startswith("Your watchlist: 11 movies · page 1 of 2")
        assert len([b for b in shown if b[0].startswith("✖")]) == 8
        assert shown[-1] == ("▶", "wl:p:1")
        message_id = view.result["message_id"]
        await press(server, USER, message_id, "wl:p:1")
        await server.wait_for(
            lambda: "page 2 of 2" in server.chats[USER].messages[message_id]["text"]
        )
        last = ids[0]  # the oldest is on the last page
        assert "Removed" in await press(server, USER, message_id, f"wl:r:{last}:1")
        assert "Not on your watchlist" in await press(server, USER, message_id, f"wl:r:{last}:1")
    assert "private chat" in texts(server, GROUP)[0]
    assert reopened(s).count(f"tg:{USER}") == 10 and last not in reopened(s).movies(f"tg:{USER}")


LETTERBOXD_WATCHLIST = (
    "Date,Name,Year,Letterboxd URI\n"
    "2024-01-31,Heat,1995,https://boxd.it/29YU\n"
    "2024-02-01,The Matrix,1999,https://boxd.it/2bcA\n"
    "2024-02-02,Parasite,2019,https://boxd.it/hTha\n"
)


async def test_a_watchlist_file_fills_the_watchlist_not_the_ratings(server, application):
    s = services_of(application)
    async with running(application):
        server.push_document(USER, "watchlist.csv", LETTERBOXD_WATCHLIST.encode())
        [report] = await server.wait_for(lambda: texts(server, USER), timeout=20)
        # A rating file with the same columns still goes to the rating import.
        server.push_document(
            USER, "watched.csv", b"Date,Name,Year,Letterboxd URI\n2024-01-31,Heat,1995,x\n"
        )
        await server.wait_for(lambda: len(texts(server, USER)) >= 2, timeout=20)
        server.push_command(USER, "start", "wl_" + str(TOY_STORY))
        await server.wait_for(lambda: len(texts(server, USER)) >= 3)
    assert report.startswith("watchlist.csv: 2 of 3 movies found, 2 new on your watchlist.")
    assert "Row 4: Parasite (2019)" in report
    assert reopened(s).movies(f"tg:{USER}") == {HEAT, MATRIX, TOY_STORY}
    with ProfileStore(s.profiles.path) as profiles:  # seen, from watched.csv
        assert [e.movie_id for e in profiles.entries(f"tg:{USER}")] == [HEAT]
    assert texts(server, USER)[2] == "Added to your watchlist: Toy Story (1995)"


async def test_export_and_forget_cover_the_watchlist(server, application):
    s = services_of(application)
    s.watchlist.add(f"tg:{USER}", HEAT)
    s.watchlist.add(f"tg:{OTHER}", MATRIX)
    async with running(application):
        server.push_command(USER, "export")
        [sent] = await server.wait_for(lambda: server.calls("sendDocument", USER))
        server.push_command(USER, "forget")
        ask = await server.wait_for(
            lambda: next((r for r in server.calls("sendMessage", USER) if buttons(r.params)), None)
        )
        assert "Your watchlist (1 movie) goes too." in ask.result["text"]
        delete = dict(buttons(ask.params))["Delete everything"]
        server.push_callback(USER, ask.result["message_id"], delete)
        await server.wait_for(
            lambda: server.chats[USER].messages[ask.result["message_id"]]["text"].startswith("Done")
        )
        done = server.chats[USER].messages[ask.result["message_id"]]["text"]
    assert sent.params["document_file_name"] == "watchlist-reelpick.csv"
    rows = list(csv.DictReader(io.StringIO(sent.params["document"].decode())))
    assert [(r["Name"], r["Year"], r["movieId"]) for r in rows] == [("Heat", "1995", str(HEAT))]
    assert "And your watchlist of 1 movie." in done
    assert reopened(s).count(f"tg:{USER}") == 0 and reopened(s).count(f"tg:{OTHER}") == 1
    data = s.watchlist.path.read_bytes()
    assert f"tg:{USER}".encode() not in data


async def test_inline_results_carry_watch_later(server, application):
    async with running(application):
        query_id = server.push_inline_query(USER, "heat")
        answer = await server.wait_for(lambda: server.inline_queries[query_id]["answered"])
    first = answer["results"][0]
    assert first["title"] == "Heat (1995)"
    markup = first["reply_markup"]
    markup = markup if isinstance(markup, dict) else json.loads(markup)
    [[button]] = markup["inline_keyboard"]
    assert (button["text"], button["callback_data"]) == ("🔖 Watch later", f"wl:a:{HEAT}")


async def test_forme_marks_picks_on_the_watchlist(server, application):
    s = services_of(application)
    owner = f"tg:{USER}"
    s.profiles.rate(owner, HEAT, 5.0)
    s.profiles.rate(owner, MATRIX, 4.5)
    everything = [int(m) for m in s.reelpick.dataset.movies.index if int(m) not in (HEAT, MATRIX)]
    s.watchlist.add_many(owner, [(m, None) for m in everything[:15_000]])
    async with running(application):
        server.push_command(USER, "forme")
        picks = await server.wait_for(
            lambda: [
                c
                for r in server.calls("sendMediaGroup", USER)
                for c in album_captions(r)
                if c.startswith("<b>Picks</b>")
            ],
            timeout=60,
        )
    lines = picks[0].split("\n")[1:]
    assert lines and all("🔖" in line for line in lines if line != "…")
