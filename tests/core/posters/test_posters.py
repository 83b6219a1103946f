"""PosterStore: offline folder, disk cache, TMDB over real HTTP with faults, placeholders, bulk fetch."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import diskcache
import pandas as pd
import pytest
from PIL import Image

from reelpick.cli.posters import cmd_posters_fetch
from reelpick.posters import (
    BadImage,
    FetchStatus,
    PosterSource,
    PosterStore,
    check_image,
    render_placeholder,
)
from reelpick.posters.placeholder import genre_colours
from tests.support.fixtures import ML_SMALL, POSTERS
from tests.support.tmdb_server import API_KEY, READ_TOKEN, TMDBServer, huge_png

TOY_STORY = 1  # movieId; on the test server (tmdbId 862)
JUMANJI = 2
NOT_ON_TMDB = 4  # Waiting to Exhale: in ml-latest-small, not among the server's 500 posters


@pytest.fixture
def store_for(make_config, monkeypatch, server, ml_small):
    """A PosterStore over ml-latest-small and the test server; [posters] settings as kwargs."""
    stores: list[PosterStore] = []

    def make(key: str | None = API_KEY, **settings: object) -> PosterStore:
        values = {
            "api_url": server.api_url,
            "timeout": 0.5,
            "retries": 1,
            "failure_pause_seconds": 0,
            "requests_per_second": 0,
        } | settings
        text = "[posters]\n" + "".join(f"{k} = {v!r}\n" for k, v in values.items())
        text = text.replace("'", '"')
        if key:
            monkeypatch.setenv("TMDB_API_KEY", key)
        else:
            monkeypatch.delenv("TMDB_API_KEY", raising=False)
        store = PosterStore(make_config(text), ml_small)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


@pytest.fixture(autouse=True)
def no_secrets_in_logs(caplog):
    caplog.set_level(logging.DEBUG)
    yield
    for secret in (API_KEY, READ_TOKEN):
        assert secret not in caplog.text


def requests_made(server: TMDBServer) -> int:
    return sum(server.hits.values())


# -- offline folder and placeholders ------------------------------------------------------


def test_folder_poster_needs_no_network(store_for, server):
    store = store_for(dir=str(POSTERS))
    poster = store.get(TOY_STORY)
    data = (POSTERS / "1.jpg").read_bytes()
    assert (poster.source, poster.placeholder, poster.data) == ("folder", False, data)
    assert poster.content_hash == hashlib.sha256(data).hexdigest()
    assert store.local(TOY_STORY) == poster
    assert requests_made(server) == 0


def test_damaged_folder_file_is_skipped(store_for, tmp_path, caplog):
    folder = tmp_path / "posters"
    folder.mkdir()
    (folder / "1.jpg").write_bytes((POSTERS / "1.jpg").read_bytes()[:5000])
    store = store_for(key=None, dir=str(folder))
    assert store.local(TOY_STORY) is None
    assert store.get(TOY_STORY).placeholder
    assert "unusable" in caplog.text


def test_no_key_gives_placeholders_without_network(store_for, server):
    store = store_for(key=None)
    poster = store.get(TOY_STORY)
    assert poster.placeholder and poster.source == "placeholder"
    assert store.local(TOY_STORY) is None
    assert requests_made(server) == 0


def test_sources_and_statuses_are_enums_equal_to_their_names(store_for):
    store = store_for(key=None)
    poster = store.get(TOY_STORY)
    assert poster.source is PosterSource.PLACEHOLDER and poster.source == "placeholder"
    outcome = store.fetch(TOY_STORY)
    assert outcome.status is FetchStatus.FAILED and outcome.status == "failed"
    assert json.dumps({outcome.status: 1}) == '{"failed": 1}'


def test_placeholder_is_a_readable_poster_shaped_png(store_for):
    poster = store_for(key=None).get(TOY_STORY)
    with Image.open(io.BytesIO(poster.data)) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert abs(height / width - 1.5) < 0.01
    assert poster.content_hash == hashlib.sha256(poster.data).hexdigest()
    # Deterministic: the same movie gives the same bytes (and hash) every time.
    assert store_for(key=None).get(TOY_STORY).content_hash == poster.content_hash


def test_placeholder_colour_follows_genres():
    assert genre_colours(("Horror",)) != genre_colours(("Comedy",))
    assert genre_colours(("Horror", "Comedy")) == genre_colours(("Horror", "Comedy"))
    horror = render_placeholder("Same Title", 2000, ("Horror",))
    comedy = render_placeholder("Same Title", 2000, ("Comedy",))
    assert horror != comedy
    top = Image.open(io.BytesIO(horror)).convert("RGB").getpixel((5, 5))
    assert top[0] > top[2]  # horror is red-ish


def test_placeholder_for_unknown_movie_and_absurd_titles(store_for):
    assert store_for(key=None).get(99_999_999).placeholder
    long_title = "Supercalifragilisticexpialidocious" * 4 + " and " + "very long words " * 20
    data = render_placeholder(long_title, None, ())
    assert Image.open(io.BytesIO(data)).size == (400, 600)


# -- image checks -------------------------------------------------------------------------


def test_check_image_accepts_a_real_poster_and_refuses_the_rest():
    data = (POSTERS / "1.jpg").read_bytes()
    assert check_image(data, 5_000_000, 4_000_000) == (185, 278)
    with pytest.raises(BadImage, match="not a decodable image"):
        check_image(data[: len(data) // 2], 5_000_000, 4_000_000)
    with pytest.raises(BadImage, match="not a decodable image"):
        check_image(b"<html>nope</html>", 5_000_000, 4_000_000)
    with pytest.raises(BadImage, match="pixel limit"):
        check_image(huge_png(), 5_000_000, 4_000_000)
    with pytest.raises(BadImage, match="byte limit"):
        check_image(data, 1000, 4_000_000)


@pytest.mark.parametrize(
    ("size", "why"),
    [((1, 17_000), "16,000-pixel limit for a side"), ((50, 1000), "10:1 limit for its aspect")],
)
def test_check_image_refuses_long_sides_and_thin_strips_from_the_header(size, why):
    out = io.BytesIO()
    Image.new("1", size).save(out, format="PNG")
    with pytest.raises(BadImage, match=why):
        check_image(out.getvalue(), 5_000_000, 40_000_000)


# -- TMDB: success, faults, negative cache -------------------------------------------------


def test_fetched_poster_is_cached_with_path_and_time(store_for, server):
    store = store_for()
    before = time.time()
    poster = store.get(TOY_STORY)
    assert (poster.source, poster.placeholder) == ("tmdb", False)
    assert poster.data == (POSTERS / "1.jpg").read_bytes()
    entry = store.entry(TOY_STORY)
    assert entry["tmdb_path"].endswith(".jpg") and entry["fetched_at"] >= before
    made = requests_made(server)
    assert store.get(TOY_STORY) == poster
    assert store_for().local(TOY_STORY) == poster  # another store, same disk cache
    assert requests_made(server) == made
    assert API_KEY not in str(list(store.cache.iterkeys()))


def test_sizes_are_cached_separately(store_for, server):
    store = store_for()
    assert store.get(TOY_STORY, "w185").source == "tmdb"
    assert store.local(TOY_STORY, "w342") is None
    assert store.get(TOY_STORY, "w342").source == "tmdb"
    assert server.count("image") == 2


def test_read_token_works_too(store_for, server, monkeypatch):
    store = store_for(key=None)
    monkeypatch.setenv("TMDB_READ_TOKEN", READ_TOKEN)
    assert store.get(TOY_STORY).source == "tmdb"


FAULTS = [
    ("bad_key", "TMDB refused the credentials"),
    ("rate_limit", "rate limited"),
    ("server_error", "HTTP 500"),
    ("slow", "timed out"),
    ("slow_image", "timed out"),
    ("truncated", "not a decodable image"),
    ("not_image", "text/html"),
    ("garbage", "not a decodable image"),
    ("huge", "pixel limit"),
]


@pytest.mark.parametrize(("fault", "reason"), FAULTS, ids=[f for f, _ in FAULTS])
def test_fault_gives_placeholder_caches_nothing_then_recovers(
    fault, reason, store_for, server, caplog
):
    store = store_for(timeout=0.3)
    server.fault(fault)
    poster = store.get(JUMANJI)  # no exception escapes
    assert poster.placeholder and poster.source == "placeholder"
    assert store.entry(JUMANJI) is None and store.known_missing(JUMANJI) is None
    outcome = store.fetch(TOY_STORY)
    assert outcome.status == "failed" and reason in outcome.reason
    assert API_KEY not in outcome.reason
    assert list(store.cache.iterkeys()) == []  # nothing bad on disk

    server.clear()
    poster = store.get(JUMANJI)
    assert poster.source == "tmdb" and poster.data == (POSTERS / "2.jpg").read_bytes()
    assert store.entry(JUMANJI) is not None
    made = requests_made(server)
    assert store.get(JUMANJI).source == "tmdb"
    assert requests_made(server) == made  # the good answer is served from the cache


def wait_until(condition, timeout: float = 30.0) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_missing_poster_is_remembered_then_asked_again(store_for, server):
    store = store_for(failure_ttl_hours=1.0 / 3600)  # remembered for one second
    assert store.get(NOT_ON_TMDB).placeholder
    assert "not on TMDB" in store.known_missing(NOT_ON_TMDB)
    made = requests_made(server)
    assert store.get(NOT_ON_TMDB).placeholder
    assert requests_made(server) == made  # not asked again while remembered
    assert wait_until(lambda: store.known_missing(NOT_ON_TMDB) is None), "never forgotten"
    store.get(NOT_ON_TMDB)
    assert requests_made(server) > made


def test_movie_without_poster_path_is_remembered(store_for, server):
    server.without_poster.add(862)
    store = store_for()
    assert store.get(TOY_STORY).placeholder
    assert "has no poster" in store.known_missing(TOY_STORY)


def test_not_found_tmdb_id_falls_back_to_imdb(store_for, server):
    server.fault("not_found")  # /movie/{id} answers 404; /find still knows the IMDb id
    assert store_for().get(TOY_STORY).source == "tmdb"
    assert server.count("find") == 1


def test_outage_pauses_tmdb_instead_of_waiting_on_every_query(store_for, server, caplog):
    store = store_for(failure_pause_seconds=60)
    server.fault("server_error")
    assert store.get(TOY_STORY).placeholder
    made = requests_made(server)
    assert store.get(JUMANJI).placeholder
    assert requests_made(server) == made  # paused: no request, so nothing to wait on
    assert "not asking TMDB again for 60 s" in caplog.text
    server.clear()
    assert store_for().get(JUMANJI).source == "tmdb"  # a new process starts afresh


def test_get_never_raises_even_when_the_cache_is_unusable(store_for, tmp_path):
    store = store_for(key=None)
    bad = tmp_path / "not-a-folder"
    bad.write_text("x")
    store.cache_path = bad / "posters"  # cannot be created: get must still answer
    assert store.get(TOY_STORY).placeholder


# -- reelpick posters fetch ---------------------------------------------------------------


def test_fetch_cli_needs_a_key(store_for, capsys):
    store = store_for(key=None)
    code = cmd_posters_fetch(store.config, argparse.Namespace(limit=5, size=None))
    assert code == 1 and "TMDB_API_KEY" in capsys.readouterr().err


def test_fetch_cli_rejects_unknown_size(store_for, capsys):
    store = store_for()
    code = cmd_posters_fetch(store.config, argparse.Namespace(limit=5, size="w9999"))
    assert code == 1 and "w185" in capsys.readouterr().err


def test_fetch_cli_stops_on_a_bad_key(store_for, server, capsys):
    store = store_for()
    store.client.configuration()  # cached, so the key check happens on the movies
    server.fault("bad_key")
    code = cmd_posters_fetch(store.config, argparse.Namespace(limit=200, size=None))
    assert code == 1 and "TMDB refused the credentials" in capsys.readouterr().err
    assert server.count("unauthorized") < 50  # stopped early, not 200 times
    assert API_KEY not in capsys.readouterr().out


def write_poster_dataset(folder: Path, extra_movies: int) -> list[int]:
    """ml-latest-small cut down to the 500 movies with a shared poster plus a few without."""
    with_posters = pd.read_csv(POSTERS / "posters.csv")["movieId"].tolist()
    movies = pd.read_csv(ML_SMALL / "movies.csv")
    others = movies[~movies.movieId.isin(with_posters)].movieId.head(extra_movies).tolist()
    keep = set(with_posters) | set(others)
    folder.mkdir()
    for name in ("movies.csv", "links.csv", "ratings.csv", "tags.csv"):
        frame = pd.read_csv(ML_SMALL / name, dtype=str, keep_default_na=False)
        frame[frame.movieId.astype(int).isin(keep)].to_csv(folder / name, index=False)
    return with_posters


@pytest.mark.slow
def test_bulk_fetch_resumes_after_being_killed(tmp_path, server):
    """A real `reelpick posters fetch` subprocess is killed midway; the rerun downloads only
    what is missing, and a third run downloads nothing."""
    data = tmp_path / "ml-posters"
    with_posters = write_poster_dataset(data, extra_movies=10)
    cache = tmp_path / "cache"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[data]\nsource = "{data}"\n[cache]\ndir = "{cache}"\n'
        f'[posters]\napi_url = "{server.api_url}"\ntimeout = 5.0\nretries = 1\n'
        "requests_per_second = 0.0\nconcurrency = 8\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELPICK_")}
    env["TMDB_API_KEY"] = API_KEY
    command = [sys.executable, "-m", "reelpick", "--config", str(config), "posters", "fetch"]
    server.delay = 0.01
    server.fault("slow_image")  # 10 ms per image, so that the kill lands midway

    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while server.count("image") < 150 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    first.kill()
    first.communicate()
    assert first.returncode == -9, "the fetch ended before it could be killed"

    with diskcache.Cache(str(cache / "posters")) as disk:
        have = {key for key in disk.iterkeys() if key.endswith("/w185")}
        known_missing = {key for key in disk.iterkeys() if key.startswith("missing/")}
    assert 0 < len(have) < 500
    server.clear()
    server.reset_counts()

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    expected = 500 - len(have)
    assert f"fetched {expected}, missing {10 - len(known_missing)}, failed 0" in second.stdout
    assert f"already had {len(have)}, known missing {len(known_missing)}" in second.stdout
    assert server.count("image") == expected  # nothing downloaded twice
    assert server.count("configuration") == 0  # cached on disk by the first run
    print(f"killed with {len(have)} of 500 stored; the rerun fetched {expected}")
    print(second.stdout.strip())
    assert API_KEY not in second.stdout + second.stderr

    server.reset_counts()
    third = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert "fetched 0, missing 0, failed 0, already had 500, known missing 10" in third.stdout
    assert requests_made(server) == 0
    with diskcache.Cache(str(cache / "posters")) as disk:
        for movie_id in with_posters[:20]:
            expected_bytes = (POSTERS / f"{movie_id}.jpg").read_bytes()
            assert disk[f"{movie_id}/w185"]["data"] == expected_bytes


def test_many_threads_share_one_fresh_store(store_for, server):
    """The bot calls get() from worker threads; the first calls race to open cache and client."""
    from concurrent.futures import ThreadPoolExecutor

    store = store_for()
    movie_ids = pd.read_csv(POSTERS / "posters.csv")["movieId"].head(24).tolist()
    with ThreadPoolExecutor(max_workers=8) as pool:
        posters = list(pool.map(store.get, movie_ids))
    assert [p.source for p in posters] == ["tmdb"] * 24
    assert server.count("image") == 24 and server.count("configuration") == 1


def test_local_ids_lists_folder_and_cached_posters_without_decoding(
    tmp_path: Path, ml_small
) -> None:
    from reelpick.config import load_config
    from reelpick.posters import PosterStore

    folder = tmp_path / "posters"
    folder.mkdir()
    for movie_id in (1, 2):
        (folder / f"{movie_id}.jpg").write_bytes((POSTERS / f"{movie_id}.jpg").read_bytes())
    (folder / "notes.txt").write_text("not a poster")
    (tmp_path / "config.toml").write_text(
        f'[cache]\ndir = "{tmp_path / "cache"}"\n[posters]\ndir = "{folder}"\n'
    )
    store = PosterStore(load_config(tmp_path / "config.toml"), ml_small)
    store.cache.set("3/w185", {"data": (POSTERS / "3.jpg").read_bytes()})
    store.cache.set("5/w342", {"data": (POSTERS / "5.jpg").read_bytes()})
    assert store.local_ids() == {1, 2, 3}
    assert store.local_ids("w342") == {1, 2, 5}
