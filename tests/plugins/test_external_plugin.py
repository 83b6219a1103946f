"""An external plugin, installed with pip, joins reelpick with no change to reelpick's code.

The example package ``examples/reelpick-genre-tags`` is built and installed by pip into a
folder of its own (``pip install --target``), which the ``reelpick`` console script then
sees through PYTHONPATH: pip writes the same ``.dist-info`` with the same entry points as in a
virtual environment, but the shared test environment is left untouched, so other tests (and
other test runs going on at the same time) never see the extra plugin.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reelpick.app import Reelpick
from reelpick.cli import main
from reelpick.config import load_config
from reelpick.data import load_dataset
from reelpick.registry import Registry
from reelpick.testing import save_dataset, small_dataset
from tests.support.fixtures import ML_SMALL, REPO

EXAMPLE = REPO / "examples" / "reelpick-genre-tags"
SCRIPT = Path(sys.executable).parent / "reelpick"  # the real console script of this environment


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example, so that build/ and *.egg-info never land in the repository."""
    copy = tmp_path_factory.mktemp("source") / EXAMPLE.name
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", ".*"))
    return copy


@pytest.fixture(scope="session")
def site(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install ./examples/reelpick-genre-tags`` into a fresh folder; returns the folder."""
    target = tmp_path_factory.mktemp("site-packages")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",  # reelpick, numpy and scipy are already here
            "--no-build-isolation",  # build with this environment's setuptools, offline
            "--no-index",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return target


@pytest.fixture(scope="session")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway distribution whose entry points fail in every way a plugin can fail to load."""
    folder = tmp_path_factory.mktemp("broken-site")
    dist_info = folder / "reelpick_broken-0.3.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: reelpick-broken\nVersion: 0.3\n"
    )
    (dist_info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [reelpick.plugins]
            broken-import = reelpick_broken_import:Plugin
            missing-class = reelpick_broken_register:NoSuchClass
            bad-info = reelpick_broken_register:BadInfo
            bad-signature = reelpick_broken_register:BadSignature
            raises-in-init = reelpick_broken_register:RaisesInInit
            """
        )
    )
    (folder / "reelpick_broken_import.py").write_text(
        "import reelpick_dependency_that_is_not_installed  # noqa: F401\n"
    )
    (folder / "reelpick_broken_register.py").write_text(
        textwrap.dedent(
            """\
            from reelpick import hookimpl

            class BadInfo:
                @hookimpl
                def reelpick_plugin_info(self):
                    return {"label": "a dict is not a PluginInfo"}

            class BadSignature:
                @hookimpl
                def reelpick_similar(self, movie, count):
                    return []

            class RaisesInInit:
                def __init__(self):
                    raise RuntimeError("licence key not found")
            """
        )
    )
    return folder


# Toy Story, Toy Story 2, A Bug's Life and Heat stay in the small dataset the CLI runs on.
KEEP = [1, 3114, 2355, 6]


@pytest.fixture(scope="session")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,000 real movies of ml-latest-small with their ratings and tags, as a MovieLens folder."""
    small = small_dataset(load_dataset(ML_SMALL), 1000, keep=KEEP)
    return save_dataset(small, tmp_path_factory.mktemp("data") / "ml-small-1000")


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the tests that do not look at it: each plugin fits once per parameters."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def write_config(data: Path, shared_cache: Path, tmp_path: Path):
    """write_config(text, cache=...) -> a config.toml over the small dataset."""

    def write(text: str = "", cache: Path = shared_cache) -> Path:
        config = tmp_path / "config.toml"
        config.write_text(f'[data]\nsource = "{data}"\n[cache]\ndir = "{cache}"\n{text}')
        return config

    return write


def reelpick(
    *args: str, config: Path, path: list[Path], trace: bool = False
) -> subprocess.CompletedProcess:
    """Run the installed ``reelpick`` command with ``path`` on PYTHONPATH."""
    env = dict(os.environ, REELPICK_CONFIG=str(config))
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in path)
    if trace:
        env["REELPICK_TRACE"] = "1"
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=300
    )


# -- discovery ---------------------------------------------------------------------------


def test_pip_wrote_the_entry_point(site: Path) -> None:
    entry_points = next(site.glob("reelpick_genre_tags-0.1.0.dist-info")) / "entry_points.txt"
    assert "genre-tags = reelpick_genre_tags:GenreTags" in entry_points.read_text()
    assert (site / "reelpick_genre_tags" / "__init__.py").is_file()


def test_reelpick_plugins_lists_it_with_version_and_origin(site: Path, write_config) -> None:
    done = reelpick("plugins", config=write_config(), path=[site])
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert rows.keys() >= {"cosine-cf", "genre-tags"}
    assert rows["genre-tags"].split()[1:3] == ["0.1.0", "no"]  # version, enabled
    assert rows["genre-tags"].endswith("entry point (reelpick-genre-tags 0.1.0)")
    assert rows["cosine-cf"].endswith("built-in")


def test_reelpick_plugins_json_and_fit(
    site: Path, tmp_path: Path, write_config, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    fresh = tmp_path / "cache"  # its own cache: this test watches "fitted" change
    config = write_config('[plugins]\nenabled = ["genre-tags", "cosine-cf"]\n', cache=fresh)
    done = reelpick("plugins", "--json", config=config, path=[site])
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert rows["genre-tags"] == {
        "name": "genre-tags",
        "label": "Genres & tags",
        "version": "0.1.0",
        "origin": "entry point (reelpick-genre-tags 0.1.0)",
        "enabled": True,
        "fitted": False,
        "description": "Movies about the same things: TF-IDF over genres and user tags, cosine.",
    }
    assert rows["cosine-cf"]["origin"] == "built-in"

    # The same commands in this process (quicker than more subprocesses): fit, list again.
    monkeypatch.syspath_prepend(str(site))
    assert main(["--config", str(config), "fit", "--plugin", "genre-tags"]) == 0
    assert "genre-tags: fitted" in capsys.readouterr().out
    assert main(["--config", str(config), "plugins", "--json"]) == 0
    again = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert again["genre-tags"]["fitted"] is True and again["cosine-cf"]["fitted"] is False


@pytest.mark.slow
def test_the_examples_own_tests_pass_against_the_installed_package(
    site: Path, source: Path, tmp_path: Path
) -> None:
    """The example's tests (which use reelpick.testing) run on what pip installed."""
    # Its tests alone, away from its src/ folder: the import can only find the installed copy.
    shutil.copytree(source / "tests", tmp_path / "tests")
    env = dict(os.environ, PYTHONPATH=str(site), REELPICK_TEST_DATA=str(ML_SMALL))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:asyncio",
            "tests",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "11 passed" in done.stdout


def test_without_the_package_reelpick_does_not_know_it(write_config) -> None:
    registry = Registry(load_config(write_config()))
    assert "genre-tags" not in registry.plugins
    assert "genre-tags" not in {f.name for f in registry.failures}


# -- answers -----------------------------------------------------------------------------


def test_reelpick_similar_prints_its_results(site: Path, write_config) -> None:
    config = write_config()
    args = ["similar", "Toy Story (1995)", "--plugin", "genre-tags", "-k", "5"]
    done = reelpick(*args, config=config, path=[site])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Similar to Toy Story (1995):"
    assert lines[2] == "[Genres & tags]"
    ranked = [line for line in lines[3:] if line[:5].strip().rstrip(".").isdigit()]
    assert [line[:5].strip() for line in ranked] == ["1.", "2.", "3.", "4.", "5."]
    assert not any("Toy Story (1995)" in line for line in ranked)
    # Genres and tags ("pixar", "animation") put Pixar's other films near the top.
    assert any("Toy Story 2 (1999)" in line or "A Bug's Life" in line for line in ranked[:3])


def test_enabled_in_config_with_params_beside_a_builtin(site: Path, write_config) -> None:
    config = write_config(
        '[plugins]\nenabled = ["genre-tags", "cosine-cf"]\n'
        "[plugins.genre-tags]\ntag_weight = 2\ndecade_weight = 0.0\n",
    )
    done = reelpick("similar", "Heat (1995)", "-k", "3", config=config, path=[site], trace=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.index("[Genres & tags]") < done.stdout.index("[cosine-CF]")
    # The configured values reach the plugin's fit (the trace shows the params it got).
    fit = next(line for line in done.stderr.splitlines() if "reelpick_fit[genre-tags]" in line)
    assert "'tag_weight': 2.0" in fit and "'decade_weight': 0.0" in fit


def test_bad_params_for_it_are_refused_by_name(
    site: Path, write_config, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.syspath_prepend(str(site))
    enabled = '[plugins]\nenabled = ["genre-tags"]\n'
    # Unknown keys and wrong types: the registry refuses the config before anything runs.
    for table, message in [
        ("[plugins.genre-tags]\ntag_wieght = 2\n", "[plugins.genre-tags] tag_wieght: unknown"),
        ('[plugins.genre-tags]\ntag_weight = "high"\n', "expected a number, got a string"),
    ]:
        assert main(["--config", str(write_config(enabled + table)), "similar", "Heat"]) == 1
        assert message in capsys.readouterr().err
    # A value only the plugin can judge: its fit raises ConfigError. It is the same kind of
    # mistake, so the command refuses it the same way, naming the plugin, in one line.
    config = write_config(enabled + "[plugins.genre-tags]\ntag_weight = -1.0\n")
    assert main(["--config", str(config), "similar", "Heat (1995)"]) == 1
    said = capsys.readouterr()
    assert said.out == ""
    assert said.err.strip() == (
        "reelpick: plugin genre-tags: [plugins.genre-tags] tag_weight must be 0 or more, got -1.0"
    )


def test_in_process_through_the_registry(
    site: Path, monkeypatch: pytest.MonkeyPatch, write_config
) -> None:
    monkeypatch.syspath_prepend(str(site))
    config = load_config(write_config('[plugins]\nenabled = ["genre-tags"]\n'))
    app = Reelpick.open(config)
    assert app.registry.plugins["genre-tags"].origin == "entry point (reelpick-genre-tags 0.1.0)"
    # A movie with a single rating still gets content-based neighbours.
    rare = int(app.dataset.rating_counts.loc[lambda c: c == 1].index[0])
    [answer] = app.similar(rare, 5)
    assert answer.ok and len(answer.neighbours) == 5, answer


# -- failures ----------------------------------------------------------------------------

FAILURES = {
    "broken-import": "ModuleNotFoundError: No module named 'reelpick_dependency_that_is_not_installed'",
    "missing-class": "AttributeError: module 'reelpick_broken_register' has no attribute 'NoSuchClass'",
    "bad-info": "PluginError: reelpick_plugin_info returned dict, not PluginInfo",
    "bad-signature": "PluginValidationError: Plugin 'bad-signature' for hook 'reelpick_similar' "
    "hookimpl definition: reelpick_similar(movie, count)",
    "raises-in-init": "RuntimeError: licence key not found",
}
BROKEN_ORIGIN = "entry point (reelpick-broken 0.3)"


@pytest.fixture
def broken_on_path(broken_site: Path, monkeypatch: pytest.MonkeyPatch):
    """The broken distribution on sys.path of this process; its modules forgotten afterwards."""
    monkeypatch.syspath_prepend(str(broken_site))
    yield broken_site
    for module in ("reelpick_broken_import", "reelpick_broken_register"):
        sys.modules.pop(module, None)


def test_broken_plugins_are_reported_by_name_and_the_rest_load(
    site: Path, broken_site: Path, write_config
) -> None:
    done = reelpick("plugins", config=write_config(), path=[broken_site, site])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    rows = {line.split()[0]: line for line in lines[1:]}
    assert len(rows) == len(lines) - 1  # one line per plugin, failures included
    assert rows.keys() >= {"cosine-cf", "genre-tags", *FAILURES}
    for name, reason in FAILURES.items():
        assert rows[name].endswith(
            f"{BROKEN_ORIGIN}  FAILED TO LOAD: " + rows[name].split(": ", 1)[1]
        )
        assert reason in rows[name], rows[name]
        assert f"plugin {name} ({BROKEN_ORIGIN}) failed to load: {reason}" in done.stderr
    assert "FAILED" not in rows["genre-tags"] and "FAILED" not in rows["cosine-cf"]


def test_broken_plugins_in_plugins_json(broken_on_path: Path, write_config, capsys) -> None:
    assert main(["--config", str(write_config()), "plugins", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    for name, reason in FAILURES.items():
        assert rows[name]["origin"] == BROKEN_ORIGIN and reason in rows[name]["error"]
        assert rows[name]["enabled"] is False
    assert "error" not in rows["cosine-cf"]


def test_a_broken_plugin_does_not_stop_the_others_answering(
    site: Path, broken_site: Path, write_config
) -> None:
    config = write_config('[plugins]\nenabled = ["broken-import", "genre-tags", "bad-info"]\n')
    done = reelpick("similar", "Heat (1995)", "-k", "3", config=config, path=[broken_site, site])
    assert done.returncode == 0, done.stderr
    assert "[Genres & tags]" in done.stdout
    assert f"plugin broken-import ({BROKEN_ORIGIN}) failed to load" in done.stderr


def test_broken_plugins_in_process(broken_on_path: Path, make_config, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="reelpick.registry")
    registry = Registry(make_config())
    failures = {f.name: f for f in registry.failures if f.origin == BROKEN_ORIGIN}
    assert failures.keys() == FAILURES.keys()
    for name, reason in FAILURES.items():
        assert reason in failures[name].reason
        assert any(name in r.getMessage() and reason in r.getMessage() for r in caplog.records)
    assert "cosine-cf" in registry.plugins and not set(FAILURES) & registry.plugins.keys()


async def test_the_bot_sends_the_external_plugins_album(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot, unchanged, answers with the installed plugin's album."""
    from reelpick.bot.app import build_application
    from tests.support.bot_api import BotAPIServer, running
    from tests.support.fixtures import POSTERS, write_config

    monkeypatch.syspath_prepend(str(site))
    with BotAPIServer() as server:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", server.token)
        config = write_config(
            tmp_path,
            f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{tmp_path / "cache"}"\n'
            '[plugins]\nenabled = ["genre-tags"]\n'
            f'[posters]\ndir = "{POSTERS}"\n'
            f'[bot]\nbase_url = "{server.base_url}"\nbase_file_url = "{server.base_file_url}"\n'
            "max_messages_per_chat_second = 0\n",
        )
        app = Reelpick.open(config)
        assert app.registry.plugins["genre-tags"].origin.startswith("entry point")
        async with running(build_application(config, app)):
            server.push_text(4242, "Toy Story")
            await server.wait_for(lambda: [r for r in server.calls("sendMediaGroup", 4242) if r.ok])
        [album] = [r for r in server.calls("sendMediaGroup", 4242) if r.ok]
    caption = album.result[0]["caption"].split("\n")
    assert caption[0] == "Genres & tags · like Toy Story (1995)"
    [answer] = app.similar(1, 5)
    # Each line starts with its watch-later link (🔖), then the rank and the title.
    expected = [
        f"🔖 {i}. {app.dataset.label(n.movie_id)}" for i, n in enumerate(answer.neighbours, 1)
    ]
    assert caption[1:] == expected
