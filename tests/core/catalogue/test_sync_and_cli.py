"""``reelpick catalogue sync`` (killed and resumed) and ``reelpick info`` over the TMDB
stand-in on 127.0.0.1."""

from __future__ import annotations

import datetime
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from reelpick.catalogue import CATALOGUE_ID_BASE, WITHOUT_TMDB
from reelpick.cli.conventions import EXIT_NO_MATCH
from reelpick.cli.main import main
from tests.support.fixtures import ML_SMALL, REPO
from tests.support.tmdb_server import API_KEY, DUNE_PART_TWO, MADE_UP_ID, TMDBServer

SYNTHETIC = 240


@pytest.fixture(scope="module")
def server():
    with TMDBServer(retry_after=1) as running:
        running.add_synthetic(SYNTHETIC)
        yield running


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server):
    """Run ``reelpick`` in this process over the stand-in; (exit code, stdout, stderr)."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[data]\nsource = "{ML_SMALL}"\ndir = "{tmp_path / "data"}"\n'
        f'[cache]\ndir = "{tmp_path / "cache"}"\n'
        f'[posters]\napi_url = "{server.api_url}"\nrequests_per_second = 40.0\n'
        "timeout = 5.0\nretries = 2\nconcurrency = 4\n"
    )
    monkeypatch.setenv("REELPICK_CONFIG", str(config))
    monkeypatch.setenv("TMDB_API_KEY", API_KEY)

    def run(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    run.config = config  # type: ignore[attr-defined]
    run.db = tmp_path / "data" / "catalogue.sqlite3"  # type: ignore[attr-defined]
    return run


def stored_ids(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT tmdb_id FROM movies")]


def test_sync_killed_halfway_and_resumed_stores_every_movie_once(cli, server, capsys):
    since = (datetime.date.today() - datetime.timedelta(days=60)).isoformat()
    expected = set(server.released_between(since, None))
    assert len(expected) >= SYNTHETIC  # every synthetic release is within the window
    server.reset_counts()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "reelpick", "-q", "catalogue", "sync", "--since", since]
    process = subprocess.Popen(command, env=env, cwd=REPO, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if cli.db.exists():
                try:
                    if len(stored_ids(cli.db)) >= 60:
                        break
                except sqlite3.OperationalError:
                    pass  # the schema is being written
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read().decode()  # killed mid-way
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    halfway = stored_ids(cli.db)
    assert 60 <= len(halfway) < len(expected)
    code, out, _ = cli("catalogue", "sync", "--since", since, "--json", capsys=capsys)
    assert code == 0
    report = json.loads(out)
    assert report["complete"] and report["failed"] == 0
    assert report["stored"] == len(expected) - len(halfway)
    final = stored_ids(cli.db)
    assert sorted(final) == sorted(expected)  # every movie, each once (one row per id)
    # Fetched once, but for the few in flight when the process was killed (<= 2 per worker).
    fetched = Counter(
        path
        for _, path, status in server.log
        if path.startswith("movie/") and path[6:].isdigit() and status == 200
    )
    assert set(fetched) == {f"movie/{i}" for i in expected}
    assert sum(n - 1 for n in fetched.values()) <= 8
    # A third run finds nothing new.
    code, out, _ = cli("catalogue", "sync", "--since", since, "--json", capsys=capsys)
    assert json.loads(out)["stored"] == 0 and sorted(stored_ids(cli.db)) == sorted(expected)


def test_sync_limit_stops_early_and_the_next_run_goes_on(cli, server, capsys):
    since = (datetime.date.today() - datetime.timedelta(days=60)).isoformat()
    expected = set(server.released_between(since, None))
    code, out, _ = cli(
        "catalogue", "sync", "--since", since, "--limit", "30", "--json", capsys=capsys
    )
    first = json.loads(out)
    assert code == 0 and first["stored"] == 30 and not first["complete"]
    code, out, _ = cli("catalogue", "sync", "--since", since, "--json", capsys=capsys)
    assert json.loads(out)["complete"]
    assert sorted(stored_ids(cli.db)) == sorted(expected)


def test_info_of_a_movie_only_tmdb_knows(cli, capsys):
    code, out, _ = cli("info", "Saltwater Atlas", "--region", "FR", "--json", capsys=capsys)
    assert code == 0
    body = json.loads(out)
    assert body["movie"]["id"] == CATALOGUE_ID_BASE + MADE_UP_ID
    assert body["movie"]["source"] == "catalogue" and body["movie"]["year"] == 2025
    assert body["movie"]["directors"] == ["Mira Okafor"]
    assert body["where_to_watch"]["region"] == "FR"
    assert body["where_to_watch"]["buy"] == ["Apple TV", "Google Play Movies"]
    code, out, _ = cli("info", "Saltwater Atlas", capsys=capsys)
    assert code == 0 and out.startswith("Saltwater Atlas (2025) · 101 min · Drama, Sci-Fi\n")
    assert "Streaming data: JustWatch" in out and WITHOUT_TMDB not in out


def test_info_prefers_tmdbs_exact_title_to_a_partial_local_one(cli, capsys):
    code, out, _ = cli("info", "Dune Part Two", "--json", capsys=capsys)
    assert code == 0 and json.loads(out)["movie"]["tmdb_id"] == DUNE_PART_TWO


def test_info_lists_local_and_online_candidates_when_ambiguous(cli, capsys):
    code, out, err = cli("info", "Dune", capsys=capsys)
    assert code == EXIT_NO_MATCH and out == ""
    assert "Dune (1984)" in err and "Dune (2000)" in err
    assert f"Dune: Part Two (2024)  [TMDB: reelpick info tmdb:{DUNE_PART_TWO}]" in err
    code, out, _ = cli("info", "Dune", "--json", capsys=capsys)
    body = json.loads(out)
    assert [c["movie_id"] for c in body["ambiguous"][:2]] == [2021, 7842]
    assert [c["tmdb_id"] for c in body["online"]] == [DUNE_PART_TWO]
    code, out, _ = cli("info", f"tmdb:{DUNE_PART_TWO}", "--json", capsys=capsys)
    assert code == 0 and json.loads(out)["movie"]["title"] == "Dune: Part Two"


def test_info_without_a_key_shows_the_dataset_and_says_what_a_key_adds(
    cli, capsys, monkeypatch, server
):
    monkeypatch.delenv("TMDB_API_KEY")
    server.reset_counts()
    code, out, _ = cli("info", "Toy Story", capsys=capsys)
    assert code == 0
    assert (
        out.splitlines()[0] == "Toy Story (1995) · Adventure, Animation, Children, Comedy, Fantasy"
    )
    assert out.rstrip().endswith(WITHOUT_TMDB)
    code, _, err = cli("info", "Saltwater Atlas", capsys=capsys)
    assert code == EXIT_NO_MATCH and "TMDB key" in err
    code, _, err = cli("catalogue", "sync", capsys=capsys)
    assert code == 1 and "needs TMDB" in err
    assert sum(server.hits.values()) == 0


def test_similar_for_a_movie_only_tmdb_knows_says_no_ratings_yet(cli, capsys):
    code, out, _ = cli(
        "similar", "Saltwater Atlas", "--plugin", "cosine-cf", "--json", capsys=capsys
    )
    assert code == 0
    body = json.loads(out)
    assert body["movie"] == {
        "movie_id": CATALOGUE_ID_BASE + MADE_UP_ID,
        "label": "Saltwater Atlas (2025)",
    }
    (answer,) = body["plugins"]
    assert answer["plugin"] == "cosine-cf" and answer["error"] is None
    assert answer["no_answer"].startswith("no ratings yet") and answer["results"] == []
    code, out, _ = cli("similar", "Saltwater Atlas", "--plugin", "cosine-cf", capsys=capsys)
    assert code == 0 and out.startswith("Similar to Saltwater Atlas (2025):")
    assert "no ratings yet: Saltwater Atlas (2025) is newer than the rating data" in out


@pytest.mark.parametrize(
    "title", ["tmdb:99999999999999999999999", "tmdb:2147483648", "tmdb:0", "tmdb:-1", "tmdb:x"]
)
def test_info_of_a_tmdb_id_out_of_range_is_a_usage_error(cli, capsys, server, title):
    server.reset_counts()
    code, out, err = cli("info", title, capsys=capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"reelpick info: {title!r} is not a TMDB id: tmdb:ID takes a whole number "
        "from 1 to 2147483647\n"
    )
    assert sum(server.hits.values()) == 0  # refused before TMDB was asked


def test_info_of_a_tmdb_id_with_a_space(cli, capsys):
    code, out, _ = cli("info", f"tmdb: {DUNE_PART_TWO}", "--json", capsys=capsys)
    assert code == 0 and json.loads(out)["movie"]["title"] == "Dune: Part Two"


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--region", "ZZ"),
        ("--region", "DEU"),
        ("--region", "a" * 5000),
        ("--language", "<script>"),
        ("--language", "de_DE"),
        ("--language", "x" * 100),
    ],
)
def test_info_refuses_a_region_or_language_that_is_none(cli, capsys, server, option, value):
    server.reset_counts()
    code, out, err = cli("info", "Toy Story", option, value, capsys=capsys)
    assert (code, out) == (2, "")
    assert err.startswith(f"reelpick info: argument {option}: {option} takes ")
    assert len(err.strip().splitlines()) == 1 and len(err) < 300
    assert sum(server.hits.values()) == 0


def test_info_takes_a_region_in_either_case_and_a_language_tag(cli, capsys):
    code, out, _ = cli(
        "info", f"tmdb:{DUNE_PART_TWO}", "--region", "de", "--language", "de-DE", "--json",
        capsys=capsys,
    )  # fmt: skip
    assert code == 0
    card = json.loads(out)
    assert card["tmdb"] == {"configured": True, "note": None}
    assert card["where_to_watch"] is None or card["where_to_watch"]["region"] == "DE"


def test_info_json_without_a_key_says_tmdb_was_not_asked(cli, capsys, monkeypatch):
    monkeypatch.delenv("TMDB_API_KEY")
    code, out, _ = cli("info", "Toy Story", "--json", capsys=capsys)
    assert code == 0
    card = json.loads(out)
    assert card["tmdb"] == {"configured": False, "note": WITHOUT_TMDB}
    assert card["movie"]["overview"] is None  # not asked, and the JSON says so
