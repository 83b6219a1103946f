"""People's data in the bot: /privacy says what is kept, /export hands all of it over as a
Letterboxd CSV, /forget leaves nothing behind, and imports run one per person at a time."""

from __future__ import annotations

import csv
import io
import threading

import pytest

from reelpick.bot.profiles import Profiles
from reelpick.bot.services import SERVICES
from tests.support.bot_api import BotAPIServer, buttons, running

pytestmark = pytest.mark.timeout(60)

USER = 7770777  # distinctive: searched for in the store's bytes
OTHER = 4343
GROUP = -100556
HEAT, TOY_STORY, RONIN = 6, 1, 2278  # ml-latest-small movieIds


@pytest.fixture
def application(bot_config, tmp_path, reelpick_app):
    from reelpick.bot.app import build_application

    config = bot_config(f'profiles_db = "{tmp_path / "people" / "profiles.db"}"\n')
    return build_application(config, reelpick_app)


def services_of(application):
    return application.bot_data[SERVICES]


def texts(server: BotAPIServer, chat_id: int) -> list[str]:
    return [r.result["text"] for r in server.calls("sendMessage", chat_id) if r.ok]


async def test_privacy_says_what_is_kept_and_is_in_the_menu(server, application):
    async with running(application):
        server.push_command(USER, "privacy")
        [text] = await server.wait_for(lambda: texts(server, USER))
        menu = await server.wait_for(lambda: server.calls("setMyCommands"))
    assert text.startswith("What I store, and for how long")
    assert "for 7 days after your last tap" in text
    assert "/export" in text and "/forget" in text
    listed = {c["command"] for c in _commands(menu[0].params)}
    assert {"privacy", "export", "forget"} <= listed


def _commands(params: dict) -> list[dict]:
    import json

    value = params["commands"]
    return json.loads(value) if isinstance(value, str) else value


async def test_export_sends_every_entry_as_a_letterboxd_csv(server, application):
    store = services_of(application).profiles
    store.rate(f"tg:{USER}", HEAT, 4.5)
    store.mark_seen(f"tg:{USER}", TOY_STORY)
    store.mark_not_interested(f"tg:{USER}", RONIN)
    store.rate(f"tg:{OTHER}", RONIN, 1)  # someone else's: never in USER's file
    async with running(application):
        server.push_command(GROUP, "export", user_id=USER)  # a group: pointed to private
        await server.wait_for(lambda: texts(server, GROUP))
        server.push_command(USER, "export")
        [sent] = await server.wait_for(lambda: server.calls("sendDocument", USER))
    assert "private chat" in texts(server, GROUP)[0]
    assert not server.calls("sendDocument", GROUP)
    assert sent.params["document_file_name"] == "reelpick-letterboxd.csv"
    rows = list(csv.DictReader(io.StringIO(sent.params["document"].decode())))
    assert [(r["movieId"], r["state"], r["Rating"], r["Tags"]) for r in rows] == [
        (str(TOY_STORY), "seen", "", ""),
        (str(HEAT), "rating", "4.5", ""),
        (str(RONIN), "not_interested", "", "not-interested"),
    ]
    assert (rows[1]["Title"], rows[1]["Year"], rows[1]["imdbID"]) == ("Heat", "1995", "tt0113277")


async def test_forget_leaves_no_trace(server, application, tmp_path):
    s = services_of(application)
    store = s.profiles
    owner = f"tg:{USER}".encode()
    for movie_id in list(s.reelpick.dataset.movies.index[:400]):
        store.rate(f"tg:{USER}", int(movie_id), 4.0)
        store.rate(f"tg:{OTHER}", int(movie_id), 2.0)
    queued = store.queue_import(f"tg:{USER}", USER, "file-1", "ratings.csv")
    store.attach_import_data(queued.id, b"Name,Year\nSECRET-TITLE-MARKER,1999\n")
    folder = store.path.parent

    def found(marker: bytes) -> list[str]:
        return [p.name for p in folder.iterdir() if p.is_file() and marker in p.read_bytes()]

    assert found(owner) and found(b"SECRET-TITLE-MARKER")  # the scan sees them before
    async with running(application):
        server.push_command(USER, "rate")
        await server.wait_for(lambda: server.calls("sendPhoto", USER), timeout=20)
        session_key = f"profiles-rate-session:{USER}"
        assert s.cache.get(session_key) is not None
        server.push_command(USER, "forget")
        ask = await server.wait_for(
            lambda: next((r for r in server.calls("sendMessage", USER) if buttons(r.params)), None)
        )
        delete = dict(buttons(ask.params))["Delete everything"]
        server.push_callback(USER, ask.result["message_id"], delete)
        await server.wait_for(
            lambda: server.chats[USER].messages[ask.result["message_id"]]["text"].startswith("Done")
        )
        # While the bot still runs: its connection open, the WAL file in place.
        assert found(owner) == [] and found(b"SECRET-TITLE-MARKER") == []
        assert s.cache.get(session_key) is None
        assert store.queued_imports() == []
        assert len(store.profile(f"tg:{OTHER}")) == 400  # nobody else's data is touched


LETTERBOXD = "Date,Name,Year,Letterboxd URI,Rating\n2023-01-02,Heat,1995,https://boxd.it/2bf8,5\n"


async def test_a_second_import_while_one_runs_gets_one_line(server, application):
    feature = services_of(application).features.get(Profiles)
    threads: list[str] = []
    run_import = feature.importer._import

    def recording(*args):
        threads.append(threading.current_thread().name)
        return run_import(*args)

    feature.importer._import = recording
    async with running(application):
        assert feature.importer.claim(f"tg:{USER}")  # an import of USER's is running
        server.push_document(USER, "ratings.csv", LETTERBOXD.encode())
        [busy] = await server.wait_for(lambda: texts(server, USER))
        assert busy == (
            "Your previous import is still running; send this file again once it is done."
        )
        assert services_of(application).profiles.queued_imports() == []
        feature.importer.release(f"tg:{USER}")
        server.push_document(USER, "ratings.csv", LETTERBOXD.encode())
        await server.wait_for(lambda: len(texts(server, USER)) == 2, timeout=20)
        store = services_of(application).profiles
        assert dict(store.profile(f"tg:{USER}").ratings) == {HEAT: 5.0}
        # Reported, so off the queue (dropped right after the report went out).
        await server.wait_for(lambda: store.queued_imports() == [])
    assert texts(server, USER)[1].startswith(
        "Imported ratings.csv (letterboxd): 1 of 1 row matched"
    )
    # Read and matched on the feature's own pool, not on the default executor.
    assert len(threads) == 1 and threads[0].startswith("import")


async def test_a_file_sent_as_the_last_report_goes_out_waits_for_its_turn() -> None:
    """An import's turn ends after its report is sent, so a file the person sends the moment
    that report arrives must wait the short rest of the turn, not be told 'still running'."""
    import asyncio

    from reelpick.bot.profiles.importer import Importer

    importer = Importer()
    assert importer.claim("tg:1")  # the previous import, sending its report
    asyncio.get_running_loop().call_later(0.2, importer.release, "tg:1")
    assert await importer.claim_soon("tg:1", within=3.0)
    # A turn that does not end in time: refused, so the person hears it at once.
    assert not await importer.claim_soon("tg:1", within=0.2)
