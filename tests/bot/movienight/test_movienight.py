"""Movie nights end to end: the real bot Application against the Bot API test server.

Users are simulated by pushing updates (commands, poll answers, button presses) into the
server; assertions look at what the bot sent and at the movie-night store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json

from reelpick.bot.media import _chunks
from reelpick.bot.movienight import decide, shorten, split_titles
from reelpick.bot.movienight.store import Option
from tests.support.bot_api import album_captions, buttons
from tests.support.bot_api.state import BOT_USERNAME
from tests.support.movienight import ADMIN, ALICE, BOB, CAROL, GROUP, OTHER_GROUP, Bot

TOY_STORY, JUMANJI, TOY_STORY_2, MONSTERS_INC = 1, 2, 3114, 4886
LONG_TITLE = 95165  # Dragon Ball Z the Movie: The World's Strongest (a.k.a. ...) (1990): 158 chars


def title_buttons(message: dict) -> list:
    """The title-choice buttons of a message (not the night's "I'm in" button)."""
    return [b for b in buttons(message) if not b[1].startswith("mn:j:")]


# -- pure helpers -------------------------------------------------------------------------
def test_helpers() -> None:
    assert split_titles(" Heat ;; Toy Story\nAlien ; ") == ["Heat", "Toy Story", "Alien"]
    assert shorten("x" * 150, 100) == "x" * 99 + "…" and len(shorten("x" * 150, 100)) == 100
    assert shorten("short", 100) == "short"
    options = [Option(0, 10, 0.5, "a"), Option(1, 11, 0.3, "b"), Option(2, 12, 0.2, "c")]
    assert decide(options, [0, 0, 0]) == (None, [])
    assert decide(options, [1, 3, 0])[0].movie_id == 11
    winner, tied = decide(options, [1, 2, 2])
    assert winner.movie_id == 11 and [o.movie_id for o in tied] == [11, 12]
    # Albums hold 2-10 photos: 11 or 12 candidates go out as two albums.
    assert [len(c) for c in _chunks(list(range(12)))] == [6, 6]
    assert [len(c) for c in _chunks(list(range(11)))] == [6, 5]
    assert [len(c) for c in _chunks(list(range(10)))] == [10]
    assert [len(c) for c in _chunks([1])] == [1] and _chunks([]) == []


# -- the full flow ------------------------------------------------------------------------
async def test_full_movie_night_with_three_users(bot: Bot) -> None:
    server, store = bot.server, bot.store
    reply = await bot.say(GROUP, "movienight", "Toy Story; Jumanji", user=ALICE)
    assert "Added: Toy Story (1995), Jumanji (1995)" in reply["text"]
    reply = await bot.say(GROUP, "night_suggest", "Monsters, Inc.", user=BOB)
    assert "Added: Monsters, Inc. (2001)" in reply["text"]
    reply = await bot.say(GROUP, "night_veto", "Toy Story 2", user=CAROL)
    assert "Vetoed: Toy Story 2 (1999)" in reply["text"]
    status = (await bot.say(GROUP, "night_status", user=CAROL))["text"]
    assert "Toy Story (1995) (User1001)" in status and "Monsters, Inc. (2001) (User1002)" in status
    assert "Toy Story 2 (1999) (vetoed by User1003)" in status
    assert "Seeds (3/20)" in status

    # Bob neither opened it nor is an admin: a polite no, after asking Telegram.
    refusal = (await bot.say(GROUP, "night_vote", user=BOB))["text"]
    assert refusal.startswith("Sorry, only User1001") and "admin" in refusal
    assert server.calls("getChatMember", GROUP)[-1].params["user_id"] in (BOB, str(BOB))
    assert not server.calls("sendPoll")

    night, poll_request = await bot.open_vote(GROUP, user=ALICE)
    options = store.options(night.id)
    movie_ids = [o.movie_id for o in options]
    assert len(options) == 10 and len(set(movie_ids)) == 10
    assert not {TOY_STORY, JUMANJI, MONSTERS_INC, TOY_STORY_2} & set(movie_ids)
    params = poll_request.params
    assert params["is_anonymous"] in (False, "false", "False")
    texts = [o["text"] if isinstance(o, dict) else o for o in _json(params["options"])]
    assert texts == [o.text for o in options]
    assert all(t.startswith(f"{i}. ") for i, t in enumerate(texts, 1))
    # The album came first, one numbered caption per candidate with the full title.
    [album] = server.calls("sendMediaGroup", GROUP)
    assert album.at < poll_request.at
    labels = [bot.feature.catalogue.app.dataset.label(m) for m in movie_ids]
    assert album_captions(album) == [f"{i}. {label}" for i, label in enumerate(labels, 1)]

    # Votes: Alice 1; Bob 2; Carol 2 then changes to 1; Bob retracts, then votes 2 again.
    await bot.vote(night, ALICE, [0])
    await bot.vote(night, BOB, [1])
    await bot.vote(night, CAROL, [1])
    await bot.votes_are(night, [1, 2] + [0] * 8)
    await bot.vote(night, CAROL, [0])
    await bot.vote(night, BOB, [])
    await bot.votes_are(night, [2, 0] + [0] * 8)
    await bot.vote(night, BOB, [1])
    await bot.votes_are(night, [2, 1] + [0] * 8)
    status = (await bot.say(GROUP, "night_status", user=BOB))["text"]
    assert f"{texts[0]}: 2" in status and "voting, closes in" in status
    reply = await bot.say(GROUP, "night_suggest", "Heat", user=BOB)
    assert "Voting has already started" in reply["text"]

    server.push_command(GROUP, "night_close", user_id=ALICE)
    winner_message = await bot.announced(GROUP)
    assert len(server.calls("stopPoll", GROUP)) == 1
    caption = winner_message["caption"]
    assert caption.startswith(f"🏆 Tonight's movie: {labels[0]} with 2 votes")
    assert "tie" not in caption
    assert f"{texts[0]}: 2" in caption and f"{texts[1]}: 1" in caption
    assert f"{texts[2]}: 0" in caption
    assert winner_message["photo"]  # with its poster
    done = await server.wait_for(lambda: store.night(night.id).announced and store.night(night.id))
    assert (done.state, done.announced, done.winner) == ("closed", True, movie_ids[0])
    assert store.watched(GROUP) == [movie_ids[0]]
    # The 30-minute deadline job is still scheduled: when it fires, nothing happens again.
    await bot.feature.lifecycle.close_night(bot.application.bot, night.id)
    assert len(bot.announcements(GROUP)) == 1
    assert len(server.calls("stopPoll", GROUP)) == 1 and store.watched(GROUP) == [movie_ids[0]]
    assert "Nobody voted" not in json.dumps(server.sent(GROUP))

    # The next movie night never offers what this chat has watched.
    night2, _ = await bot.open_vote(GROUP, "Toy Story", "Jumanji", user=CAROL)
    assert movie_ids[0] not in [o.movie_id for o in store.options(night2.id)]
    assert movie_ids[1] in [o.movie_id for o in store.options(night2.id)]


async def test_tie_is_broken_by_fused_score_and_said(bot: Bot) -> None:
    night, _ = await bot.open_vote(GROUP, "Toy Story", user=ALICE)
    options = bot.store.options(night.id)
    await bot.vote(night, ALICE, [2])
    await bot.vote(night, BOB, [1])
    await bot.votes_are(night, [0, 1, 1] + [0] * 7)
    bot.server.push_command(GROUP, "night_close", user_id=ADMIN)  # an admin may close it too
    caption = (await bot.announced(GROUP))["caption"]
    label = bot.feature.catalogue.app.dataset.label(options[1].movie_id)
    assert caption.startswith(f"🏆 Tonight's movie: {label} with 1 vote")
    assert (
        "It was a tie between" in caption and "broken by the recommenders' fused score" in caption
    )
    assert options[1].score > options[2].score
    assert bot.store.watched(GROUP) == [options[1].movie_id]


async def test_no_votes_then_random_pick_among_top_three(bot: Bot) -> None:
    night, _ = await bot.open_vote(GROUP, "Jumanji", user=ALICE)
    top3 = [o.movie_id for o in bot.store.options(night.id)[:3]]
    bot.server.push_command(GROUP, "night_close", user_id=ALICE)
    message = await bot.server.wait_for(
        lambda: next(
            (m for m in bot.server.sent(GROUP) if "Nobody voted" in m.get("text", "")), None
        ),
        timeout=15,
    )
    assert bot.store.watched(GROUP) == []
    [(text, data)] = buttons(message)
    assert "Random pick" in text
    bot.server.push_callback(GROUP, message["message_id"], data, user_id=CAROL)
    caption = (await bot.announced(GROUP))["caption"]
    assert "random pick among the top 3" in caption
    [picked] = bot.store.watched(GROUP)
    assert picked in top3
    await bot.server.wait_for(lambda: "reply_markup" not in _message(bot, GROUP, message))
    # A second press (a client that still shows the button) changes nothing.
    again = bot.server.push_callback(GROUP, message["message_id"], data, user_id=BOB)
    answer = await bot.server.wait_for(lambda: bot.server.callback_queries[again]["answered"])
    assert answer["text"] == "A movie was already picked."
    assert len(bot.announcements(GROUP)) == 1
    assert bot.store.watched(GROUP) == [picked]


async def test_two_groups_at_once_are_independent(bot: Bot) -> None:
    (night_a, _), (night_b, _) = await asyncio.gather(
        bot.open_vote(GROUP, "Toy Story", user=ALICE),
        bot.open_vote(OTHER_GROUP, "Heat", user=BOB),
    )
    assert night_a.id != night_b.id
    await bot.vote(night_a, ALICE, [3])
    await bot.vote(night_b, BOB, [0])
    await bot.vote(night_b, ALICE, [0])
    await bot.votes_are(night_a, [0, 0, 0, 1] + [0] * 6)
    await bot.votes_are(night_b, [2] + [0] * 9)
    # Bob is the opener in the other group only.
    refusal = (await bot.say(GROUP, "night_close", user=BOB))["text"]
    assert "Sorry" in refusal and bot.store.night(night_a.id).state == "voting"
    bot.server.push_command(GROUP, "night_close", user_id=ALICE)
    bot.server.push_command(OTHER_GROUP, "night_close", user_id=BOB)
    cap_a = (await bot.announced(GROUP))["caption"]
    cap_b = (await bot.announced(OTHER_GROUP))["caption"]
    options_a, options_b = bot.store.options(night_a.id), bot.store.options(night_b.id)
    label = bot.feature.catalogue.app.dataset.label
    assert f"Tonight's movie: {label(options_a[3].movie_id)} with 1 vote" in cap_a
    assert f"Tonight's movie: {label(options_b[0].movie_id)} with 2 votes" in cap_b
    assert bot.store.watched(GROUP) == [options_a[3].movie_id]
    assert bot.store.watched(OTHER_GROUP) == [options_b[0].movie_id]


async def test_deadline_closes_the_poll_by_itself(bot: Bot) -> None:
    lifecycle = bot.feature.lifecycle
    lifecycle.settings = dataclasses.replace(lifecycle.settings, voting_minutes=0.02)
    night, request = await bot.open_vote(GROUP, "Toy Story", user=ALICE)
    assert request.params["question"].endswith("Voting closes in 1 s.")
    await bot.vote(night, CAROL, [4])
    caption = (await bot.announced(GROUP))["caption"]
    label = bot.feature.catalogue.app.dataset.label(bot.store.options(night.id)[4].movie_id)
    assert f"Tonight's movie: {label} with 1 vote" in caption
    assert len(bot.server.calls("stopPoll", GROUP)) == 1


async def test_announcement_that_fails_on_telegram_is_retried_and_sent_once(bot: Bot) -> None:
    bot.feature.lifecycle.retry_seconds = 0.2
    night, _ = await bot.open_vote(GROUP, "Toy Story", user=ALICE)
    await bot.vote(night, BOB, [0])
    await bot.votes_are(night, [1] + [0] * 9)
    bot.server.inject("sendPhoto", "500", times=2)
    bot.server.push_command(GROUP, "night_close", user_id=ALICE)
    await bot.server.wait_for(lambda: bot.store.night(night.id).announced, timeout=15)
    assert len([r for r in bot.server.calls("sendPhoto", GROUP) if r.status == 500]) == 2
    assert len(bot.announcements(GROUP)) == 1
    assert len(bot.server.calls("stopPoll", GROUP)) == 1
    assert bot.store.watched(GROUP) == [bot.store.options(night.id)[0].movie_id]


# -- bad input ----------------------------------------------------------------------------
async def test_short_names_answer_only_when_addressed_to_this_bot(bot: Bot) -> None:
    """/in and /status may belong to another bot in the group: only /in@this_bot, the
    prefixed /night_in and /night_in@this_bot are this bot's."""
    server, store = bot.server, bot.store
    await bot.say(GROUP, "movienight", user=ALICE)
    night = store.current(GROUP)
    ignored = [
        server.push_command(GROUP, command, user_id=BOB)["message"]["message_id"]
        for command in ("in", "status", "in@another_bot", "night_in@another_bot")
    ]
    joined = await bot.say(GROUP, f"in@{BOT_USERNAME}", user=BOB)
    assert joined["text"].startswith("User1002 is in for tonight's movie night.")
    joined = await bot.say(GROUP, f"night_in@{BOT_USERNAME}", user=CAROL)
    assert joined["text"].startswith("User1003 is in for tonight's movie night.")
    status = await bot.say(GROUP, f"status@{BOT_USERNAME}", user=BOB)
    assert status["text"].startswith("🎬 Movie night opened by User1001")
    status = await bot.say(GROUP, "night_status", user=CAROL)
    assert status["text"].startswith("🎬 Movie night opened by User1001")
    # Every update before these replies was handled by now: none of the others got one.
    assert [bot.reply_to(GROUP, m) for m in ignored] == [None] * len(ignored)
    assert [m.user_id for m in store.members(night.id)] == [BOB, CAROL]


async def test_bad_input_gets_clear_answers(bot: Bot) -> None:
    reply = await bot.say(GROUP, "night_suggest", "Heat", user=ALICE)
    assert "No movie night is open here" in reply["text"]
    reply = await bot.say(GROUP, "movienight", user=ALICE)
    assert "Movie night!" in reply["text"]
    reply = await bot.say(GROUP, "night_vote", user=ALICE)
    assert "I need some titles first" in reply["text"] and "/night_suggest" in reply["text"]
    reply = await bot.say(GROUP, "night_suggest", user=BOB)
    assert "Which movie? Usage: /night_suggest TITLE" in reply["text"]
    reply = await bot.say(GROUP, "night_suggest", "qwxzzzqq", user=BOB)
    assert "No movie matches “qwxzzzqq”" in reply["text"]
    reply = await bot.say(GROUP, "night_suggest", "🍿🍿🍿", user=BOB)
    assert "movie titles" in reply["text"]
    reply = await bot.say(GROUP, "night_suggest", "x" * 5000, user=BOB)
    assert "too long" in reply["text"]
    # 50 seeds in one go: the first 20 are read, the person is told.
    titles = [bot.feature.catalogue.app.dataset.movies["name"].iloc[i] for i in range(50)]
    reply = await bot.say(GROUP, "night_suggest", "; ".join(titles), user=CAROL)
    assert "at most 20 titles; I read the first 20 of your 50" in reply["text"]
    night = bot.store.current(GROUP)
    assert 1 <= len(bot.store.seeds(night.id)) <= 20
    reply = await bot.say(GROUP, "night_close", user=BOB)
    assert reply["text"].startswith("Sorry, only User1001")
    reply = await bot.say(GROUP, "movienight", user=BOB)
    assert "already open here (opened by User1001)" in reply["text"]
    reply = await bot.say(GROUP, "night_close", user=ADMIN)
    assert "called off" in reply["text"] and bot.store.current(GROUP) is None


async def test_ambiguous_title_buttons_add_the_chosen_movie(bot: Bot) -> None:
    await bot.say(GROUP, "movienight", user=ALICE)
    reply = await bot.say(GROUP, "night_veto", "Heat 2013 Sandra", user=BOB)
    question = await bot.server.wait_for(
        lambda: next((m for m in bot.server.sent(GROUP) if title_buttons(m)), None)
    )
    assert "Please pick below" in reply["text"]
    choices = buttons(question)
    assert all(data.startswith("mn:a:v:") for _, data in choices)
    text, data = choices[0]
    movie_id = int(data.rsplit(":", 1)[1])
    bot.server.push_callback(GROUP, question["message_id"], data, user_id=BOB)
    await bot.server.wait_for(lambda: bot.store.exclusions(bot.store.current(GROUP).id))
    [entry] = bot.store.exclusions(bot.store.current(GROUP).id)
    assert (entry.movie_id, entry.kind, entry.user_id) == (movie_id, "veto", BOB)
    edited = await bot.server.wait_for(
        lambda: (
            "Vetoed" in _message(bot, GROUP, question).get("text", "")
            and _message(bot, GROUP, question)
        )
    )
    assert "User1002" in edited["text"]


async def test_long_titles_are_shortened_in_the_poll_and_whole_in_the_album(bot: Bot) -> None:
    """Twelve options (Telegram's maximum), one of them a 158-character title."""
    dataset = bot.feature.catalogue.app.dataset
    long_label = dataset.label(LONG_TITLE)
    assert len(long_label) > 100
    night = bot.store.open_night(GROUP, ALICE, "Alice")
    bot.store.add_seed(night.id, TOY_STORY, ALICE, "Alice", max_seeds=20)
    movies = [LONG_TITLE, *[m for m in dataset.movies.index[1:12]]]
    options = [
        (m, 1.0 / i, shorten(f"{i}. {dataset.label(m)}", 100)) for i, m in enumerate(movies, 1)
    ]
    night = bot.store.start_voting(night.id, options)
    await bot.feature.lifecycle.send_ballot(bot.application.bot, night)
    poll = bot.server.calls("sendPoll", GROUP)[-1]
    texts = [o["text"] if isinstance(o, dict) else o for o in _json(poll.params["options"])]
    assert len(texts) == 12 and all(len(t) <= 100 for t in texts)
    assert len(texts[0]) == 100 and texts[0].endswith("…") and texts[0].startswith("1. Dragon")
    albums = bot.server.calls("sendMediaGroup", GROUP)
    assert [len(album_captions(a)) for a in albums] == [6, 6]
    captions = album_captions(albums[0]) + album_captions(albums[1])
    assert captions[0] == f"1. {long_label}"
    assert captions[11] == f"12. {dataset.label(movies[11])}"


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def _message(bot: Bot, chat: int, message: dict) -> dict:
    for m in bot.server.sent(chat):
        if m["message_id"] == message["message_id"]:
            return m
    return {}
