"""The command line's conventions, each run as a person runs it (a separate process over a
small generated dataset with cosine-cf only): the README's exit codes, global options on
either side of the command, a closed pipe, the title looked up before any fit, progress off
a terminal, one line per plugin failure, the contract kit's report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reelpick.cli.messages import plural
from reelpick.render.text import font, shorten, wrap
from tests.support.fixtures import ML_SMALL, REPO

BROKEN = REPO / "tests" / "support" / "broken_plugins.py"


@pytest.fixture
def config(make_config, small_movielens) -> Path:
    return make_config(data=small_movielens, enabled=["cosine-cf"]).path


def reelpick(
    *argv: str, config: Path, script: Path | None = None, **options
) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REELPICK_")}
    command = [sys.executable, str(script)] if script else [sys.executable, "-m", "reelpick"]
    return subprocess.run(
        [*command, "--config", str(config), *argv],
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPO,
        timeout=300,
        **options,
    )


def plugin_stores(config: Path) -> list[Path]:
    cache = config.parent / "cache"
    return [p for p in cache.glob("*/*") if (p / "manifest.json").exists()]


# -- the README's exit-code table, one row each ---------------------------------------------


def test_exit_0_ok(config: Path) -> None:
    done = reelpick("similar", "Movie 1 (1991)", "-k", "2", config=config)
    assert done.returncode == 0 and "Similar to Movie 1 (1991)" in done.stdout


def test_exit_1_error_bad_config(tmp_path: Path, small_movielens) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[data]\nsource = "{small_movielens}"\n[plugins]\nenabled = ["cosine_cf"]\n')
    done = reelpick("similar", "Movie 1 (1991)", config=bad)
    assert done.returncode == 1 and done.stdout == ""
    # An unknown name in the config: one line, naming the setting, with the close match.
    assert done.stderr.strip() == (
        f"reelpick: {bad}: [plugins] enabled: unknown plugin 'cosine_cf' (did you mean "
        "'cosine-cf'? installed: " + done.stderr.split("installed: ")[1].strip()
    )


def test_a_plugin_table_of_no_installed_plugin_is_named(config: Path) -> None:
    config.write_text(config.read_text() + "[plugins.cosine_cf]\nneighbours = 5\n")
    done = reelpick("similar", "Movie 1 (1991)", "-k", "1", config=config)
    assert done.returncode == 0
    assert (
        f"reelpick: {config}: [plugins.cosine_cf]: no such plugin installed; did you mean "
        "[plugins.cosine-cf]?\n" in done.stderr
    )


def test_exit_2_usage(config: Path) -> None:
    done = reelpick("recommend", "--user", "1", "-k", "0", config=config)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("reelpick recommend: argument -k: -k must be between 1 and")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["similar", "Movie 1 (1991)", "--plugin", "nosuch"], "unknown plugin 'nosuch' ("),
        (["similar", "Movie 1 (1991)", "--plugin", ""], "unknown plugin '' ("),
        (["check", "nosuch-plugin"], "unknown plugin 'nosuch-plugin' ("),
        (["similar", ""], "the title is empty"),
        (["similar", "   "], "the title is empty"),
        (["catalogue", "sync", "--limit", "0"], "argument --limit: --limit must be between 1"),
        (["catalogue", "sync", "--limit", "-5"], "argument --limit: --limit must be between 1"),
        (["tune", "cosine-cf", "--grid", "garbage"], "--grid 'garbage': expected KEY=V1,V2"),
        (["tune", "cosine-cf", "--grid", "l2="], "--grid 'l2=': expected KEY=V1,V2"),
        (["tune", "nosuch"], "unknown plugin 'nosuch' ("),
        (["tune", "cosine_cf"], "unknown plugin 'cosine_cf' (did you mean 'cosine-cf'?"),
    ],
)
def test_exit_2_for_a_bad_argument_found_after_parsing(
    config: Path, argv: list[str], message: str
) -> None:
    """A bad value that argparse cannot see (a plugin name, an empty title, a --grid) is a
    usage error too: one line in argparse's form, ``reelpick CMD: ...``, exit 2."""
    done = reelpick(*argv, config=config)
    assert (done.returncode, done.stdout) == (2, "")
    command = "reelpick " + " ".join(argv[:2] if argv[0] == "catalogue" else argv[:1])
    assert done.stderr.startswith(f"{command}: {message}"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert plugin_stores(config) == []  # refused before anything was fitted


def test_exit_3_no_match_before_any_fit(config: Path) -> None:
    done = reelpick("similar", "xyzzy plugh", config=config)
    assert done.returncode == 3 and done.stderr.strip() == "No movie matches 'xyzzy plugh'."
    assert plugin_stores(config) == []  # the title was looked up before anything was fitted
    for command in (["show", "zzqxv wprtl", "-o", str(config.parent / "s.png")],):
        assert reelpick(*command, config=config).returncode == 3
    assert plugin_stores(config) == []


# -- global options, pipes, progress --------------------------------------------------------


def test_global_options_before_or_after_the_command(config: Path) -> None:
    before = reelpick("-q", "--json", "similar", "Movie 1 (1991)", "-k", "2", config=config)
    after = subprocess.run(
        [sys.executable, "-m", "reelpick", "similar", "Movie 1 (1991)", "-k", "2", "--json",
         "-q", "--config", str(config)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert before.returncode == after.returncode == 0
    assert json.loads(before.stdout) == json.loads(after.stdout)
    assert before.stderr == after.stderr == ""
    done = reelpick("--json", "demo", config=config)
    assert done.returncode == 2 and "--json" in done.stderr


def test_a_closed_pipe_is_quiet(config: Path) -> None:
    """``| head`` that has gone: a real pipe whose reading end is closed before the first
    line is written, so that writing fails for certain (EPIPE)."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "reelpick", "--config", str(config), "similar",
             "Movie 1 (1991)", "-k", "5", "-q"],
            stdout=write, stderr=subprocess.PIPE, text=True, cwd=REPO, timeout=300,
        )  # fmt: skip
    finally:
        os.close(write)
    assert done.returncode == 0 and done.stderr == ""


def test_progress_off_a_terminal_is_one_line_per_fit(config: Path) -> None:
    done = reelpick("fit", config=config)
    assert done.returncode == 0 and done.stdout == "cosine-cf: fitted\n"
    (line,) = done.stderr.splitlines()
    assert line.startswith("fit 1/1: cosine-cf fitted in ") and line.endswith(" s")
    again = reelpick("fit", "--json", config=config)
    assert json.loads(again.stdout)[0]["how"] == "loaded"
    assert reelpick("fit", "-q", config=config).stderr == ""


def test_fit_with_another_engine_says_it_loaded_the_local_fit(config: Path) -> None:
    assert reelpick("fit", "-q", config=config).returncode == 0
    done = reelpick("fit", "--engine", "spark", config=config)  # loads: Spark never starts
    assert done.returncode == 0
    assert done.stdout == (
        "cosine-cf: loaded (fitted by the local engine; the spark engine did not run)\n"
    )


def test_a_crashing_plugin_is_one_line_and_a_traceback_only_with_v(
    config: Path, small_movielens
) -> None:
    broken = config.parent / "broken.toml"
    broken.write_text(
        config.read_text().replace('enabled = ["cosine-cf"]', 'enabled = ["cosine-cf", "crashes"]')
    )
    done = reelpick("similar", "Movie 1 (1991)", "-k", "2", config=broken, script=BROKEN)
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert (
        "reelpick: plugin crashes failed on movie 1: RuntimeError: the crashes plugin crashed "
        "on two lines\n" in done.stderr
    )
    verbose = reelpick("similar", "Movie 1 (1991)", "-v", config=broken, script=BROKEN)
    assert "Traceback" in verbose.stderr


def test_a_config_error_from_a_fit_is_exit_1_and_one_line(config: Path) -> None:
    broken = config.parent / "refuses.toml"
    broken.write_text(config.read_text().replace('["cosine-cf"]', '["refuses"]'))
    done = reelpick("similar", "Movie 1 (1991)", config=broken, script=BROKEN)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        "reelpick: plugin refuses: [plugins.refuses] size must be 1 or more, got -1\n"
    )


def test_the_contract_kit_groups_problems_most_serious_first(config: Path) -> None:
    done = reelpick("check", "sloppy", "--movies", "30", "-q", config=config, script=BROKEN)
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("plugin 'sloppy' (Crashes) breaks the reelpick plugin contract")
    kinds = [line.split(" (")[0].split(", e.g.")[0].removeprefix("  - ") for line in lines[1:]]
    assert kinds[:3] == [
        "returns the query movie",
        "an unknown id is not NoAnswer",
        "wrong types",
    ]
    assert "KeyError" in lines[2] and len(lines) <= 1 + 9  # one line per kind, no flood
    assert reelpick("check", "cosine-cf", "--movies", "30", config=config).returncode == 0


# -- words, not cuts; plurals from Babel -----------------------------------------------------


def test_labels_are_cut_at_a_word_with_an_ellipsis() -> None:
    label = "Léon: The Professional (a.k.a. The Professional) (Léon) (1994)"
    assert shorten(label, 60) == "Léon: The Professional (a.k.a. The Professional) (Léon)…"
    assert shorten("Heat (1995)", 60) == "Heat (1995)"
    lines = wrap("Dr. Strangelove or: How I Learned to Stop Worrying", font(13, True), 120, 2)
    assert len(lines) == 2 and lines[1].endswith("…")
    assert all(word in "Dr. Strangelove or: How I Learned" for word in lines[1][:-1].split())


def test_plurals_and_numbers() -> None:
    assert plural(1, "rating") == "1 rating"
    assert plural(2, "rating") == "2 ratings"
    assert plural(0, "entry", "entries") == "0 entries"
    assert plural(100836, "rating") == "100,836 ratings"


def test_a_stage_reported_on_the_progress_logger_is_one_line_off_a_terminal(capsys) -> None:
    """What the poster plugin reports while it extracts features, as the CLI shows it."""
    import logging

    from reelpick.cli.progress import install

    install(quiet=False)
    reporter = logging.getLogger("reelpick.progress")
    for done in (0, 16, 32, 40):
        reporter.info("poster features", extra={"done": done, "total": 40})
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("poster features: 40/40 in ") and line.endswith(" s")
    handler = install(quiet=True)
    reporter.info("poster features", extra={"done": 40, "total": 40})
    assert capsys.readouterr().err == ""
    reporter.removeHandler(handler)  # leave the logger as other tests expect it
    reporter.propagate = True
    reporter.setLevel(logging.NOTSET)


def test_the_demo_answers_from_one_plugin_first_then_fits_the_rest(
    tmp_path: Path, make_config, require_shared
) -> None:
    """On a fresh cache: cosine-cf alone answers the first title, the rest is fitted after
    it; the poster plugin (features of every poster) is left to `reelpick fit` and named."""
    require_shared(ML_SMALL)
    from reelpick.data import load_dataset

    ml_small = load_dataset(ML_SMALL)
    from reelpick.cli.demo import DEMO_TITLES
    from reelpick.data.search import TitleIndex
    from reelpick.testing import save_dataset, small_dataset

    index = TitleIndex(ml_small)
    demo_movies = [index.search(t).candidates[0].movie_id for t in DEMO_TITLES]
    data = save_dataset(small_dataset(ml_small, 300, keep=demo_movies), tmp_path / "data")
    config = make_config(data=data, enabled=["cosine-cf", "ease", "vgg16-poster"]).path
    done = reelpick("demo", config=config)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0].startswith("fit first 1/1: cosine-cf fitted in ")
    assert done.stderr.splitlines()[1].startswith("fit the rest 1/1: ease fitted in ")
    blocks = done.stdout.split("=== ")
    first = blocks[1].splitlines()
    assert first[0] == "'Heat' -> Heat (1995)" and first[1] == "[cosine-CF]"
    assert "[EASE]" in blocks[1] and "[VGG16" not in done.stdout
    assert (
        done.stdout.rstrip()
        .splitlines()[-1]
        .startswith("Not fitted in the demo: vgg16-poster (poster features")
    )


def test_commands_other_than_evaluate_do_not_import_the_evaluation() -> None:
    """SciPy's statistics, which the evaluation imports, were half of every command's
    start-up (and of the demo's time to its first answer)."""
    probe = (
        "import sys; from reelpick.cli import main; main(['similar', '--help']); "
        "print('reelpick.evaluation' in sys.modules, 'scipy.stats' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert done.stdout.splitlines()[-1] == "False False", done.stderr
