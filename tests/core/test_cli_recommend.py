"""``reelpick recommend``, run in-process as a user would type it (cosine-cf on ml-latest-small)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reelpick.cli import main
from reelpick.profiles import MAX_BYTES

HEAT, RONIN, TOY_STORY, MATRIX = 6, 2278, 1, 2571
LETTERBOXD = (
    "Date,Name,Year,Letterboxd URI,Rating\n"
    "2024-01-01,Heat,1995,https://boxd.it/a,5\n"
    "2024-01-02,Ronin,1998,https://boxd.it/b,4.5\n"
    "2024-01-03,Toy Story,1995,https://boxd.it/c,1\n"
    "2024-01-04,No Such Film At All,2031,https://boxd.it/d,4\n"
)
KEYS = {"movie_id", "label", "score", "because", "on_watchlist"}


@pytest.fixture
def cli(make_config, capsys):
    config = make_config(enabled=["cosine-cf"])

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--config", str(config.path), "recommend", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    run.config = config
    return run


@pytest.fixture
def ratings_file(tmp_path: Path) -> Path:
    path = tmp_path / "ratings.csv"
    path.write_text(LETTERBOXD)
    return path


def test_ratings_file_as_json(cli, ratings_file: Path) -> None:
    code, out, _ = cli("--ratings", str(ratings_file), "-k", "5", "--json")
    assert code == 0
    answer = json.loads(out)
    assert set(answer) == {"profile", "plugins", "picks", "picks_score"}
    assert answer["profile"]["rows"] == 4 and answer["profile"]["matched"] == 3
    [unmatched] = answer["profile"]["unmatched"]
    assert unmatched["row"] == 5 and set(unmatched) == {"row", "reason"}
    [plugin] = answer["plugins"]
    assert set(plugin) == {"plugin", "label", "error", "no_answer", "results"}
    assert plugin["plugin"] == "cosine-cf" and plugin["error"] is plugin["no_answer"] is None
    results = plugin["results"]
    assert len(results) == 5 and all(set(r) == KEYS for r in results)
    profile = {HEAT, RONIN, TOY_STORY}
    assert not {r["movie_id"] for r in results} & profile
    assert all(set(r["because"]) <= {HEAT, RONIN} and r["because"] for r in results)
    # The picks are cosine-cf's list (asked deeper) re-ranked for the profile's genres.
    picks = answer["picks"]
    assert len(picks) == 5 and not {r["movie_id"] for r in picks} & profile
    assert all(set(r["because"]) <= {HEAT, RONIN} and r["because"] for r in picks)
    assert all(set(r) == KEYS for r in answer["picks"])


def test_table_for_people(cli, ratings_file: Path) -> None:
    code, out, _ = cli("--ratings", str(ratings_file), "-k", "3")
    assert code == 0
    assert "Recommendations for a profile of 3 movies (1 of 4 rows not matched" in out
    # One plugin: its picks are not "all plugins together".
    assert "[cosine-CF]" in out and "[Picks]" in out and "all plugins" not in out
    assert "because: Heat" in out or "because: Ronin" in out


def test_a_user_of_the_data(cli, ml_small) -> None:
    code, out, _ = cli("--user", "1", "--json", "-k", "10", "--plugin", "cosine-cf")
    assert code == 0
    answer = json.loads(out)
    rated = set(ml_small.ratings.loc[ml_small.ratings["userId"] == 1, "movieId"])
    assert answer["profile"] == {"rows": len(rated), "matched": len(rated), "unmatched": []}
    results = answer["plugins"][0]["results"]
    assert len(results) == 10 and not {r["movie_id"] for r in results} & rated
    assert all(set(r["because"]) <= rated for r in results)


def test_save_then_recommend_from_the_local_profile(cli, ratings_file: Path) -> None:
    code, first, _ = cli("--ratings", str(ratings_file), "--save", "me", "--json", "-k", "5")
    assert code == 0
    assert cli.config.settings.bot.profiles_db.is_file()  # people's data: the state folder
    assert not (cli.config.cache_dir / "profiles.sqlite3").exists()
    code, again, _ = cli("--profile", "me", "--json", "-k", "5")
    assert code == 0
    first, again = json.loads(first), json.loads(again)
    assert again["profile"] == {"rows": 3, "matched": 3, "unmatched": []}
    assert again["plugins"] == first["plugins"]  # the same three movies, the same picks
    code, _, err = cli("--profile", "nobody")
    assert code == 1 and err.startswith("reelpick: no local profile named 'nobody'")
    assert len(err.strip().splitlines()) == 1


def test_watchlisted_movies_are_marked_and_kept_with_save(
    cli, ratings_file: Path, tmp_path: Path
) -> None:
    code, out, _ = cli("--ratings", str(ratings_file), "--json", "-k", "5")
    first = json.loads(out)["picks"][0]
    assert first["on_watchlist"] is False
    listing = tmp_path / "watchlist.csv"
    name, year = first["label"].rsplit(" (", 1)
    listing.write_text(f'Date,Name,Year,Letterboxd URI\n2024-01-01,"{name}",{year[:4]},x\n')
    code, out, _ = cli("--ratings", str(ratings_file), "--watchlist", str(listing), "--save", "me")
    assert code == 0 and " 🔖" in out and "🔖 on the watchlist" in out
    marked = [line for line in out.splitlines() if line.endswith(" 🔖")]
    assert marked and all(first["label"][:40] in line for line in marked)
    code, out, _ = cli("--profile", "me", "--json", "-k", "5")  # kept in the state folder
    picks = json.loads(out)["picks"]
    assert [p["on_watchlist"] for p in picks] == [p["movie_id"] == first["movie_id"] for p in picks]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "999999"], "user 999999 has no ratings"),
        (["--ratings", "{missing}"], "cannot read it"),
        (["--ratings", "{binary}"], "not a text file"),
        (["--ratings", "{wrong}"], "Letterboxd"),
        (["--user", "1", "--save", "x"], "--save keeps a --ratings file"),
    ],
    ids=["unknown-user", "missing", "binary", "wrong-columns", "save"],
)
def test_bad_input_is_one_line(cli, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "binary.csv").write_bytes(b"\x00\x01\x02" * 100)
    (tmp_path / "wrong.csv").write_text("a,b\n1,2\n")
    files = {n: str(tmp_path / f"{n}.csv") for n in ("missing", "binary", "wrong")}
    code, out, err = cli(*[a.format(**files) for a in args])
    assert code == 1 and out == ""
    assert err.startswith("reelpick: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_an_unknown_plugin_is_a_usage_error(cli) -> None:
    code, out, err = cli("--user", "1", "--plugin", "nope")
    assert (code, out) == (2, "")
    assert err.startswith("reelpick recommend: unknown plugin 'nope' (")
    assert len(err.strip().splitlines()) == 1


def test_picks_scores_fall_down_the_list(cli, ratings_file: Path) -> None:
    """Calibration re-ranks the fused list; each pick's score is its calibrated place's,
    so no pick outscores one above it, and the JSON says what the score is."""
    code, out, _ = cli("--ratings", str(ratings_file), "-k", "10", "--json")
    assert code == 0
    answer = json.loads(out)
    scores = [p["score"] for p in answer["picks"]]
    assert len(scores) == 10 and scores == sorted(scores, reverse=True)
    assert len(set(scores)) == len(scores)
    assert "calibrated" in answer["picks_score"]


@pytest.mark.parametrize("device", ["/dev/zero", "fifo", "folder"])
def test_a_watchlist_that_is_no_regular_file_is_refused_unread(
    cli, ratings_file: Path, tmp_path: Path, device: str
) -> None:
    """Read as --ratings is: a device, a FIFO (whose open would block) or a folder is
    refused before a byte is read."""
    path = Path(device)
    if device == "fifo":
        path = tmp_path / "watchlist.csv"
        os.mkfifo(path)
    elif device == "folder":
        path = tmp_path / "watchlist"
        path.mkdir()
    code, out, err = cli("--ratings", str(ratings_file), "--watchlist", str(path))
    assert (code, out) == (1, "")
    assert err == f"reelpick: {path}: not a regular file (a pipe, device or folder)\n"


def test_an_oversized_watchlist_is_refused(cli, ratings_file: Path, tmp_path: Path) -> None:
    big = tmp_path / "watchlist.csv"
    with big.open("wb") as fh:  # sparse: the size is checked before anything is read
        fh.truncate(MAX_BYTES + 1)
    code, out, err = cli("--ratings", str(ratings_file), "--watchlist", str(big))
    assert (code, out) == (1, "")
    assert err.startswith("reelpick: watchlist.csv is ") and "the limit for an import" in err


def test_a_watchlist_is_known_by_its_columns_whatever_its_name(
    cli, ratings_file: Path, tmp_path: Path
) -> None:
    """--watchlist says what the file is: Letterboxd's columns are enough, and rows that
    match nothing are reported as rating rows are."""
    listing = tmp_path / "wl.csv"
    listing.write_text(
        "Date,Name,Year,Letterboxd URI\n"
        "2024-01-01,The Matrix,1999,x\n"
        "2024-01-02,No Such Film At All,2031,y\n"
    )
    code, out, _ = cli("--ratings", str(ratings_file), "--watchlist", str(listing), "--json")
    assert code == 0
    summary = json.loads(out)["watchlist"]
    assert summary["rows"] == 2 and summary["matched"] == 1
    [unmatched] = summary["unmatched"]
    assert unmatched["row"] == 3 and "No Such Film At All" in unmatched["reason"]
    code, out, _ = cli("--ratings", str(ratings_file), "--watchlist", str(listing))
    assert code == 0
    assert "Watchlist: 1 of 2 rows found (row 3: " in out


def test_a_file_gives_the_same_profile_whether_saved_or_not(tmp_path: Path, ml_small) -> None:
    from reelpick.cli.recommend import imported_profile
    from reelpick.profiles.imports import read_import
    from reelpick.profiles.store import ProfileStore

    parsed = read_import(LETTERBOXD.encode(), ml_small, filename="ratings.csv")
    unsaved = imported_profile(parsed)
    with ProfileStore(tmp_path / "profiles.sqlite3") as store:
        store.apply("local:me", parsed)
        saved = store.profile("local:me")
    assert dict(unsaved.ratings) == dict(saved.ratings) == {HEAT: 5.0, RONIN: 4.5, TOY_STORY: 1.0}
    # The file's dates, so recency and the newer-movie rule see the same profile either way.
    assert dict(unsaved.rated_at) == dict(saved.rated_at)
    assert unsaved.rated_at[RONIN] - unsaved.rated_at[HEAT] == 86400.0
