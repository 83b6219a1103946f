"""A photo as the query, end to end over the Bot API test server, with the real VGG16 weights
in an image-search worker process (TensorFlow never enters this process).

The index is 30 real posters, fitted once in a subprocess; one worker serves the module (its
cold start is paid once, and once more after the test that kills it).
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from reelpick.app import Reelpick
from reelpick.bot.app import build_application
from reelpick.bot.pictures import PictureWorker
from reelpick.bot.services import SERVICES
from reelpick.config import Config
from reelpick.imagesearch import ImageSearchWorker
from tests.support.bot_api import BotAPIServer, album_captions, buttons, running
from tests.support.fixtures import ML_SMALL, POSTERS, VGG16_WEIGHTS, write_config
from tests.support.photo_variants import variants

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

USER = 6161
POSTER_IDS = sorted(int(p.stem) for p in POSTERS.glob("*.jpg"))
INDEXED = POSTER_IDS[::17][:30]
NOT_INDEXED = POSTER_IDS[1] if len(POSTER_IDS) > 1 else 0  # no posters: the fixture skips
OUT_OF_DATE = "That button is out of date."


@pytest.fixture(scope="module")
def index_config(tmp_path_factory: pytest.TempPathFactory, require_shared) -> Config:
    """cosine-CF and vgg16-poster over 30 posters, fitted in a subprocess (TensorFlow there).
    Needs the real weights and posters (a skip where they are absent, a failure under CI)."""
    require_shared(VGG16_WEIGHTS, POSTERS)
    root = tmp_path_factory.mktemp("photo-index")
    folder = root / "posters"
    folder.mkdir()
    for movie_id in INDEXED:
        (folder / f"{movie_id}.jpg").symlink_to(POSTERS / f"{movie_id}.jpg")
    config = write_config(
        root,
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{root / "cache"}"\n'
        f'[posters]\ndir = "{folder}"\n[plugins]\nenabled = ["cosine-cf", "vgg16-poster"]\n'
        f'[plugins.vgg16-poster]\nweights = "{VGG16_WEIGHTS}"\n',
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELPICK_")}
    script = (
        "import sys; from reelpick.config import load_config; from reelpick.app import Reelpick;"
        f"app = Reelpick.open(load_config({str(config.path)!r}));"
        "sys.exit(0 if all(p.fitted for p in app.registry.plugins.values()"
        " if p.name in app.config.enabled_plugins) else 1)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return config


@pytest.fixture(scope="module")
def photo_app(index_config: Config) -> Reelpick:
    """cosine-CF and vgg16-poster over the module's index (the conftest's ``reelpick_app`` is
    cosine-CF alone)."""
    app = Reelpick.open(index_config)  # tables from the cache: no TensorFlow here
    assert all(app.registry.plugins[n].fitted for n in ("cosine-cf", "vgg16-poster"))
    return app


@pytest.fixture(scope="module")
def worker(index_config: Config):
    shared = ImageSearchWorker(index_config, ["vgg16-poster"], idle_seconds=0, timeout=60)
    yield shared
    shared.close()


@pytest.fixture
def bot(tmp_path: Path, server: BotAPIServer, photo_app: Reelpick, worker):
    """A bot application over the module's app and worker; ``extra`` goes into [photo]."""

    def make(extra: str = ""):
        config = write_config(
            tmp_path,
            f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{tmp_path / "cache"}"\n'
            f'[plugins]\nenabled = ["cosine-cf", "vgg16-poster"]\n[posters]\ndir = "{POSTERS}"\n'
            f'[bot]\nbase_url = "{server.base_url}"\nbase_file_url = "{server.base_file_url}"\n'
            f"max_messages_per_chat_second = 0\n[photo]\n{extra}",
        )
        application = build_application(config, photo_app)
        services = application.bot_data[SERVICES]
        services.pictures.close()
        services.pictures = PictureWorker(config, worker)  # the module's worker, kept running
        return application

    return make


def texts(server: BotAPIServer, chat_id: int) -> list[str]:
    return [r.result["text"] for r in server.calls("sendMessage", chat_id) if r.ok]


def poster(movie_id: int) -> bytes:
    return (POSTERS / f"{movie_id}.jpg").read_bytes()


def label(app: Reelpick, movie_id: int) -> str:
    return app.dataset.label(movie_id)


async def test_a_photo_is_identified_and_answered_with_albums(server, bot, photo_app):
    known = INDEXED[3]
    photo = variants(poster(known))["scaled 60%"]
    modules = set(sys.modules)  # other test files may have loaded TensorFlow themselves
    async with running(bot()):
        sent = server.push_photo(USER, photo)
        await server.wait_for(
            lambda: (
                len(server.calls("sendMediaGroup", USER)) == 2
                or any(t.startswith("Sorry") for t in texts(server, USER))
            ),
            timeout=200,
        )
        reply = server.calls("sendMessage", USER)[0]
        assert reply.result["text"] == f"That looks like {label(photo_app, known)}."
        assert reply.result["reply_to_message"]["message_id"] == sent["message"]["message_id"]
        header = server.calls("sendMessage", USER)[1]
        assert header.result["text"].startswith(label(photo_app, known))
        first, second = server.calls("sendMediaGroup", USER)
        assert album_captions(first)[0].startswith("<b>cosine-CF</b>")
        assert album_captions(second)[0].startswith("<b>VGG16 posters</b>")

        [(text, look)] = buttons(reply.params)
        assert text == "Posters that look like this"
        server.push_callback(USER, reply.result["message_id"], look)
        await server.wait_for(lambda: len(server.calls("sendMediaGroup", USER)) == 3)
    lookalikes = server.calls("sendMediaGroup", USER)[2]
    assert album_captions(lookalikes)[0].startswith("<b>Posters that look like your photo</b>")
    assert f"1. {label(photo_app, known)}" not in album_captions(lookalikes)[0]
    assert [r.params["file_id"] for r in server.calls("getFile")] == [
        sent["message"]["photo"][-1]["file_id"]
    ]
    assert len(server.downloads) == 1
    assert not [m for m in set(sys.modules) - modules if m.startswith(("tensorflow", "keras"))]


async def test_an_image_document_is_identified(server, bot, photo_app):
    known = INDEXED[7]
    png = io.BytesIO()
    Image.open(io.BytesIO(variants(poster(known))["cropped 10%"])).save(png, "PNG")
    async with running(bot()):
        server.push_document(USER, "poster.png", png.getvalue(), "image/png")
        found = await server.wait_for(lambda: texts(server, USER), timeout=60)
    assert found[0] == f"That looks like {label(photo_app, known)}."


async def test_non_images_and_oversize_photos_are_refused(server, bot):
    async with running(bot("max_bytes = 2000000\n")):
        server.push_document(USER, "file.pdf", b"%PDF-1.4 not a picture", "application/pdf")
        server.push_document(USER + 1, "photo.jpg", b"\xff\xd8 truncated", "image/jpeg")
        server.push_photo(USER + 2, poster(INDEXED[0]), file_size=3_000_000)
        await server.wait_for(lambda: all(texts(server, USER + i) for i in range(3)))
    pdf, fake_jpeg, oversize = (texts(server, USER + i) for i in range(3))
    # A file that is no picture is the profile import's to refuse; a fake picture is ours.
    assert len(pdf) == 1 and pdf[0].endswith("file.pdf is neither.")
    assert fake_jpeg == [
        "I can only read pictures (JPEG, PNG, WebP…). That file isn't one I can open."
    ]
    assert oversize == [
        "That picture is too large for me (at most 2 MB). Please send a smaller one."
    ]
    # Only the file that claimed to be a small image was fetched.
    assert len(server.calls("getFile")) == 1 and len(server.downloads) == 1


async def test_unsure_answers_offer_guesses_and_forged_buttons_are_refused(server, bot, photo_app):
    # Nothing is ever confident here, so the closest posters come as buttons.
    async with running(bot("confident_share = 1.01\ncandidate_score = 0.0\n")):
        server.push_photo(USER, variants(poster(NOT_INDEXED))["rotated 3°"])
        question = (await server.wait_for(lambda: server.calls("sendMessage", USER), 60))[0]
        assert question.result["text"] == "I'm not sure which movie this is. Is it one of these?"
        choices = buttons(question.params)
        assert len(choices) == 4 and choices[-1][0] == "Posters that look like this"
        picks = [data for _, data in choices[:3]]
        token = picks[0].split(":")[2]
        guesses = {int(d.rsplit(":", 1)[1]) for d in picks}
        stranger = next(m for m in INDEXED if m not in guesses)
        message = question.result
        forged = [
            (USER, f"photo:pick:{token}:{stranger}"),  # a movie that was not offered
            (USER, f"photo:pick:{token}:{next(iter(guesses))}:1"),
            (USER, "photo:pick:zzzzzzzz:6"),
            (USER, "photo:look:deadbeef"),
            (USER, f"photo:look:{token.upper()}"),
            (USER + 9, f"photo:look:{token}"),  # another chat's token
            (USER, "photo:" + "9" * 60),
        ]
        ids = [forge_callback(server, chat, message, data) for chat, data in forged]
        await server.wait_for(lambda: all(server.callback_queries[i]["answered"] for i in ids))
        assert [server.callback_queries[i]["answered"].get("text") for i in ids] == [
            OUT_OF_DATE
        ] * len(forged)
        assert not server.calls("sendMediaGroup")

        chosen = picks[1]
        server.push_callback(USER, message["message_id"], chosen)
        await server.wait_for(lambda: len(server.calls("sendMediaGroup", USER)) == 2, 60)
    picked = int(chosen.rsplit(":", 1)[1])
    [edit] = server.calls("editMessageText", USER)
    assert edit.result["text"] == f"You picked {label(photo_app, picked)}."
    assert texts(server, USER + 9) == []


async def test_worker_killed_mid_request_then_the_next_photo_works(server, bot, photo_app, worker):
    known = INDEXED[11]
    if worker.pid is None:  # warm it, so the kill below lands on a request, not a start
        worker.search(poster(known), 2)
    starts = worker.starts
    async with running(bot()):
        os.kill(worker.pid, signal.SIGSTOP)  # the request stays unanswered until the kill
        pid = worker.pid
        server.push_photo(USER, poster(known))
        await server.wait_for(lambda: worker.busy, timeout=20)
        server.push_photo(USER, poster(known))  # the same chat, while the first is looked at
        await server.wait_for(lambda: texts(server, USER))
        assert texts(server, USER) == ["I'm still looking at your last photo. One moment, please."]
        os.kill(pid, signal.SIGKILL)
        await server.wait_for(lambda: len(texts(server, USER)) == 2, timeout=20)
        assert texts(server, USER)[1] == (
            "Sorry, I couldn't look at that photo just now. Please try again."
        )
        server.push_photo(USER, variants(poster(known))["brightness -20%"])
        await server.wait_for(lambda: len(texts(server, USER)) >= 3, timeout=200)
    assert texts(server, USER)[2] == f"That looks like {label(photo_app, known)}."
    assert worker.starts == starts + 1 and worker.pid not in (None, pid)


def forge_callback(server: BotAPIServer, chat_id: int, message: dict, data: str) -> str:
    """A callback query with any data at all, as a modified client can send."""
    query_id = str(4_100_000_000 + len(server.callback_queries))
    server.callback_queries[query_id] = {"answered": None}
    chat = server.chat(chat_id)
    server.push_update(
        {
            "callback_query": {
                "id": query_id,
                "from": server.user(chat_id),
                "message": {**message, "chat": server._chat_json(chat)},
                "chat_instance": str(chat_id * 7),
                "data": data,
            }
        }
    )
    time.sleep(0)  # updates keep their order
    return query_id


async def test_a_new_film_s_poster_is_compared_in_the_worker_never_in_the_bot(bot, photo_app):
    """vgg16-poster's answer about a catalogue movie comes from the image worker, where the
    model may load: it looked for the film's poster (this config reaches no TMDB, so there is
    none). Asked on the bot's own plugin threads, it loads nothing and says so."""
    from reelpick.catalogue import catalogue_id
    from reelpick.catalogue.store import StoredMovie

    photo_app.catalogue.store.put(
        [StoredMovie.described(1_377_001, "Quiet Meridian", 2025, ("Drama",))]
    )
    movie_id = catalogue_id(1_377_001)
    async with running(bot()) as application:
        services = application.bot_data[SERVICES]
        answer = await services.ask("vgg16-poster", movie_id, 5)
        inside = await asyncio.wrap_future(
            services.plugin_pool.submit(photo_app.ask, "vgg16-poster", movie_id, 5)
        )
        gone = await services.ask("vgg16-poster", catalogue_id(1_377_002), 5)
    assert answer.no_answer == "no poster to compare for this movie", answer
    assert inside.no_answer == "its poster is not compared yet", inside
    assert gone.no_answer is not None and gone.error is None, gone  # an id stored nowhere
