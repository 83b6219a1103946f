"""The tmdb plugin ("People on TMDB also liked") over real HTTP against the TMDB stand-in:
TMDB's order, catalogue movies, the disk cache, no key, TMDB down, and evaluation leaving it
out. EASE (small) answers beside it, to show one plugin's trouble never reaches another."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest

from reelpick import ReelpickError
from reelpick.app import Reelpick
from reelpick.data import Dataset
from reelpick.evaluation.cold import evaluate_cold
from reelpick.evaluation.ratings import ONLINE_SKIP, evaluate
from reelpick.evaluation.topn import evaluate_topn
from reelpick.evaluation.tuning import tune_plugin
from reelpick.registry import Registry
from reelpick.testing import check_plugin, small_dataset
from tests.support.fixtures import ML_SMALL, POSTERS, stand_in_config
from tests.support.tmdb_server import API_KEY, DUNE_PART_TWO, MADE_UP_ID, TMDBServer

TOY_STORY, JUMANJI = 1, 2  # both on the stand-in (it knows the movies of the shared posters)
SLOW = 3.0  # seconds the stand-in's "slow" fault waits, well past the client's timeout


@pytest.fixture(scope="module")
def server(require_shared):
    require_shared(ML_SMALL, POSTERS / "posters.csv")
    with TMDBServer(retry_after=1, delay=SLOW) as running:
        yield running


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server, ml_small):
    """``make_app(key=True, folder=None, timeout=10.0)``: ml-latest-small with EASE and tmdb
    enabled and fitted, TMDB at the stand-in (``timeout``: the client's, short only where a
    test makes TMDB slow); cache and data under ``folder`` (default: this test's)."""
    opened: list[Reelpick] = []

    def make(key: bool = True, folder: Path | None = None, timeout: float = 10.0) -> Reelpick:
        config = stand_in_config(
            folder or tmp_path,
            server,
            monkeypatch,
            key=key,
            timeout=timeout,
            text='[plugins]\nenabled = ["ease", "tmdb"]\n[plugins.ease]\nmax_items = 300\n',
        )
        registry = Registry(config, load_entry_points=False)
        assert registry.fit(ml_small) == {"ease": None, "tmdb": None}
        app = Reelpick(config, ml_small, registry)
        opened.append(app)
        return app

    server.clear()
    yield make
    server.clear()
    for app in opened:
        if "catalogue" in app.__dict__:
            app.catalogue.close()


def tmdb_order(server: TMDBServer, tmdb_id: int, dataset: Dataset, query: int | None) -> list[int]:
    """What TMDB recommends for ``tmdb_id`` (both pages, as the stand-in serves them) as
    dataset movies, in TMDB's order: what the plugin should say."""
    movie_of: dict[int, int] = {}
    for movie_id, linked in dataset.movies["tmdb_id"].dropna().items():
        movie_of.setdefault(int(linked), int(movie_id))
    ids = server.recommended(tmdb_id)
    found = [movie_of[i] for i in ids if i in movie_of and movie_of[i] != query]
    return list(dict.fromkeys(found))


def answers_by_plugin(app: Reelpick, movie_id: int, k: int = 10) -> dict:
    return {answer.plugin: answer for answer in app.similar(movie_id, k)}


def test_a_dataset_movie_gets_dataset_movies_in_tmdbs_order(make_app, server):
    app = make_app()
    expected = tmdb_order(server, 862, app.dataset, TOY_STORY)  # Toy Story is TMDB 862
    assert len(expected) >= 10  # the stand-in recommends 40 of its ~500 dataset movies
    answers = answers_by_plugin(app, TOY_STORY)
    tmdb, ease = answers["tmdb"], answers["ease"]
    assert tmdb.ok, tmdb
    assert tmdb.label == "People on TMDB also liked"
    assert [n.movie_id for n in tmdb.neighbours] == expected[:10]
    assert TOY_STORY not in [n.movie_id for n in tmdb.neighbours]
    scores = [n.score for n in tmdb.neighbours]
    assert all(isinstance(s, float) and math.isfinite(s) for s in scores)
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == len(scores)
    assert ease.ok and ease.neighbours  # the other plugin answers as ever
    three = app.registry.ask("tmdb", TOY_STORY, 3)
    assert [n.movie_id for n in three.neighbours] == expected[:3]


def test_a_catalogue_movie_is_answered_by_its_own_tmdb_id(make_app, server):
    app = make_app()
    movie_id = app.add_from_tmdb(MADE_UP_ID)  # "Saltwater Atlas" (2025), only on the stand-in
    assert movie_id not in app.dataset
    answers = answers_by_plugin(app, movie_id, 5)
    tmdb = answers["tmdb"]
    assert tmdb.ok, tmdb
    assert [n.movie_id for n in tmdb.neighbours] == tmdb_order(
        server, MADE_UP_ID, app.dataset, None
    )[:5]
    assert all(n.movie_id in app.dataset for n in tmdb.neighbours)
    assert answers["ease"].no_answer is not None
    assert answers["ease"].no_answer.startswith("no ratings yet")


def test_a_catalogue_movie_s_list_names_the_catalogue_movies_tmdb_recommends(make_app, server):
    """A new film's "also liked" are mostly other new films: those in the local catalogue
    are named (by their catalogue ids) in TMDB's order, among the dataset's movies."""
    app = make_app()
    movie_id = app.add_from_tmdb(MADE_UP_ID)
    (before,) = app.similar(movie_id, 5, ["tmdb"])
    dune = app.add_from_tmdb(DUNE_PART_TWO)
    (after,) = app.similar(movie_id, 5, ["tmdb"])
    assert before.ok and after.ok, (before, after)
    # The stand-in lists the other new film first; until it is in the catalogue it is
    # left out, then it leads, and the dataset's movies follow in TMDB's order.
    assert dune not in [n.movie_id for n in before.neighbours]
    expected = tmdb_order(server, MADE_UP_ID, app.dataset, None)
    assert [n.movie_id for n in after.neighbours] == [dune, *expected[:4]]
    (back,) = app.similar(dune, 3, ["tmdb"])
    assert back.neighbours[0].movie_id == movie_id


def test_a_second_ask_is_served_from_the_disk_cache(make_app, server, tmp_path):
    app = make_app(folder=tmp_path / "first")
    server.reset_counts()
    first = app.registry.ask("tmdb", JUMANJI, 10)
    assert first.ok and server.count("movie") == 2  # the two pages of TMDB's list
    again = app.registry.ask("tmdb", JUMANJI, 10)
    assert again.neighbours == first.neighbours and server.count("movie") == 2
    restarted = make_app(folder=tmp_path / "first")  # a new process over the same cache
    assert restarted.registry.ask("tmdb", JUMANJI, 10).neighbours == first.neighbours
    assert server.count("movie") == 2


def test_without_a_key_it_says_so_and_the_others_answer(make_app, server):
    server.reset_counts()
    app = make_app(key=False)  # the fit does not fail
    answers = answers_by_plugin(app, TOY_STORY)
    assert answers["tmdb"].no_answer == "needs a TMDB key (TMDB_API_KEY)"
    assert answers["tmdb"].error is None
    assert answers["ease"].ok and answers["ease"].neighbours
    assert sum(server.hits.values()) == 0  # nothing was asked


def test_movies_tmdb_cannot_answer_for_get_a_reason(make_app, ml_small):
    app = make_app()
    no_link = ml_small.movies.index[ml_small.movies["tmdb_id"].isna()]
    assert len(no_link), "ml-latest-small has movies without a tmdbId in links.csv"
    answer = app.registry.ask("tmdb", int(no_link[0]), 10)
    assert answer.no_answer == "no TMDB id is known for this movie"
    known = set(TMDBServer().movies)  # the stand-in knows only the movies of the posters
    unknown = next(
        int(m) for m, t in ml_small.movies["tmdb_id"].dropna().items() if int(t) not in known
    )
    assert app.registry.ask("tmdb", unknown, 10).no_answer == "TMDB does not know this movie"
    assert app.registry.ask("tmdb", 10**8, 10).no_answer is not None  # not a movie at all


@pytest.mark.parametrize("fault", ["server_error", "slow"])
def test_tmdb_down_is_a_no_answer_and_never_stops_the_others(make_app, server, fault, caplog):
    """An outage costs one try and one retry, then TMDB is left alone for a while: the next
    question is answered at once, without a request (how long each takes is the benches'
    business; here, the requests are counted)."""
    app = make_app(timeout=0.5)  # the stand-in's slow answers take SLOW
    server.fault(fault)  # until cleared
    caplog.set_level(logging.DEBUG)
    server.reset_counts()
    answers = answers_by_plugin(app, TOY_STORY)
    assert answers["tmdb"].no_answer == "TMDB cannot be reached right now", answers["tmdb"]
    assert answers["ease"].ok and answers["ease"].neighbours
    server.wait_idle()  # the slow answers the client gave up on end now
    assert server.count("movie") == 2  # one try and its one retry ([posters] retries = 1)
    server.reset_counts()
    again = app.registry.ask("tmdb", JUMANJI, 10)  # paused after the outage
    assert again.no_answer == "TMDB cannot be reached right now"
    server.wait_idle()
    assert server.count("movie") == 0
    assert all(API_KEY not in record.getMessage() for record in caplog.records)
    assert API_KEY not in caplog.text


def test_a_refused_key_is_a_no_answer_without_the_key(make_app, server, caplog):
    app = make_app()
    server.fault("bad_key")
    caplog.set_level(logging.DEBUG)
    answer = app.registry.ask("tmdb", TOY_STORY, 10)
    assert answer.no_answer is not None and "TMDB refused" in answer.no_answer
    assert "401" in answer.no_answer and API_KEY not in answer.no_answer
    assert API_KEY not in caplog.text


def test_evaluation_and_tuning_leave_the_online_plugin_out(make_app, server, ml_small, capsys):
    app = make_app()
    server.reset_counts()
    small = small_dataset(ml_small, 200)
    lines: list[str] = []
    report = evaluate(app.config, small, plugins=["tmdb"], progress=lines.append)
    assert report.plugins == []
    assert report.skipped == [{"name": "tmdb", "reason": ONLINE_SKIP}]
    assert lines[-1] == f"  tmdb: skipped, {ONLINE_SKIP}"
    topn = evaluate_topn(app.config, small, ["tmdb"])
    assert topn.results == [] and {"name": "tmdb", "reason": ONLINE_SKIP} in topn.skipped
    lines.clear()
    evaluate_cold(app.config, small, ["tmdb"], progress=lines.append)
    assert f"  tmdb: skipped, {ONLINE_SKIP}" in lines
    with pytest.raises(ReelpickError, match="tmdb cannot be tuned: online"):
        tune_plugin(app.config, small, "tmdb", {"pages": [1, 2]})
    assert sum(server.hits.values()) == 0  # nothing was measured against TMDB


def test_the_plugin_passes_the_contract_kit(make_app, ml_small, tmp_path):
    from reelpick.plugins.tmdb import TMDBAlsoLiked

    app = make_app()  # its config points at the stand-in, with the key in the environment
    report = check_plugin(
        TMDBAlsoLiked,
        ml_small,
        name="tmdb",
        config=app.config,
        queries=[TOY_STORY, JUMANJI, 3, 6, 10, 32, 50, 260, 296, 318],
        cache_root=tmp_path / "contract",
        expect_cache=False,  # it learns nothing: its fit only reads the dataset's links
    )
    assert report.answered >= 5, report
