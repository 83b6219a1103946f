"""Movie nights and people's data: a voter who deletes their profile before the poll closes
gets no "seen" mark written back, and /movienight in a private chat starts nothing."""

from __future__ import annotations

from reelpick.bot.services import SERVICES
from tests.support.bot_api import buttons
from tests.support.movienight import ALICE, BOB, GROUP, Bot

HEAT, TOY_STORY = 6, 1  # ml-latest-small movieIds


async def test_a_poll_closed_after_forget_marks_only_people_still_known(bot: Bot) -> None:
    server = bot.server
    profiles = bot.application.bot_data[SERVICES].profiles
    profiles.rate(f"tg:{ALICE}", HEAT, 4.0)
    profiles.rate(f"tg:{BOB}", TOY_STORY, 5.0)
    night, _ = await bot.open_vote(GROUP, "Heat", user=ALICE)
    await bot.vote(night, ALICE, [0])
    await bot.vote(night, BOB, [0])
    await bot.votes_are(night, [2] + [0] * (len(bot.store.options(night.id)) - 1))

    # Bob deletes his profile in his private chat while the poll is still open.
    server.push_command(BOB, "forget", user_id=BOB)
    ask = await server.wait_for(
        lambda: next((r for r in server.calls("sendMessage", BOB) if buttons(r.params)), None)
    )
    delete = dict(buttons(ask.params))["Delete everything"]
    server.push_callback(BOB, ask.result["message_id"], delete, user_id=BOB)
    await server.wait_for(lambda: len(profiles.profile(f"tg:{BOB}")) == 0)

    server.push_command(GROUP, "night_close", user_id=ALICE)
    await bot.announced(GROUP)
    winner = await server.wait_for(lambda: bot.store.night(night.id).winner)
    # Alice, still known, gets the winner as seen; Bob's profile stays empty.
    await server.wait_for(lambda: winner in profiles.profile(f"tg:{ALICE}").movies)
    await server.wait_for(lambda: bot.store.night(night.id).aftercare)
    assert len(profiles.profile(f"tg:{BOB}")) == 0
    assert profiles.entries(f"tg:{BOB}") == []


async def test_movienight_in_a_private_chat_is_one_line(bot: Bot) -> None:
    bot.server.push_command(ALICE, "movienight", "Heat", user_id=ALICE)
    # In a private chat the answer does not quote the command: the chat's only message.
    [reply] = await bot.server.wait_for(lambda: bot.server.sent(ALICE), timeout=15)
    assert reply["text"] == "Movie nights are for groups: add me to a group and start one there."
    assert bot.store.current(ALICE) is None
    assert not bot.server.calls("sendPoll")
