"""The TMDB client's catalogue calls against the stand-in on 127.0.0.1: TMDB's shapes, one
request per answer while its cached lifetime lasts, the lifetimes per kind, and no
credentials in the cache."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from reelpick.posters.tmdb import APPEND, TMDBClient, TMDBNotFound
from tests.support.tmdb_server import API_KEY, DUNE_PART_TWO, MADE_UP_ID


@pytest.fixture
def client_for(make_config, monkeypatch, server):
    made: list[TMDBClient] = []

    def make(tmdb: str = "") -> TMDBClient:
        monkeypatch.setenv("TMDB_API_KEY", API_KEY)
        text = (
            f'[posters]\napi_url = "{server.api_url}"\ntimeout = 2.0\nretries = 1\n'
            f"requests_per_second = 0\n[tmdb]\n{tmdb}"
        )
        client = TMDBClient.from_config(make_config(text))
        assert client is not None
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def test_details_with_every_appended_part_in_one_request(client_for, server):
    client = client_for()
    server.reset_counts()
    details, fetched_at = client.details(MADE_UP_ID)
    assert server.log[-1][1] == f"movie/{MADE_UP_ID}"
    assert set(APPEND.split(",")) <= set(details)
    assert details["credits"]["crew"][0] == {
        "id": 900, "name": "Mira Okafor", "job": "Director", "department": "Directing",
    }  # fmt: skip
    assert details["watch/providers"]["results"]["US"]["link"].endswith("locale=US")
    again, at = client.details(MADE_UP_ID)
    assert again == details and at == fetched_at and server.count("movie") == 1


def test_each_call_is_cached_under_its_parameters(client_for, server):
    client = client_for()
    today = datetime.date.today()
    calls = [
        lambda: client.search_movies("dune part two"),
        lambda: client.search_movies("dune part two", language="de-DE"),
        lambda: client.recommendations(MADE_UP_ID),
        lambda: client.movie_list("now_playing"),
        lambda: client.movie_list("upcoming", region="DE"),
        lambda: client.discover(since="2024-01-01"),
        lambda: client.changes(
            start_date=(today - datetime.timedelta(days=13)).isoformat(),
            end_date=today.isoformat(),
        ),
        lambda: client.provider_list("DE"),
        lambda: client.watch_providers(DUNE_PART_TWO),
    ]
    server.reset_counts()
    first = [call() for call in calls]
    assert len(server.log) == len(calls)  # each a request of its own
    assert [call() for call in calls] == first and len(server.log) == len(calls)
    assert [r["id"] for r in first[0]["results"]] == [DUNE_PART_TWO]
    assert first[0]["total_results"] == 1 and first[0]["page"] == 1
    assert {"provider_name", "provider_id", "display_priority"} <= set(first[7]["results"][0])


def test_lifetimes_differ_by_kind(client_for, server):
    client = client_for("providers_ttl_hours = 0.0\n")  # providers: never kept
    client.details(MADE_UP_ID)
    client.watch_providers(MADE_UP_ID)
    server.reset_counts()
    client.details(MADE_UP_ID)
    client.watch_providers(MADE_UP_ID)
    assert server.log == [("GET", f"movie/{MADE_UP_ID}/watch/providers", 200)]


def test_a_refresh_asks_tmdb_again(client_for, server):
    client = client_for()
    client.details(MADE_UP_ID)
    server.reset_counts()
    client.details(MADE_UP_ID, refresh=True)
    assert server.count("movie") == 1


def test_not_found_is_remembered(client_for, server):
    client = client_for()
    server.reset_counts()
    for _ in range(2):
        with pytest.raises(TMDBNotFound):
            client.details(999_999_999)
    assert server.count("movie") == 1


def test_the_key_is_neither_in_cache_keys_nor_files(client_for, server):
    client = client_for()
    client.search_movies("saltwater atlas")
    client.details(MADE_UP_ID)
    cache = client._disk_cache()
    assert all(API_KEY not in str(key) for key in cache.iterkeys())
    files = [p for p in Path(cache.directory).rglob("*") if p.is_file()]
    assert files  # the answers are on disk
    for path in files:
        assert API_KEY.encode() not in path.read_bytes()


def test_rate_limited_answers_are_retried_after_retry_after(client_for, server):
    client = client_for()
    server.reset_counts()
    server.fault("rate_limit", times=1)
    assert client.search_movies("saltwater")["results"][0]["id"] == MADE_UP_ID
    assert [status for _, _, status in server.log] == [429, 200]
