"""Every bad command line gets one clear line on stderr and its documented exit code.

Exit codes (``reelpick --help``): 0 ok, 1 error, 2 usage, 3 no match or ambiguous title.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reelpick.cache import ArtifactStore
from reelpick.cli import main
from reelpick.version import __version__
from tests.support.fixtures import REPO, write_movielens


@pytest.fixture
def cli(make_config, small_movielens, capsys):
    """``reelpick`` in-process over a small generated dataset with cosine-cf only."""
    config = make_config(data=small_movielens, enabled=["cosine-cf"])

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--config", str(config.path), *argv])
        out, err = capsys.readouterr()
        return code, out, err

    run.config = config
    return run


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("command", ["similar", "show"])
@pytest.mark.parametrize("k", ["0", "-3", str(10**9), "ten"])
def test_k_out_of_range_is_a_usage_error(cli, command: str, k: str) -> None:
    code, out, err = cli(command, "Movie 1", "-k", k)
    assert code == 2 and out == ""
    line = one_line(err)
    assert line.startswith(f"reelpick {command}: argument -k: -k must be")
    assert (k if k != "ten" else "'ten'") in line


@pytest.mark.parametrize("group", ["data", "posters", "cache"])
def test_a_command_group_without_its_action_prints_its_help(cli, group: str) -> None:
    code, out, err = cli(group)
    assert code == 2 and out == ""
    assert err.startswith(f"usage: reelpick {group} ") and "ACTION" in err
    assert "Traceback" not in err


def test_unknown_option_is_one_line(cli) -> None:
    code, _, err = cli("similar", "Movie 1", "--nope")
    assert code == 2
    assert one_line(err) == ("reelpick: unrecognized arguments: --nope (see reelpick --help)")


def test_no_match_and_ambiguous_titles_exit_3(cli) -> None:
    code, _, err = cli("similar", "zzqxv wprtl")
    assert code == 3 and "No movie matches 'zzqxv wprtl'" in one_line(err)
    code, _, err = cli("similar", "Movie")  # 30 movies are called "Movie N"
    assert code == 3 and "could be" in err and "Traceback" not in err
    code, out, _ = cli("similar", "Movie", "--json")
    assert code == 3 and json.loads(out)["ambiguous"]


def test_version_and_exit_codes_in_help(cli) -> None:
    assert cli("--version") == (0, f"reelpick {__version__}\n", "")
    code, out, _ = cli("--help")
    assert code == 0
    for line in ("0  ok", "1  error", "2  usage", "3  the title matches no movie"):
        assert line in out


def test_huge_user_id_is_a_data_error_naming_file_and_line(make_config, tmp_path, capsys) -> None:
    folder = write_movielens(tmp_path / "huge")
    ratings = folder / "ratings.csv"
    lines = ratings.read_text().splitlines()
    lines[4] = "99999999999999999999999,2,4.0,964982703"
    ratings.write_text("\n".join(lines) + "\n")
    config = make_config(data=folder, enabled=["cosine-cf"])
    code = main(["--config", str(config.path), "similar", "Movie 1"])
    err = capsys.readouterr().err
    assert code == 1
    assert one_line(err) == (
        f"reelpick: {ratings}: line 5: userId is '99999999999999999999999', out of range"
    )


def test_fit_and_show_speak_json(cli, tmp_path: Path) -> None:
    code, out, err = cli("-q", "fit", "--json")
    (row,) = json.loads(out)
    assert code == 0 and row["plugin"] == "cosine-cf" and row["ok"] and row["error"] is None
    assert row["how"] == "fitted"
    assert err == ""  # -q: no progress bar, no warnings
    code, out, err = cli("fit", "--json", "-q")  # the global options after the command too
    assert code == 0 and json.loads(out)[0]["how"] == "loaded" and err == ""
    sheet = tmp_path / "sheet.png"
    code, out, _ = cli("show", "Movie 1 (1991)", "-k", "2", "-o", str(sheet), "--json")
    shown = json.loads(out)
    assert code == 0 and shown["output"] == str(sheet) and shown["movie"]["movie_id"] == 1
    assert sheet.stat().st_size > 0 and shown["width"] > 0


def test_cache_info_and_prune(cli) -> None:
    assert cli("-q", "fit")[0] == 0
    cache_dir = cli.config.cache_dir
    stale = ArtifactStore(cache_dir, "cosine-cf", data="an evaluation split", version="1")
    stale.save_arrays("neighbours", index=os.urandom(1000))
    gone = ArtifactStore(cache_dir, "uninstalled-plugin", data="x")
    gone.save_arrays("table", values=[1, 2, 3])

    code, out, _ = cli("cache", "info", "--json")
    info = {row["name"]: row for row in json.loads(out)["folders"]}
    assert (
        code == 0 and info["cosine-cf"]["stores"] == 2 and info["cosine-cf"]["current_stores"] == 1
    )

    code, out, _ = cli("cache", "prune", "--dry-run")
    assert code == 0 and stale.path.exists() and "would remove 2 entries" in out

    code, out, _ = cli("cache", "prune", "--json")
    removed = {row["path"]: row for row in json.loads(out)["removed"]}
    assert code == 0 and set(removed) == {str(stale.path), str(gone.path)}
    assert "evaluation split" in removed[str(stale.path)]["reason"]
    assert not stale.path.exists() and not gone.path.exists()
    code, out, _ = cli("cache", "info", "--json")
    assert {row["name"]: row["stores"] for row in json.loads(out)["folders"]}["cosine-cf"] == 1


# -- as a user runs it: a separate process ---------------------------------------------------


def run_reelpick(
    *argv: str, config: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REELPICK_")}
    environment["REELPICK_CONFIG"] = str(config)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "reelpick", *argv],
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPO,
        timeout=timeout,
    )


def test_subprocess_usage_errors(cli) -> None:
    done = run_reelpick("similar", "Movie 1", "-k", "0", config=cli.config.path)
    assert done.returncode == 2 and done.stdout == ""
    assert one_line(done.stderr).startswith("reelpick similar: argument -k: -k must be between")
    done = run_reelpick("data", config=cli.config.path)
    assert done.returncode == 2 and done.stderr.startswith("usage: reelpick data ")
    assert "Traceback" not in done.stderr


# -- hostile input: one line on stderr and exit 1, never a traceback, a hang or a MemoryError


@pytest.mark.parametrize("kind", ["device", "fifo", "folder"])
def test_ratings_that_are_not_a_regular_file_are_refused_unread(
    cli, tmp_path: Path, kind: str
) -> None:
    path = {"device": Path("/dev/zero"), "fifo": tmp_path / "ratings.csv", "folder": tmp_path}
    if kind == "fifo":
        os.mkfifo(path[kind])
    # A FIFO would block the open forever, /dev/zero would be read until MemoryError.
    done = run_reelpick("recommend", "--ratings", str(path[kind]), config=cli.config.path)
    assert done.returncode == 1 and done.stdout == ""
    assert one_line(done.stderr) == (
        f"reelpick: {path[kind]}: not a regular file (a pipe, device or folder)"
    )


def test_an_unusable_cache_folder_is_one_line(cli, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cache = blocker / "reelpick"
    done = run_reelpick(
        "similar", "Movie 1", config=cli.config.path, env={"REELPICK_CACHE": str(cache)}
    )
    assert done.returncode == 1 and done.stdout == ""
    assert one_line(done.stderr) == (
        f"reelpick: REELPICK_CACHE: the cache folder {cache} cannot be used (Not a directory)"
    )


@pytest.mark.parametrize(
    "text",
    ["a = " + "[" * 50_000 + "]" * 50_000, "a = " + "{ b = " * 5_000 + "1" + " }" * 5_000],
    ids=["arrays", "inline-tables"],
)
def test_a_deeply_nested_config_is_one_line(tmp_path: Path, text: str) -> None:
    config = tmp_path / "deep.toml"
    config.write_text(text + "\n")
    done = run_reelpick("similar", "Movie 1", config=config)
    assert done.returncode == 1 and done.stdout == ""
    assert one_line(done.stderr) == f"reelpick: {config}: not valid TOML: nested too deeply"


def test_a_negative_plugin_parameter_is_one_line(make_config, small_movielens) -> None:
    """The plugin judges its own parameter (ConfigError from its fit): a mistake in the
    config, so the command stops with exit 1 and one line naming the plugin and setting."""
    config = make_config(
        "[plugins.cosine-cf]\nneighbours = -5\n", data=small_movielens, enabled=["cosine-cf"]
    )
    done = run_reelpick("similar", "Movie 1 (1991)", config=config.path)
    assert done.returncode == 1 and done.stdout == ""
    assert one_line(done.stderr) == (
        "reelpick: plugin cosine-cf: [plugins.cosine-cf] neighbours must be 1 or more, got -5"
    )
