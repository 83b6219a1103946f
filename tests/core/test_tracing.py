"""REELPICK_TRACE=1: every hook call is logged with its plugin, arguments, outcome and duration."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reelpick.registry import Registry
from reelpick.testing import save_dataset, small_dataset

TRACE_LINE = re.compile(
    r"^(?P<hook>reelpick_\w+)\[(?P<plugin>[\w-]+)\]\((?P<args>.*)\) (?P<status>ok|raised \w+) in (?P<ms>\d+\.\d) ms$"
)


def traced(caplog: pytest.LogCaptureFixture) -> list[re.Match]:
    lines = [r.getMessage() for r in caplog.records if r.name == "reelpick.trace"]
    matches = [TRACE_LINE.match(line) for line in lines]
    assert all(matches), lines
    return matches


def test_trace_logs_each_hook_call_with_its_duration(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, make_config, ml_small
) -> None:
    monkeypatch.setenv("REELPICK_TRACE", "1")
    caplog.set_level(logging.INFO, logger="reelpick.trace")
    registry = Registry(make_config(enabled=["cosine-cf"]), load_entry_points=False)
    assert registry.fit(small_dataset(ml_small, 200), ["cosine-cf"]) == {"cosine-cf": None}
    answer = registry.ask("cosine-cf", 1, 5)
    missing = registry.ask("cosine-cf", 10**9, 5)
    assert answer.ok and missing.no_answer

    calls = traced(caplog)
    hooks = [(m["hook"], m["plugin"]) for m in calls]
    # Loading asks each built-in for its info, then the fit and both queries follow, one line each.
    assert ("reelpick_plugin_info", "cosine-cf") in hooks
    assert hooks[-3:] == [
        ("reelpick_fit", "cosine-cf"),
        ("reelpick_similar", "cosine-cf"),
        ("reelpick_similar", "cosine-cf"),
    ]
    fit, found, raised = calls[-3:]
    assert "'params': {" in fit["args"] and "'store': '" in fit["args"]
    assert "dataset" not in fit["args"] and "config" not in fit["args"]  # too long to print
    assert found["args"] == "{'movie_id': 1, 'k': 5}" and found["status"] == "ok"
    assert raised["status"] == "raised NoAnswer"


def test_trace_is_off_unless_asked(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, make_config
) -> None:
    caplog.set_level(logging.INFO, logger="reelpick.trace")
    for value in (None, "0", "false"):
        if value is None:
            monkeypatch.delenv("REELPICK_TRACE", raising=False)
        else:
            monkeypatch.setenv("REELPICK_TRACE", value)
        Registry(make_config(), load_entry_points=False)
    assert not [r for r in caplog.records if r.name == "reelpick.trace"]


def test_tracing_twice_logs_each_call_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, make_config, ml_small
) -> None:
    monkeypatch.setenv("REELPICK_TRACE", "1")
    caplog.set_level(logging.INFO, logger="reelpick.trace")
    registry = Registry(make_config(enabled=["cosine-cf"]), load_entry_points=False)
    registry.trace_hook_calls()  # already on through the environment
    registry.fit(small_dataset(ml_small, 200), ["cosine-cf"])
    assert [m["hook"] for m in traced(caplog)].count("reelpick_fit") == 1


def test_trace_from_the_command_line(tmp_path: Path, ml_small) -> None:
    """The real console script: trace lines go to stderr, the answer to stdout."""
    data = save_dataset(small_dataset(ml_small, 300, keep=[1, 3114]), tmp_path / "data")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[data]\nsource = "{data}"\n[cache]\ndir = "{tmp_path / "cache"}"\n'
        '[plugins]\nenabled = ["cosine-cf"]\n'
    )
    env = dict(os.environ, REELPICK_TRACE="1", REELPICK_CONFIG=str(config))
    script = Path(sys.executable).parent / "reelpick"
    done = subprocess.run(
        [str(script), "similar", "Toy Story (1995)", "-k", "3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Toy Story 2 (1999)" in done.stdout
    assert re.search(r"reelpick_fit\[cosine-cf\]\(.*\) ok in \d+\.\d ms", done.stderr)
    assert re.search(
        r"reelpick_similar\[cosine-cf\]\(\{'movie_id': 1, 'k': 3\}\) ok in \d+\.\d ms",
        done.stderr,
    )


def test_trace_shows_a_profile_as_counts_only() -> None:
    from reelpick.hooktrace import shown_value
    from reelpick.types import Profile

    profile = Profile(ratings={31337: 4.5, 4242: 3.0}, seen=frozenset({777}))
    shown = str(shown_value(profile))
    assert shown == "<profile: 2 ratings, 1 seen, 0 not interested>"
    assert "31337" not in shown and "777" not in str(shown_value(frozenset({777, 31337})))
