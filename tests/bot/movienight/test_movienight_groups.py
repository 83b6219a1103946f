"""Movie nights that know the group, end to end over the Bot API test server: joining, the
/rate nudge, candidates from live profiles with the fairness rule, forged buttons, the
next-day question; and a SIGKILL restart between the poll and the close."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelpick.app import Reelpick
from reelpick.bot.app import build_application
from reelpick.bot.movienight import MovieNight
from reelpick.bot.movienight.store import MovieNightStore
from reelpick.bot.services import SERVICES
from reelpick.config import load_config
from reelpick.profiles import ProfileStore
from tests.support.bot_api import BotAPIServer, album_captions, buttons
from tests.support.bot_api.application import running
from tests.support.bot_process import NightBot
from tests.support.fixtures import ML_SMALL, POSTERS

GROUP, OTHER_GROUP = -100511, -100522
ANN, BOB, CEM, DAN, EVE = 5001, 5002, 5003, 5004, 5005
# Three tastes: animation, action, drama (MovieLens ids).
TASTES = {
    ANN: [1, 2355, 3114, 4886, 6377, 8961],
    BOB: [110, 260, 1196, 1210, 2571, 1198],
    CEM: [318, 527, 593, 858, 2959, 296],
}
CONFIG = (
    '[plugins]\nenabled = ["ease"]\n[plugins.ease]\nmax_items = 1500\n'
    f'[posters]\ndir = "{POSTERS}"\n'
    "[bot]\nmessages_per_minute = 0\nmessages_per_user_minute = 0\n"
    "max_messages_per_group_minute = 10000\nretries = 0\n"
)


def rate_all(profiles: ProfileStore) -> None:
    for user, movies in TASTES.items():
        for movie in movies:
            profiles.rate(f"tg:{user}", movie, 5.0)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Reelpick:
    folder = tmp_path_factory.mktemp("groups-app")
    (folder / "config.toml").write_text(
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{folder / "cache"}"\n{CONFIG}'
    )
    return Reelpick.open(load_config(folder / "config.toml"))


@pytest.fixture
async def bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app: Reelpick):
    server = BotAPIServer().start()
    for chat in (GROUP, OTHER_GROUP):
        server.chat(chat, "supergroup")
    server.chat(ANN, "private")  # Ann has started the bot privately; Bob has not
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", server.token)
    (tmp_path / "config.toml").write_text(
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{tmp_path / "cache"}"\n{CONFIG}'
        f'base_url = "{server.base_url}"\nbase_file_url = "{server.base_file_url}"\n'
        "[movienight]\nvoting_minutes = 30\nask_after_hours = 0.0003\n"
    )
    application = build_application(load_config(tmp_path / "config.toml"), app)
    feature = application.bot_data[SERVICES].features.get(MovieNight)
    try:
        async with running(application):
            yield server, application, feature
    finally:
        server.stop()


async def reply(server: BotAPIServer, chat: int, command: str, args: str = "", user: int = ANN):
    message_id = server.push_command(chat, command, args, user_id=user)["message"]["message_id"]

    def found():
        return next(
            (
                m
                for m in server.sent(chat)
                if m.get("reply_to_message", {}).get("message_id") == message_id
            ),
            None,
        )

    return await server.wait_for(found, timeout=30)


async def test_a_night_for_the_people_who_joined(bot) -> None:
    server, application, feature = bot
    profiles = application.bot_data["reelpick"].profiles
    store = feature.store
    rate_all(profiles)
    opened = await reply(server, GROUP, "movienight")
    [(_, join_data)] = buttons(opened)
    night = store.current(GROUP)
    assert join_data == f"mn:j:{night.id}"

    # Joining: /in twice at once, the button, and Dan without ratings (nudged to /rate).
    server.push_command(GROUP, "night_in", user_id=ANN)
    second = await reply(server, GROUP, "night_in", user=ANN)
    await reply(server, GROUP, "night_in", user=BOB)
    query = server.push_callback(GROUP, opened["message_id"], join_data, user_id=CEM)
    nudge = await reply(server, GROUP, "night_in", user=DAN)
    assert "start=rate" in str(nudge.get("entities")) or "/rate" in nudge["text"]
    await server.wait_for(lambda: query not in server.unanswered_callbacks(), timeout=10)
    assert [m.user_id for m in store.members(night.id)] == [ANN, BOB, CEM, DAN]
    assert "already" in second["text"]

    # A forged join button from another chat: refused, answered, nothing changes anywhere.
    forged = server.push_callback(
        GROUP,
        opened["message_id"],
        join_data,
        user_id=EVE,
        message={**opened, "chat": {"id": OTHER_GROUP, "type": "supergroup", "title": "x"}},
    )
    await server.wait_for(lambda: forged not in server.unanswered_callbacks(), timeout=10)
    assert server.callback_queries[forged]["answered"]
    assert EVE not in [m.user_id for m in store.members(night.id)]
    assert store.current(OTHER_GROUP) is None and store.waiting(OTHER_GROUP) == []

    # Cem forgets his profile before the poll: his taste leaves the candidates at once.
    profiles.forget(f"tg:{CEM}")
    polls = len(server.calls("sendPoll", GROUP))
    notes = await reply(server, GROUP, "night_vote", user=ANN)
    await server.wait_for(lambda: len(server.calls("sendPoll", GROUP)) > polls, timeout=60)
    lines = notes["text"].split("\n")
    assert lines[0] == "🎯 Picked for User5001, User5002 from their ratings."
    assert "top 50" in lines[1] and "User5003, User5004" in lines[2]
    night = await server.wait_for(lambda: (n := store.current(GROUP)) and n.poll_id and n, 10)
    options = store.options(night.id)
    assert 2 <= len(options) <= 12
    seen = set(TASTES[ANN]) | set(TASTES[BOB])  # Cem's ratings are gone
    assert not seen & {o.movie_id for o in options}  # no member's rated movie comes back
    captions = [c for r in server.calls("sendMediaGroup", GROUP) for c in album_captions(r)]
    assert any("for User5001" in c for c in captions) and any("for " in c for c in captions)
    # Fairness: Ann and Bob each have an option among their own top 50.
    exclude = seen
    for user in (ANN, BOB):
        top = feature.ballot.member_picks(profiles.profile(f"tg:{user}"), exclude, 50)
        assert {o.movie_id for o in options} & set(top), user

    # /in after the poll is out: the next night.
    later = await reply(server, GROUP, "night_in", user=EVE)
    assert "next movie night" in later["text"]

    # Votes, the close, the winner seen in the voters' profiles, the next-day question.
    for user in (ANN, BOB):
        server.push_poll_answer(night.poll_id, user, [0])
    await server.wait_for(lambda: sum(store.tally(night.id)) == 2, timeout=10)
    server.push_command(GROUP, "night_close", user_id=ANN)
    await server.wait_for(lambda: store.night(night.id).state == "closed", timeout=30)
    winner = store.night(night.id).winner
    # The voters' "seen" marks follow the announcement (which closes the night): wait for them.
    await server.wait_for(
        lambda: all(winner in profiles.profile(f"tg:{u}").movies for u in (ANN, BOB)), timeout=10
    )
    question = await server.wait_for(
        lambda: next((m for m in server.sent(ANN) if "How was" in m["text"]), None), timeout=20
    )
    assert store.pending_asks() == []  # Bob never opened a private chat: skipped quietly
    data = next(d for t, d in buttons(question) if t == "★4")
    # The same rating button forged in the group: refused, profile unchanged.
    forged = server.push_callback(GROUP, opened["message_id"], data, user_id=ANN)
    await server.wait_for(lambda: forged not in server.unanswered_callbacks(), timeout=10)
    assert profiles.profile(f"tg:{ANN}").ratings.get(winner) is None
    server.push_callback(ANN, question["message_id"], data, user_id=ANN)
    await server.wait_for(lambda: profiles.profile(f"tg:{ANN}").ratings.get(winner) == 4.0, 10)

    # Eve's early /in carries over to the chat's next night.
    await reply(server, GROUP, "movienight", user=BOB)
    assert [m.user_id for m in store.members(store.current(GROUP).id)] == [EVE]


@pytest.mark.slow
def test_sigkill_between_poll_and_close_then_the_question_after_a_restart(tmp_path: Path) -> None:
    with BotAPIServer() as server:
        server.chat(GROUP, "supergroup")
        server.chat(ANN, "private")
        bot = NightBot(server, tmp_path, voting_minutes=30, cache=tmp_path / "cache")
        profiles_db = tmp_path / "profiles.sqlite3"
        text = bot.config.read_text().replace('enabled = ["cosine-cf"]', 'enabled = ["ease"]')
        text = text.replace("[bot]\n", f'[bot]\nprofiles_db = "{profiles_db}"\n')
        bot.config.write_text(text + "ask_after_hours = 0.002\n[plugins.ease]\nmax_items = 1500\n")
        bot.write_config = lambda minutes: None  # keep this config on restarts
        profiles = ProfileStore(profiles_db)
        rate_all(profiles)
        try:
            bot.start()
            server.push_command(GROUP, "movienight", user_id=ANN)
            for user in (ANN, BOB, CEM):
                server.push_command(GROUP, "night_in", user_id=user)
            store = MovieNightStore(tmp_path / "nights.db")
            server.wait_for_sync(
                lambda: (n := store.current(GROUP)) and len(store.members(n.id)) == 3, timeout=60
            )
            server.push_command(GROUP, "night_vote", user_id=ANN)
            server.wait_for_sync(lambda: server.calls("sendPoll", GROUP), timeout=90)
            night = server.wait_for_sync(lambda: (n := store.current(GROUP)) and n.poll_id and n)
            for user in (ANN, BOB, CEM):
                server.push_poll_answer(night.poll_id, user, [1])
            server.wait_for_sync(lambda: sum(store.tally(night.id)) == 3, timeout=20)
            bot.kill()  # between the poll and the close

            bot.start()
            server.push_command(GROUP, "night_close", user_id=ANN)
            server.wait_for_sync(lambda: store.night(night.id).state == "closed", timeout=60)
            assert store.night(night.id).winner == store.options(night.id)[1].movie_id
            server.wait_for_sync(lambda: store.night(night.id).aftercare, timeout=20)
            bot.kill()  # the next-day question is due while the bot is down

            bot.start()
            server.wait_for_sync(
                lambda: any("How was" in m["text"] for m in server.sent(ANN)), timeout=60
            )
            bot.terminate()
            assert sum("How was" in m["text"] for m in server.sent(ANN)) == 1
            store.close()
        finally:
            bot.stop()
            profiles.close()
