"""reelpick.TMDBRecommendations: TMDB's "also liked" ids over real HTTP, their own cache
lifetime, no credentials, and TMDB left alone after an outage."""

from __future__ import annotations

import pytest

from reelpick import TMDBError, TMDBNotFound, TMDBRecommendations
from tests.support.tmdb_server import API_KEY, MADE_UP_ID


def test_recommended_ids_come_in_tmdbs_order_and_are_cached(make_app, server):
    app = make_app()
    reader = TMDBRecommendations(app.config)
    assert reader.available
    expected = server.recommended(MADE_UP_ID)
    server.reset_counts()
    assert reader.recommended(MADE_UP_ID) == expected[:20]  # one page by default
    assert reader.recommended(MADE_UP_ID, pages=2) == expected  # the stand-in has two
    assert reader.recommended(MADE_UP_ID, pages=5) == expected  # never past its last page
    assert server.count("movie") == 2
    assert MADE_UP_ID not in expected
    reader.close()


def test_the_cache_lifetime_is_the_recommendations_own(make_app, server):
    app = make_app(text="[tmdb]\nrecommendations_ttl_days = 0.0\nlists_ttl_hours = 6.0\n")
    reader = TMDBRecommendations(app.config)
    server.reset_counts()
    reader.recommended(862)
    reader.recommended(862)
    assert server.count("movie") == 2  # kept no time at all, whatever the lists' lifetime
    reader.close()


def test_without_credentials_it_asks_nothing(make_app, server):
    app = make_app(key=False)
    reader = TMDBRecommendations(app.config)
    server.reset_counts()
    assert not reader.available
    with pytest.raises(TMDBError, match=r"needs a TMDB key \(TMDB_API_KEY\)"):
        reader.recommended(862)
    assert sum(server.hits.values()) == 0


def test_an_unknown_movie_and_an_outage(make_app, server):
    app = make_app()
    reader = TMDBRecommendations(app.config)
    with pytest.raises(TMDBNotFound):
        reader.recommended(999_999_999)
    server.fault("server_error")
    try:
        with pytest.raises(TMDBError) as raised:
            reader.recommended(8844)
        assert raised.value.outage and API_KEY not in str(raised.value)
        server.clear()  # TMDB is back, but it is left alone for failure_pause_seconds
        server.reset_counts()
        with pytest.raises(TMDBError, match="paused after an outage") as paused:
            reader.recommended(8844)
        assert paused.value.outage
        server.wait_idle()
        assert server.count("movie") == 0  # answered without asking
    finally:
        server.clear()
        reader.close()
