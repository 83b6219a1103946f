"""The Bot API test server answers like Telegram: shapes, limits, errors, long polling, polls."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import pytest
from telegram import Bot, InputMediaPhoto
from telegram.error import BadRequest, InvalidToken

from tests.support.bot_api import BOT_ID, BotAPIServer
from tests.support.fixtures import POSTERS

pytestmark = pytest.mark.timeout(60)

CHAT = 77


@pytest.fixture(autouse=True)
def _known_chat(server: BotAPIServer) -> None:
    """CHAT is known to the server (the conftest's ``server``), as after a user wrote to the bot."""
    server.chat(CHAT)


@pytest.fixture
async def bot(server):
    async with Bot(server.token, base_url=server.base_url, base_file_url=server.base_file_url) as b:
        yield b


def raw(
    server: BotAPIServer, method: str, params: dict, token: str | None = None
) -> tuple[int, dict]:
    """POST JSON as any HTTP client would; returns (status, body)."""
    url = f"http://127.0.0.1:{server.port}/bot{token or server.token}/{method}"
    request = urllib.request.Request(
        url, data=json.dumps(params).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def poster(movie_id: int = 1) -> bytes:
    return (POSTERS / f"{movie_id}.jpg").read_bytes()


def test_errors_have_telegrams_bodies(server):
    assert raw(server, "getMe", {}, token="123:nope") == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    assert raw(server, "sendMessage", {"chat_id": CHAT, "text": "x" * 4097}) == (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"},
    )
    status, body = raw(
        server, "sendMessage", {"chat_id": CHAT, "text": "<b>x", "parse_mode": "HTML"}
    )
    assert status == 400 and body["description"].startswith("Bad Request: can't parse entities: ")
    status, body = raw(server, "sendMessage", {"chat_id": 999, "text": "hi"})
    assert body["description"] == "Bad Request: chat not found"
    status, body = raw(server, "sendPhoto", {"chat_id": CHAT, "photo": "AgACnope"})
    assert body["description"] == "Bad Request: wrong file identifier/HTTP URL specified"
    status, body = raw(server, "noSuchMethod", {})
    assert (status, body["description"]) == (404, "Not Found")
    server.inject("sendMessage", "429", retry_after=7)
    assert raw(server, "sendMessage", {"chat_id": CHAT, "text": "hi"}) == (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        },
    )
    # Text within the limit after entity parsing is fine: 4096 visible characters.
    status, body = raw(
        server,
        "sendMessage",
        {"chat_id": CHAT, "text": "<b>" + "y" * 4096 + "</b>", "parse_mode": "HTML"},
    )
    assert status == 200 and body["result"]["entities"] == [
        {"offset": 0, "length": 4096, "type": "bold"}
    ]


async def test_albums_uploads_and_file_ids(server, bot):
    first = await bot.send_media_group(
        CHAT,
        [
            InputMediaPhoto(poster(1), caption="<b>one</b>", parse_mode="HTML"),
            InputMediaPhoto(poster(2)),
        ],
    )
    assert [m.message_id for m in first] == [1, 2]
    assert first[0].media_group_id == first[1].media_group_id
    assert first[0].caption == "one" and first[0].caption_entities[0].type == "bold"
    sizes = first[0].photo
    assert len(sizes) >= 2 and sizes[-1].width == 185 and sizes[-1].height == 278
    assert len({s.file_id for s in sizes}) == len(sizes)
    assert len(server.calls("sendMediaGroup")[0].files) == 2

    again = await bot.send_media_group(
        CHAT, [InputMediaPhoto(sizes[-1].file_id), InputMediaPhoto(first[1].photo[0].file_id)]
    )
    assert again[0].photo[-1].file_unique_id == sizes[-1].file_unique_id
    assert not server.calls("sendMediaGroup")[1].files

    with pytest.raises(BadRequest, match="(?i)too many messages to send as an album"):
        await bot.send_media_group(CHAT, [InputMediaPhoto(sizes[-1].file_id)] * 11)
    with pytest.raises(BadRequest, match="(?i)at least 2"):
        await bot.send_media_group(CHAT, [InputMediaPhoto(sizes[-1].file_id)])
    with pytest.raises(BadRequest, match="(?i)message caption is too long"):
        await bot.send_media_group(
            CHAT,
            [
                InputMediaPhoto(sizes[-1].file_id, caption="c" * 1025),
                InputMediaPhoto(sizes[-1].file_id),
            ],
        )
    with pytest.raises(BadRequest, match="(?i)wrong file identifier"):
        await bot.send_media_group(
            CHAT, [InputMediaPhoto("AgACfake"), InputMediaPhoto(sizes[-1].file_id)]
        )
    with pytest.raises(BadRequest, match="(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(CHAT, b"not an image at all")
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_photo(CHAT, sizes[-1].file_id, caption="<i>open", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)can't parse entities: Character '.' is reserved"):
        await bot.send_message(CHAT, "Heat (1995).", parse_mode="MarkdownV2")
    with pytest.raises(InvalidToken):
        async with Bot("123:wrong", base_url=server.base_url) as wrong:
            await wrong.get_me()


async def test_get_updates_long_polls_and_confirms_by_offset(server, bot):
    started = time.perf_counter()
    assert await bot.get_updates(timeout=1) == ()
    assert time.perf_counter() - started >= 0.9

    def long_polls() -> list:
        return [r for r in server.requests if r.method == "getUpdates"]

    polls_before = len(long_polls())

    async def push_while_polling() -> None:
        # Once the next getUpdates is open (the server holds it), an update arrives.
        await server.wait_for(lambda: len(long_polls()) > polls_before)
        server.push_text(CHAT, "Heat")

    task = asyncio.create_task(push_while_polling())
    [update] = await bot.get_updates(timeout=30)
    await task
    # The open request answered with the update pushed after it started (no second poll).
    assert len(long_polls()) == polls_before + 1
    assert update.message.text == "Heat" and update.message.chat.id == CHAT
    # Not confirmed yet: delivered again; confirmed by offset: gone.
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [update.update_id]
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    # allowed_updates filters and is remembered.
    server.push_text(CHAT, "/help")
    assert await bot.get_updates(timeout=0, allowed_updates=["callback_query"]) == ()
    assert await bot.get_updates(timeout=0) == ()
    assert len(await bot.get_updates(timeout=0, allowed_updates=["message"])) == 1


async def test_commands_mentions_and_buttons(server, bot):
    update = server.push_command(-5, "similar@reelpick_test_bot", "Heat")
    assert update["message"]["entities"][0] == {"type": "bot_command", "offset": 0, "length": 26}
    update = server.push_text(-5, "hey @reelpick_test_bot Heat")
    assert update["message"]["entities"] == [{"type": "mention", "offset": 4, "length": 18}]
    sent = await bot.send_message(
        CHAT,
        "Which?",
        reply_markup={"inline_keyboard": [[{"text": "Heat (1995)", "callback_data": "pick:6"}]]},
    )
    # Like Telegram, data no button carries is delivered too (a modified client sends it).
    forged = server.push_callback(CHAT, sent.message_id, "pick:7")
    [update] = await bot.get_updates(offset=-1)
    assert update.callback_query.id == forged and update.callback_query.data == "pick:7"
    query_id = server.push_callback(CHAT, sent.message_id, "pick:6")
    [update] = await bot.get_updates(offset=-1)
    assert update.callback_query.id == query_id and update.callback_query.data == "pick:6"
    assert server.unanswered_callbacks() == [forged, query_id]
    assert await bot.answer_callback_query(query_id)
    assert server.unanswered_callbacks() == [forged]
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(query_id)
    edited = await bot.edit_message_text("Heat it is", CHAT, sent.message_id)
    assert edited.text == "Heat it is" and edited.reply_markup is None
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("Heat it is", CHAT, sent.message_id)
    with pytest.raises(BadRequest, match="(?i)wrong parameter action"):
        await bot.send_chat_action(CHAT, "dancing")


async def test_polls_votes_and_stop(server, bot):
    server.chat(-9)  # a group the bot is in
    message = await bot.send_poll(
        -9,
        "Tonight?",
        ["Heat (1995)", "Alien (1979)", "Up (2009)"],
        is_anonymous=False,
    )
    poll = message.poll
    assert message.chat.id == -9 and poll.id and not poll.is_closed and not poll.is_anonymous
    server.push_poll_answer(poll.id, 1, [0])
    server.push_poll_answer(poll.id, 2, [1])
    server.push_poll_answer(poll.id, 2, [])  # retracted
    server.push_poll_answer(poll.id, 3, [0], poll_update=True)
    updates = await bot.get_updates(timeout=0)
    answers = [u.poll_answer for u in updates if u.poll_answer]
    assert [(a.user.id, a.option_ids) for a in answers] == [
        (1, (0,)),
        (2, (1,)),
        (2, ()),
        (3, (0,)),
    ]
    assert updates[-1].poll.options[0].voter_count == 2
    stopped = await bot.stop_poll(-9, message.message_id)
    assert stopped.is_closed and [o.voter_count for o in stopped.options] == [2, 0, 0]
    assert stopped.total_voter_count == 2
    with pytest.raises(BadRequest, match="(?i)poll has already been closed"):
        await bot.stop_poll(-9, message.message_id)
    with pytest.raises(ValueError, match="(?i)closed"):
        server.push_poll_answer(poll.id, 4, [1])
    with pytest.raises(BadRequest, match="(?i)poll can't have more than 12 options"):
        await bot.send_poll(-9, "Too many", [str(i) for i in range(13)])
    with pytest.raises(BadRequest, match="(?i)poll options length must not exceed 100"):
        await bot.send_poll(-9, "Long", ["x" * 101, "y"])


async def test_faults(server, bot):
    server.inject("getMe", "500")
    status, body = raw(server, "getMe", {})
    assert (status, body["description"]) == (500, "Internal Server Error")
    server.inject("getMe", "slow", delay=0.5)
    started = time.perf_counter()
    assert raw(server, "getMe", {})[0] == 200
    assert time.perf_counter() - started >= 0.5
    server.inject("getMe", "drop")
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        raw(server, "getMe", {})
    assert [r.status for r in server.requests][-3:] == [500, 200, -1]
    assert (await bot.get_me()).id == BOT_ID
