"""The TMDB client against a TMDB-compatible server on 127.0.0.1 (real HTTP, real retries)."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from reelpick.posters.tmdb import (
    TMDB_ATTRIBUTION,
    AuthError,
    ImageError,
    TMDBClient,
    TMDBNotFound,
    TMDBUnavailable,
)
from reelpick.redact import redact
from tests.support.tmdb_server import API_KEY, READ_TOKEN, gzip_bomb, poster_path

TOY_STORY = 862  # tmdbId of movieId 1 (in the shared posters)
TOY_STORY_IMDB = 114709


@pytest.fixture
def client_for(make_config, monkeypatch, server):
    """A client over the test server; extra [posters] settings as keyword arguments."""
    made: list[TMDBClient] = []

    def make(api_url: str | None = None, token: bool = False, **settings: object) -> TMDBClient:
        values = {"timeout": 0.5, "retries": 1, "requests_per_second": 0} | settings
        text = f'[posters]\napi_url = "{api_url or server.api_url}"\n'
        text += "".join(f"{k} = {v!r}\n" for k, v in values.items())
        monkeypatch.setenv(
            "TMDB_READ_TOKEN" if token else "TMDB_API_KEY", READ_TOKEN if token else API_KEY
        )
        client = TMDBClient.from_config(make_config(text))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture(autouse=True)
def all_logs(caplog):
    """Capture every level from every logger (urllib3's debug lines quote request URLs)."""
    caplog.set_level(logging.DEBUG)
    yield caplog
    for secret in (API_KEY, READ_TOKEN):
        assert secret not in caplog.text
        for record in caplog.records:
            assert secret not in record.getMessage()


def test_attribution_is_tmdbs_wording():
    assert TMDB_ATTRIBUTION == (
        "This product uses the TMDB API but is not endorsed or certified by TMDB."
    )


def test_no_credentials_means_no_client(make_config):
    assert TMDBClient.from_config(make_config()) is None


def test_movie_and_poster_with_api_key(client_for, server):
    client = client_for()
    movie = client.movie(TOY_STORY)
    assert movie["id"] == TOY_STORY and movie["imdb_id"] == "tt0114709"
    path = client.poster_path(TOY_STORY, TOY_STORY_IMDB)
    assert path == poster_path(TOY_STORY)
    image = client.image(path, "w185")
    assert image.content_type == "image/jpeg" and image.data[:2] == b"\xff\xd8"
    assert server.count("image_with_credentials") == 0  # the key never goes to the image host


def test_bearer_token_goes_in_a_header(client_for, server):
    client = client_for(token=True)
    assert client.movie(TOY_STORY)["title"] == "Toy Story"
    assert server.count("unauthorized") == 0


def test_find_by_imdb_when_links_have_no_tmdb_id(client_for, server):
    client = client_for()
    assert client.poster_path(None, TOY_STORY_IMDB) == poster_path(TOY_STORY)
    assert server.count("find") == 1 and server.count("movie") == 0


def test_stale_tmdb_id_falls_back_to_find(client_for, server):
    client = client_for()
    assert client.poster_path(999_999_999, TOY_STORY_IMDB) == poster_path(TOY_STORY)
    assert server.count("movie") == 1 and server.count("find") == 1


def test_unknown_everywhere_is_not_found(client_for):
    client = client_for()
    with pytest.raises(TMDBNotFound, match="could not be found"):
        client.movie(999_999_999)
    with pytest.raises(TMDBNotFound, match="tt0000001 is not on TMDB"):
        client.poster_path(None, 1)
    with pytest.raises(TMDBNotFound, match="neither"):
        client.poster_path(None, None)


def test_movie_without_poster(client_for, server):
    server.without_poster.add(TOY_STORY)
    with pytest.raises(TMDBNotFound, match="has no poster"):
        client_for().poster_path(TOY_STORY, TOY_STORY_IMDB)


def test_bad_key_is_an_auth_error_with_tmdbs_message(client_for, server):
    server.fault("bad_key")
    with pytest.raises(AuthError, match="Invalid API key") as caught:
        client_for().movie(TOY_STORY)
    assert API_KEY not in str(caught.value)
    assert server.count("unauthorized") == 1  # 401 is not retried


def test_429_waits_for_retry_after_then_succeeds(client_for, server):
    server.fault("rate_limit", times=1)
    started = time.monotonic()
    assert client_for().movie(TOY_STORY)["id"] == TOY_STORY
    assert time.monotonic() - started >= 0.9  # Retry-After: 1
    assert server.count("movie") == 2


def test_429_that_persists_gives_up_after_the_retries(client_for, server):
    server.fault("rate_limit")
    with pytest.raises(TMDBUnavailable, match="429"):
        client_for(retries=1).movie(TOY_STORY)
    assert server.count("movie") == 2


def test_gzip_bomb_answer_is_refused_once_past_the_cap(client_for, server):
    gzip_bomb()  # built before the request, so that building it cannot hit the timeout
    server.fault("gzip_bomb", times=1)
    with pytest.raises(TMDBUnavailable, match=r"over 2,000,000 bytes once decompressed") as caught:
        client_for().movie(TOY_STORY)
    assert API_KEY not in str(caught.value)
    assert client_for().movie(TOY_STORY)["id"] == TOY_STORY  # the next answer is fine


def test_500_is_retried(client_for, server):
    server.fault("server_error", times=1)
    assert client_for().movie(TOY_STORY)["id"] == TOY_STORY
    server.fault("server_error")
    with pytest.raises(TMDBUnavailable, match="HTTP 500") as caught:
        client_for().movie(TOY_STORY)
    assert "Internal error" in str(caught.value)


def test_timeout_message_has_no_key(client_for, server):
    server.fault("slow")
    with pytest.raises(TMDBUnavailable) as caught:
        client_for(timeout=0.2, retries=1).movie(TOY_STORY)
    message = str(caught.value)
    assert "movie/862" in message and API_KEY not in message
    assert "api_key=***" in message  # requests quoted the URL; we redacted it


def test_connection_refused_message_has_no_key(client_for):
    # A port bound here and never listened on: connections are refused, and while it stays
    # bound no other socket (another test's server or connection) can take it.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with pytest.raises(TMDBUnavailable) as caught:
            client_for(api_url=f"http://127.0.0.1:{port}/3", retries=0).movie(TOY_STORY)
    assert API_KEY not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_configuration_is_cached_on_disk_and_refreshed_when_old(client_for, server):
    assert "w185" in client_for().poster_sizes()
    assert "w342" in client_for().poster_sizes()  # a new client, same cache folder
    assert server.count("configuration") == 1
    client_for(configuration_max_age_days=0).poster_sizes()
    assert server.count("configuration") == 2


def test_stale_configuration_is_used_when_refresh_fails(client_for, server, caplog):
    client_for().poster_sizes()
    server.fault("server_error")
    assert "w185" in client_for(configuration_max_age_days=0).poster_sizes()
    assert "using the old copy" in caplog.text


def test_configuration_failure_is_not_cached(client_for, server):
    server.fault("server_error")
    with pytest.raises(TMDBUnavailable):
        client_for().configuration()
    server.clear()
    assert client_for().configuration()["images"]["poster_sizes"]
    client_for().configuration()
    assert server.count("configuration") == 2 + 1  # two failed tries, then one good, cached


def test_image_checks_content_type_size_and_known_sizes(client_for, server):
    client = client_for()
    path = poster_path(TOY_STORY)
    server.fault("not_image", times=1)
    with pytest.raises(ImageError, match="text/html"):
        client.image(path, "w185")
    with pytest.raises(ImageError, match="over the limit"):
        client_for(max_bytes=1000).image(path, "w185")
    with pytest.raises(ImageError, match="unknown poster size 'w9999'"):
        client.image(path, "w9999")
    with pytest.raises(ImageError, match="HTTP 404"):
        client.image("/nothing-here.jpg", "w185")


def test_rate_limit_spaces_requests(client_for, server):
    client = client_for(requests_per_second=20)
    started = time.monotonic()
    for _ in range(5):
        client.movie(TOY_STORY)
    assert time.monotonic() - started >= 4 / 20 * 0.9


def test_redact_hides_known_secrets_and_any_api_key_parameter(client_for):
    client_for()
    assert API_KEY not in redact(f"GET /3/movie/1?api_key={API_KEY}&x=1")
    assert redact("url?api_key=someoneelses&x=1") == "url?api_key=***&x=1"
    logging.getLogger("urllib3.connectionpool").warning("retrying %s", f"/3/x?api_key={API_KEY}")


def test_a_long_running_client_refreshes_configuration(client_for, server):
    client = client_for(configuration_max_age_days=1)
    client.configuration()
    # As if the bot had been running for two days: age the copy in memory and on disk.
    value, fetched_at = client._configuration
    client._configuration = (value, fetched_at - 2 * 86400)
    disk, key = client._disk_cache(), f"configuration {client.api_url}"
    disk[key] = {**disk[key], "at": fetched_at - 2 * 86400}
    client.configuration()
    assert server.count("configuration") == 2
