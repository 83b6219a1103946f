"""Personal recommendations in the bot (/rate, /forme, /myratings, /forget, CSV imports), driven
as a person would drive them, against the Bot API test server.

The recommender is :class:`tests.support.profile_plugins.GenreFan` on the real ml-latest-small: small,
deterministic, and independent of how the built-in plugins recommend.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from reelpick.app import Reelpick
from reelpick.bot.app import build_application
from reelpick.bot.services import SERVICES
from reelpick.data import Dataset
from reelpick.profiles import ProfileStore
from reelpick.registry import Registry
from tests.support.bot_api import BOT_USERNAME, BotAPIServer, album_captions, buttons, running
from tests.support.fixtures import ML_SMALL, POSTERS, write_config
from tests.support.profile_plugins import Clueless, GenreFan, Grumpy, Sleepy

pytestmark = pytest.mark.timeout(60)

USER = 4242
OTHER = 4343
GROUP = -100556
HEAT, TOY_STORY, RONIN = 6, 1, 2278  # ml-latest-small movieIds


def open_app(folder: Path, plugins: dict[str, object]) -> Reelpick:
    folder.mkdir(parents=True, exist_ok=True)
    config = write_config(
        folder,
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{folder / "cache"}"\n'
        "[plugins]\nenabled = [" + ", ".join(f'"{n}"' for n in plugins) + "]\n",
    )
    registry = Registry(config, load_entry_points=False)
    for name, plugin in plugins.items():
        registry.register(plugin, name)
    from reelpick.data import load_dataset

    registry.fit(load_dataset(ML_SMALL))
    return Reelpick(config, registry.dataset, registry)


@pytest.fixture(scope="module")
def profile_app(tmp_path_factory: pytest.TempPathFactory) -> Reelpick:
    return open_app(tmp_path_factory.mktemp("profiles-app"), {"genre-fan": GenreFan()})


@pytest.fixture
def bot_config(tmp_path: Path, server: BotAPIServer):
    def make(extra: str = ""):
        return write_config(
            tmp_path,
            f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{tmp_path / "cache"}"\n'
            f'[posters]\ndir = "{POSTERS}"\n'
            f'[bot]\nbase_url = "{server.base_url}"\nbase_file_url = "{server.base_file_url}"\n'
            "max_messages_per_chat_second = 0\n" + extra,
        )

    return make


def store_of(application):
    return application.bot_data[SERVICES].profiles


def questions(server: BotAPIServer, chat_id: int) -> list:
    """The /rate questions sent to ``chat_id``: photos with rating buttons."""
    return [
        r
        for r in server.calls("sendPhoto", chat_id)
        if r.ok and any(d.startswith("rate:") for _, d in buttons(r.params))
    ]


def movie_of(request) -> int:
    return int(buttons(request.params)[0][1].split(":")[2])


def data_of(request, text: str) -> str:
    return dict(buttons(request.params))[text]


def press(server: BotAPIServer, chat_id: int, message_id: int, data: str, user_id: int) -> str:
    """A callback query as any client can send it: ``data`` need not be on the message."""
    with server._lock:
        message = server.chats[chat_id].messages[message_id]
        query_id = str(4_100_000_000 + len(server.callback_queries))
        server.callback_queries[query_id] = {"answered": None}
    server.push_update(
        {
            "callback_query": {
                "id": query_id,
                "from": server.user(user_id),
                "message": message,
                "chat_instance": "1",
                "data": data,
            }
        }
    )
    return query_id


async def answered(server: BotAPIServer, query_id: str) -> dict:
    return await server.wait_for(lambda: server.callback_queries[query_id]["answered"])


def texts(server: BotAPIServer, chat_id: int) -> list[str]:
    """Texts sent to ``chat_id`` as the person sees them (HTML tags applied)."""
    return [r.result["text"] for r in server.calls("sendMessage", chat_id) if r.ok]


def album_headings(server: BotAPIServer, chat_id: int) -> list[str]:
    return [album_captions(r)[0] for r in server.calls("sendMediaGroup", chat_id) if r.ok]


# -- /rate ------------------------------------------------------------------------------------
async def test_rate_records_each_tap_and_asks_something_new(server, bot_config, profile_app):
    application = build_application(bot_config(), profile_app)
    store = store_of(application)
    async with running(application):
        server.push_command(USER, "rate")
        first = (await server.wait_for(lambda: questions(server, USER)))[0]
        assert first.params["parse_mode"] == "HTML"
        caption = first.result["caption"]
        assert profile_app.dataset.label(movie_of(first)) in caption
        labels = [t for t, _ in buttons(first.params)]
        assert labels == ["★1", "★2", "★3", "★4", "★5", "Seen it", "Not interested", "Skip"]

        asked = [movie_of(first)]
        choices = ["★5", "Skip", "Seen it", "Not interested", "★2"]
        for n, choice in enumerate(choices, start=1):
            current = questions(server, USER)[-1]
            query = server.push_callback(
                USER, current.result["message_id"], data_of(current, choice)
            )
            assert (await answered(server, query)).get("text")
            await server.wait_for(lambda n=n: len(questions(server, USER)) == n + 1)
            asked.append(movie_of(questions(server, USER)[-1]))
        assert len(set(asked)) == len(asked)  # never the same movie twice, skipped ones included

        profile = store.profile(f"tg:{USER}")
        assert dict(profile.ratings) == {asked[0]: 5.0, asked[4]: 2.0}
        assert profile.seen == {asked[2]} and profile.not_interested == {asked[3]}
        assert asked[1] not in profile.movies  # skipped: nothing stored
        # The answered question shows the choice and keeps its buttons (to correct a slip).
        kept = server.chats[USER].messages[first.result["message_id"]]
        assert "✓ ★5" in [t for t, _ in buttons(kept)]

        # Correcting an earlier answer changes it and asks nothing more.
        before = len(questions(server, USER))
        query = server.push_callback(USER, first.result["message_id"], data_of(first, "★4"))
        await answered(server, query)
        await server.wait_for(lambda: store.profile(f"tg:{USER}").ratings.get(asked[0]) == 4.0)
        assert len(questions(server, USER)) == before


async def test_forged_rating_buttons_change_nothing(server, bot_config, profile_app):
    application = build_application(bot_config(), profile_app)
    store = store_of(application)
    async with running(application):
        server.push_command(USER, "rate")
        question = (await server.wait_for(lambda: questions(server, USER)))[0]
        message_id, movie = question.result["message_id"], movie_of(question)
        forged = [
            (f"rate:5:{movie}:{USER}", OTHER),  # someone else presses the button
            (f"rate:5:{movie}:{OTHER}", OTHER),  # ... with data naming themselves
            (f"rate:5:{movie}:{OTHER}", USER),  # the owner, with another person's data
            (f"rate:5:999999999:{USER}", USER),  # a movie the catalogue lacks
            (f"rate:9:{movie}:{USER}", USER),  # junk
            (f"rate:5:{movie}:{USER}:x", USER),
            (f"rate:5:0{movie}:{USER}", USER),
            ("rate:", USER),
            ("rate:5:6:" + "9" * 40, USER),
        ]
        for data, user in forged:
            query = press(server, USER, message_id, data, user)
            note = await answered(server, query)
            assert note["text"] in (
                "These buttons are for someone else.",
                "I don't know that movie.",
                "That button is out of date.",
            ), data
        assert len(store.profile(f"tg:{USER}")) == 0
        assert len(store.profile(f"tg:{OTHER}")) == 0
        assert len(questions(server, USER)) == 1  # no question was moved on
        assert server.chats[USER].messages[message_id].get("edit_date") is None


async def test_single_movie_answers_carry_rating_buttons_in_private_only(
    server, bot_config, profile_app
):
    application = build_application(bot_config(), profile_app)
    store = store_of(application)
    async with running(application):
        server.push_text(USER, "Heat")
        header = (
            await server.wait_for(
                lambda: [r for r in server.calls("sendMessage", USER) if "Heat" in r.params["text"]]
            )
        )[0]
        labels = [t for t, _ in buttons(header.params)]
        assert labels == ["★1", "★2", "★3", "★4", "★5", "Seen it", "Not interested"] + [
            "🔖 Watch later"
        ]
        query = server.push_callback(USER, header.result["message_id"], data_of(header, "★4"))
        assert "Heat (1995)" in (await answered(server, query))["text"]
        assert dict(store.profile(f"tg:{USER}").ratings) == {HEAT: 4.0}
        assert not questions(server, USER)  # an answer's buttons start no /rate session

        server.push_text(GROUP, f"@{BOT_USERNAME} Heat", user_id=USER)
        group_header = (
            await server.wait_for(
                lambda: [
                    r for r in server.calls("sendMessage", GROUP) if "Heat" in r.params["text"]
                ]
            )
        )[0]
        # No rating buttons in a group: only "watch later", for whoever presses it.
        assert [label for label, _ in buttons(group_header.params)] == ["🔖 Watch later"]


async def test_rate_in_a_group_points_to_the_private_chat(server, bot_config, profile_app):
    async with running(build_application(bot_config(), profile_app)):
        server.push_command(GROUP, "rate", user_id=USER)
        [reply] = await server.wait_for(lambda: server.calls("sendMessage", GROUP))
        [(_, url)] = buttons(reply.params)
        assert url == f"https://t.me/{BOT_USERNAME}?start=rate"
        assert not questions(server, GROUP)
        # The link opens the private chat with "/start rate": the first question comes.
        server.push_command(USER, "start", "rate")
        await server.wait_for(lambda: questions(server, USER))
        assert not any("Hi!" in t for t in texts(server, USER))


# -- /forme -----------------------------------------------------------------------------------
async def test_forme_albums_and_picks_say_why(server, bot_config, profile_app):
    application = build_application(bot_config(), profile_app)
    store = store_of(application)
    store.rate(f"tg:{USER}", HEAT, 5)
    store.rate(f"tg:{USER}", TOY_STORY, 4.5)
    store.rate(f"tg:{USER}", RONIN, 2)
    async with running(application):
        server.push_command(USER, "forme")
        await server.wait_for(lambda: len(album_headings(server, USER)) == 2)
    assert texts(server, USER)[0].startswith("Picks for you, from your 3 ratings")
    plugin_album, picks_album = [r for r in server.calls("sendMediaGroup", USER) if r.ok]
    heading = plugin_album.result[0]["caption"].split("\n")
    assert heading[0] == "Genre fan · for you"
    assert len(heading) == 1 + 5  # k from the chat settings (config default 5)
    picks = picks_album.result[0]["caption"].split("\n")
    assert picks[0] == "Picks · all recommenders together"
    assert any("because you liked Heat" in line for line in picks[1:])
    assert any("because you liked Toy Story" in line for line in picks[1:])
    shown = {profile_app.dataset.label(m) for m in (HEAT, TOY_STORY, RONIN)}
    assert not any(label in line for line in picks[1:] + heading[1:] for label in shown)


async def test_forme_with_an_empty_profile_suggests_starting_points(
    server, bot_config, profile_app
):
    async with running(build_application(bot_config(), profile_app)):
        server.push_command(USER, "forme")
        await server.wait_for(lambda: album_headings(server, USER))
    [note] = texts(server, USER)
    assert note.startswith("I don't know your taste yet.") and "/rate" in note
    [album] = [r for r in server.calls("sendMediaGroup", USER) if r.ok]
    lines = album.result[0]["caption"].split("\n")
    assert lines[0] == "Well-liked · to start with" and len(lines) == 6
    genres = {
        profile_app.dataset.movies.loc[int(m)]["genres"][0]
        for m in [movie for movie in _album_movies(profile_app.dataset, lines[1:])]
    }
    assert len(genres) >= 4  # varied, not five dramas


def _album_movies(dataset: Dataset, lines: list[str]) -> list[int]:
    labels = {dataset.label(int(m)): int(m) for m in dataset.movies.index}
    return [labels[line.split(". ", 1)[1]] for line in lines]


async def test_forme_failing_plugins_get_one_line_each(server, bot_config, tmp_path, caplog):
    app = open_app(
        tmp_path / "failing",
        {"grumpy": Grumpy(), "genre-fan": GenreFan(), "clueless": Clueless(), "sleepy": Sleepy()},
    )
    application = build_application(bot_config("plugin_timeout = 0.5\n"), app)
    store_of(application).rate(f"tg:{USER}", HEAT, 5)
    caplog.set_level(logging.INFO)
    async with running(application):
        server.push_command(USER, "forme")
        await server.wait_for(lambda: len(album_headings(server, USER)) == 2, timeout=15)
    sent = [
        r.params.get("text") or album_captions(r)[0].split("\n")[0]
        for r in server.requests
        if r.chat_id == USER and r.ok and r.method in ("sendMessage", "sendMediaGroup")
    ]
    assert sent[1:] == [
        "Grumpy could not make picks for you just now.",
        "<b>Genre fan</b> · for you",
        "Clueless has no picks for you: none of your movies are in my index.",
        "Sleepy could not make picks for you just now.",
        "<b>Picks</b> · all recommenders together",
    ]
    assert "secret internals" not in json.dumps([r.params for r in server.requests], default=str)
    assert "secret internals" in caplog.text  # logged with its traceback


# -- /myratings and /forget ---------------------------------------------------------------------
async def test_myratings_sends_a_summary_and_a_csv(server, bot_config, profile_app):
    application = build_application(bot_config(), profile_app)
    store = store_of(application)
    store.rate(f"tg:{USER}", HEAT, 4.5)
    store.rate(f"tg:{USER}", TOY_STORY, 3)
    store.mark_seen(f"tg:{USER}", RONIN)
    store.rate(f"tg:{OTHER}", RONIN, 1)  # someone else's: never in USER's file
    async with running(application):
        server.push_command(USER, "myratings")
        [sent] = await server.wait_for(lambda: server.calls("sendDocument", USER))
    summary = texts(server, USER)[0]
    assert "Rated: 2 (average ★3.8)" in summary and "Seen, no rating: 1" in summary
    assert summary.index("Heat (1995)") < summary.index("Toy Story (1995)")
    assert sent.params["document_file_name"] == "reelpick-ratings.csv"
    assert sent.result["document"]["file_name"] == "reelpick-ratings.csv"
    rows = list(csv.DictReader(io.StringIO(sent.params["document"].decode())))
    assert [(r["movieId"], r["state"], r["rating"]) for r in rows] == [
        ("1", "rating", "3"),
        ("6", "rating", "4.5"),
        (str(RONIN), "seen", ""),
    ]
    assert rows[1]["title"] == "Heat" and rows[1]["year"] == "1995"


async def test_forget_needs_a_confirmation_that_works_once(server, bot_config, profile_app):
    application = build_application(bot_config(), profile_app)
    store = store_of(application)
    store.rate(f"tg:{USER}", HEAT, 5)
    store.rate(f"tg:{OTHER}", HEAT, 1)
    async with running(application):
        server.push_command(USER, "forget")
        [ask] = await server.wait_for(
            lambda: [r for r in server.calls("sendMessage", USER) if buttons(r.params)]
        )
        message_id, delete = ask.result["message_id"], data_of(ask, "Delete everything")
        query = press(server, USER, message_id, delete, OTHER)  # not theirs
        assert (await answered(server, query))["text"] == "These buttons are for someone else."
        assert len(store.profile(f"tg:{USER}")) == 1

        query = server.push_callback(USER, message_id, delete)
        assert (await answered(server, query))["text"].startswith("Done")
        assert len(store.profile(f"tg:{USER}")) == 0
        # The bot answers the press first, then edits the message: wait for the edit.
        await server.wait_for(
            lambda: server.chats[USER].messages[message_id]["text"].startswith("Done")
        )

        store.rate(f"tg:{USER}", RONIN, 4)  # rated after the confirmation
        query = press(server, USER, message_id, delete, USER)  # the same press again
        assert (await answered(server, query))["text"] == "That button is out of date."
        assert dict(store.profile(f"tg:{USER}").ratings) == {RONIN: 4.0}
        assert dict(store.profile(f"tg:{OTHER}").ratings) == {HEAT: 1.0}


# -- imports ------------------------------------------------------------------------------------
LETTERBOXD = """Date,Name,Year,Letterboxd URI,Rating
2023-01-02,Heat,1995,https://boxd.it/2bf8,5
2023-01-03,Toy Story,1995,https://boxd.it/2a1m,3.5
2023-01-04,A Film Nobody Made,2031,https://boxd.it/zzzz,4
2023-01-05,Ronin,1998,https://boxd.it/2b0e,eleven
"""


async def test_letterboxd_csv_is_imported_and_unmatched_rows_are_listed(
    server, bot_config, profile_app
):
    application = build_application(bot_config(), profile_app)
    store = store_of(application)
    async with running(application):
        server.push_document(USER, "ratings.csv", LETTERBOXD.encode())
        [reply] = await server.wait_for(lambda: server.calls("sendMessage", USER), timeout=20)
    text = reply.result["text"]
    assert text.startswith("Imported ratings.csv (letterboxd): 2 of 4 rows matched a movie")
    assert "row 4: year '2031' is not a year" in text or "row 4: no movie titled" in text
    assert "row 5: rating 'eleven' is not a number" in text
    assert dict(ProfileStore(store.path).profile(f"tg:{USER}").ratings) == {
        HEAT: 5.0,
        TOY_STORY: 3.5,
    }
    assert len(server.calls("downloadFile")) == 1


async def test_files_that_are_not_rating_csvs_are_refused_in_one_line(
    server, bot_config, profile_app
):
    application = build_application(bot_config("max_import_mb = 0.01\n"), profile_app)
    store = store_of(application)
    big = LETTERBOXD + "2023-01-06,Heat,1995,https://boxd.it/2bf8,5\n" * 300  # ~17 kB
    cases = [
        ("poster.png", b"\x89PNG\r\n\x1a\n" + bytes(100), "image/png", True),
        ("export.zip", b"PK\x03\x04" + bytes(100), "application/zip", True),
        ("notes.pdf", b"%PDF-1.4", "application/pdf", True),
        ("ratings.csv", big.encode(), "text/csv", True),  # too big, said by file_size
        ("ratings.csv", big.encode(), "text/csv", False),  # too big, found on download
        ("people.csv", b"name,age\nAnn,3\n", "text/csv", True),  # wrong columns
        ("binary.csv", bytes(range(256)) * 4, "text/csv", True),
    ]
    async with running(application):
        for number, (name, data, mime, sized) in enumerate(cases, start=1):
            server.push_document(USER, name, data, mime, report_size=sized)
            await server.wait_for(lambda n=number: len(server.calls("sendMessage", USER)) == n)
    replies = texts(server, USER)
    # A picture is the photo feature's: it looks at it and finds no image it can open.
    assert replies[0].startswith("I can only read pictures")
    assert replies[1].startswith("Nothing stored: export.zip is a zip archive")
    assert "notes.pdf is neither" in replies[2]
    assert replies[3].startswith("Nothing stored: ratings.csv is")
    assert replies[3].endswith("an import takes at most 0.01 MB.")
    assert replies[4].startswith("Nothing stored: ratings.csv is")
    assert "limit for an import" in replies[4]
    assert replies[5].startswith("Nothing stored: people.csv has the columns 'name', 'age'")
    assert replies[6] == "Nothing stored: binary.csv is not a text file (it holds binary data)."
    assert all("\n" not in r for r in replies)
    # Only the three that could be CSV files of a fitting size were downloaded, and the
    # picture, by the photo feature.
    assert len(server.calls("getFile")) == 4
    assert len(ProfileStore(store.path).profile(f"tg:{USER}")) == 0


def test_get_file_refuses_files_over_20_mb_like_telegram(server):
    server.push_document(USER, "huge.csv", b"x" * (20 * 1024 * 1024 + 1))
    file_id = server.documents and next(iter(server.documents))
    request = urllib.request.Request(
        f"{server.base_url}{server.token}/getFile",
        data=json.dumps({"file_id": file_id}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert json.loads(refused.value.read())["description"] == "Bad Request: file is too big"
