"""Small pieces of the bot that need no server: captions, album splitting, limits, titles."""

from __future__ import annotations

import logging

import pytest

from reelpick.bot.limits import ChatLimiter
from reelpick.bot.media import _chunks, album_caption, visible_length
from reelpick.bot.resolve import choice_keyboard, clean_title, parse_choice
from reelpick.bot.services import FeatureStates
from reelpick.data.search import Candidate
from reelpick.posters import Poster
from reelpick.redact import protect, redact


def test_album_caption_fits_telegrams_limit_and_escapes_html():
    titles = [f"A <very> long & winding title number {i} " + "x" * 150 for i in range(10)]
    caption = album_caption("<b>cosine-CF</b> · like Heat (1995)", titles)
    assert visible_length(caption) <= 1024
    assert caption.endswith("\n…")
    assert "&lt;very&gt; long &amp; winding" in caption
    short = album_caption("<b>X</b>", ["Heat (1995)", "Alien (1979)"])
    assert short == "<b>X</b>\n1. Heat (1995)\n2. Alien (1979)"


@pytest.mark.parametrize(
    ("count", "sizes"),
    [(1, [1]), (2, [2]), (10, [10]), (11, [6, 5]), (12, [6, 6]), (21, [7, 7, 7])],
)
def test_albums_hold_2_to_10_photos(count, sizes):
    posters = [Poster.of(i, bytes([i]), "folder") for i in range(count)]
    assert [len(c) for c in _chunks(posters)] == sizes


def test_chat_limiter_warns_once_per_window():
    limiter = ChatLimiter(per_minute=2)
    assert [limiter.check(1, now=t) for t in (0, 1, 2, 3)] == ["ok", "ok", "warn", "drop"]
    assert limiter.check(2, now=3) == "ok"  # other chats are not affected
    assert limiter.wait_seconds(1, now=3) == pytest.approx(57)
    assert limiter.check(1, now=60.5) == "ok"  # the first request left the window
    assert ChatLimiter(per_minute=0).check(1) == "ok"  # 0 switches the limit off


def test_clean_title():
    assert clean_title("  The   Matrix\n1999 ") == ("The Matrix 1999", "")
    assert clean_title("🍿🍿")[1].startswith("I can only look up movie titles")
    assert clean_title("")[1].startswith("Send me a movie title")
    assert clean_title("a" * 201)[1].startswith("That is too long")
    assert clean_title("Amélie") == ("Amélie", "")


def test_choice_buttons_round_trip():
    long = Candidate(1, "A" * 80 + " (1999)", 90.0)
    markup = choice_keyboard([Candidate(6, "Heat (1995)", 100.0), long])
    rows = markup.inline_keyboard
    assert rows[0][0].text == "Heat (1995)" and rows[0][0].callback_data == "pick:6"
    assert len(rows[1][0].text) == 60 and rows[1][0].text.endswith("…")
    assert parse_choice("pick:6") == 6
    assert parse_choice("pick:6; drop table") is None
    assert parse_choice("set:k:3") is None


def test_protected_secrets_are_redacted_from_log_records(caplog):
    protect("777:do-not-log-me")
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").warning("POST http://x/bot%s/getMe", "777:do-not-log-me")
    try:
        raise RuntimeError("token 777:do-not-log-me rejected")
    except RuntimeError:
        logging.getLogger("some.library").exception("failed")
    assert "do-not-log-me" not in caplog.text
    assert "http://x/bot***/getMe" in caplog.text
    assert redact("a 777:do-not-log-me b") == "a *** b"


def test_feature_states_are_found_by_type_and_closed_last_added_first():
    closed: list[str] = []

    class Worker:
        def __init__(self, name: str) -> None:
            self.name = name

        def close(self) -> None:
            closed.append(self.name)

    class Cards:  # nothing to close
        pass

    class Store(Worker):
        pass

    states = FeatureStates()
    worker = states.add(Worker("worker"))
    cards = states.add(Cards())
    states.add(Store("store"))
    assert states.get(Worker) is worker and states.get(Cards) is cards
    assert states.get(Store).name == "store"  # a subclass is a state of its own
    replacement = states.add(Worker("replacement"))  # a test's own state replaces the first
    assert states.get(Worker) is replacement
    with pytest.raises(KeyError):
        states.get(Poster)
    states.close()
    assert closed == ["store", "replacement"]
