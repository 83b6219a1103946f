"""The command line, run in-process as a user would type it."""

import json

import pytest

from reelpick.cli import main


@pytest.fixture
def cli(make_config, capsys):
    config = make_config(enabled=["cosine-cf"])

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--config", str(config.path), *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_similar_prints_a_table(cli) -> None:
    code, out, _ = cli("similar", "Toy Story", "-k", "5")
    assert code == 0
    assert "Similar to Toy Story (1995)" in out and "[cosine-CF]" in out
    assert "Toy Story 2 (1999)" in out
    assert len([line for line in out.splitlines() if line.strip()[:2].strip(".").isdigit()]) == 5


def test_similar_json(cli) -> None:
    code, out, _ = cli("similar", "the matrix", "--json", "-k", "3", "--plugin", "cosine-cf")
    assert code == 0
    answer = json.loads(out)
    assert answer["movie"] == {"movie_id": 2571, "label": "The Matrix (1999)"}
    results = answer["plugins"][0]["results"]
    assert len(results) == 3 and all(r["movie_id"] != 2571 for r in results)


def test_ambiguous_title_lists_candidates(cli) -> None:
    code, _, err = cli("similar", "hamlet")
    assert code == 3
    assert "could be" in err and "Hamlet (1996)" in err and "Hamlet (1948)" in err


@pytest.mark.parametrize("query", ["zzqxv wprtl", "🎬🍿", "x" * 10_000])
def test_bad_titles_get_a_clear_message(cli, query: str) -> None:
    code, out, err = cli("similar", query)
    assert code == 3
    assert "No movie matches" in err or "could be" in err
    assert len(err) < 2_000  # a 10 kB query is not echoed back whole
    assert "Traceback" not in err + out


@pytest.mark.parametrize("query", ["", "   "])
def test_an_empty_title_is_a_usage_error(cli, query: str) -> None:
    code, out, err = cli("similar", query)
    assert (code, out) == (2, "")
    assert err == "reelpick similar: the title is empty\n"


def test_unknown_plugin(cli) -> None:
    code, _, err = cli("similar", "Toy Story", "--plugin", "nope")
    assert code == 2 and err.startswith("reelpick similar: unknown plugin 'nope'")


def test_plugins_listing(cli) -> None:
    code, out, _ = cli("plugins", "--json")
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["cosine-cf"]["origin"] == "built-in"
    assert rows["cosine-cf"]["enabled"] is True
    code, out, _ = cli("plugins")
    assert code == 0 and "cosine-cf" in out and "built-in" in out


def test_fit_then_plugins_shows_fitted(cli) -> None:
    assert cli("fit")[0] == 0
    rows = {row["name"]: row for row in json.loads(cli("plugins", "--json")[1])}
    assert rows["cosine-cf"]["fitted"] is True


def test_demo(cli) -> None:
    code, out, _ = cli("demo")
    assert code == 0
    assert "=== 'Heat' -> Heat (1995)" in out and "=== 'Toy Story' -> Toy Story (1995)" in out
    # And picks for a person who loved the first titles (cosine-cf recommends too).
    person = out[out.index("=== For someone who loved Heat (1995)") :]
    assert "[Picks (all plugins together)]" in person and " 1. " in person
    assert "Heat (1995)  " not in person.split("\n", 1)[1]  # never the movies they loved


def test_config_error_is_one_line(tmp_path, capsys) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text("[bot]\nk = 'x'\n")
    assert main(["--config", str(bad), "plugins"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "[bot] k: expected an integer" in err
