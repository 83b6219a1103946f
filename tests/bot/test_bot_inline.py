"""Inline mode end to end: ``@bot heat`` answered over the Bot API test server (cosine-CF on
the real ml-latest-small, real posters; no TensorFlow)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from reelpick.bot.app import build_application
from reelpick.bot.inline import InlineState
from reelpick.bot.services import SERVICES
from tests.support.bot_api import BotAPIServer, running
from tests.support.fixtures import ML_SMALL, POSTERS, write_config

pytestmark = pytest.mark.timeout(60)

USER = 5151
HEAT = 6


@pytest.fixture
def config(tmp_path: Path, server: BotAPIServer):
    return write_config(
        tmp_path,
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{tmp_path / "cache"}"\n'
        f'[plugins]\nenabled = ["cosine-cf"]\n[posters]\ndir = "{POSTERS}"\n'
        f'[bot]\nbase_url = "{server.base_url}"\nbase_file_url = "{server.base_file_url}"\n'
        "max_messages_per_chat_second = 0\n",
    )


async def answer_to(server: BotAPIServer, query: str, offset: str = "", user: int = USER) -> dict:
    query_id = server.push_inline_query(user, query, offset)
    return await server.wait_for(lambda: server.inline_queries[query_id]["answered"])


def titles(answer: dict) -> list[str]:
    return [r["title"] for r in answer["results"]]


async def test_empty_query_pages_through_popular_movies(server, config, reelpick_app):
    async with running(build_application(config, reelpick_app)):
        first = await answer_to(server, "")
        pages = [first]
        while pages[-1]["next_offset"]:
            pages.append(await answer_to(server, "", pages[-1]["next_offset"]))
        forged = await answer_to(server, "", "not-an-offset")

    counts = reelpick_app.dataset.rating_counts.sort_values(ascending=False, kind="stable")
    popular = [reelpick_app.dataset.label(int(m)) for m in counts.index[:50]]
    assert [len(p["results"]) for p in pages] == [10] * 5  # [inline] page_size, max_results
    assert [t for p in pages for t in titles(p)] == popular
    assert [p["next_offset"] for p in pages] == ["10", "20", "30", "40", ""]
    ids = [r["id"] for p in pages for r in p["results"]]
    assert len(set(ids)) == len(ids) and all(len(i.encode()) <= 64 for i in ids)
    assert first["cache_time"] == 300 and first["is_personal"] is False
    assert titles(forged) == titles(first)  # an offset we never gave reads as the start

    result = first["results"][0]  # no poster was sent yet: an article with the card
    assert result["type"] == "article"
    [answer] = reelpick_app.similar(int(counts.index[0]), 3, ["cosine-cf"])
    top = reelpick_app.dataset.label(answer.neighbours[0].movie_id)
    assert result["description"] == f"cosine-CF: {top}"
    card = result["input_message_content"]
    assert card["parse_mode"] == "HTML"
    assert card["message_text"].startswith(f"<b>{popular[0]}</b>\n<b>cosine-CF</b> similar: ")


async def test_title_and_ambiguous_queries_list_candidates(server, config, reelpick_app):
    async with running(build_application(config, reelpick_app)):
        heat = await answer_to(server, "heat")
        hamlet = await answer_to(server, "Hamlet")
        nonsense = await answer_to(server, "🍿🍿")
    assert titles(heat)[0] == "Heat (1995)"
    assert {"Hamlet (1996)", "Hamlet (1990)"} <= set(titles(hamlet))
    assert nonsense["results"] == [] and nonsense["next_offset"] == ""


async def test_a_poster_sent_before_becomes_a_photo_card_posted_into_the_chat(
    server, config, reelpick_app
):
    # A movie whose album holds Heat's poster, so that Heat's file_id becomes known.
    asker = next(
        int(m)
        for m in reelpick_app.dataset.rating_counts.sort_values(ascending=False).index
        if HEAT
        in [n.movie_id for n in reelpick_app.similar(int(m), 5, ["cosine-cf"])[0].neighbours]
    )
    application = build_application(config, reelpick_app)
    async with running(application):
        server.push_text(USER, reelpick_app.dataset.label(asker))
        await server.wait_for(lambda: server.calls("sendMediaGroup", USER))
        heat = await answer_to(server, "Heat 1995")
        inline = application.bot_data[SERVICES].features.get(InlineState)
        inline.is_personal = lambda u: u == USER + 1
        personal = await answer_to(server, "Heat 1995", user=USER + 1)

    result = heat["results"][0]
    assert result["type"] == "photo" and result["id"] == f"movie-{HEAT}"
    assert result["caption"].startswith("<b>Heat (1995)</b>\n<b>cosine-CF</b> similar: ")
    heat_query = next(q for q, e in server.inline_queries.items() if e["query"] == "Heat 1995")
    posted = server.choose_inline_result(-100777, heat_query, result["id"])
    assert posted["photo"] and posted["via_bot"]["is_bot"]
    assert posted["caption"].startswith("Heat (1995)\ncosine-CF similar: ")
    assert personal["is_personal"] is True and personal["cache_time"] == 30


def test_answer_inline_query_keeps_telegrams_limits(server):
    def answer(results: list[dict], next_offset: str = "") -> str:
        query_id = server.push_inline_query(USER, "x")
        body = json.dumps(
            {"inline_query_id": query_id, "results": results, "next_offset": next_offset}
        ).encode()
        request = urllib.request.Request(
            f"{server.base_url}{server.token}/answerInlineQuery",
            body,
            {"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request) as response:
                return json.load(response)["ok"] and "ok"
        except urllib.error.HTTPError as exc:
            return json.load(exc)["description"]

    def article(result_id: str) -> dict:
        content = {"message_text": "card"}
        return {"type": "article", "id": result_id, "title": "t", "input_message_content": content}

    assert answer([article(str(i)) for i in range(50)], "x" * 64) == "ok"
    assert answer([article(str(i)) for i in range(51)]) == "Bad Request: RESULTS_TOO_MUCH"
    assert answer([article("a"), article("a")]) == "Bad Request: RESULT_ID_DUPLICATE"
    assert answer([article("a" * 65)]) == "Bad Request: RESULT_ID_INVALID"
    assert answer([article("a")], "x" * 65) == "Bad Request: NEXT_OFFSET_INVALID"
