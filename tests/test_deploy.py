"""The files of deploy/: systemd units that systemd accepts and that run real commands of the
CLI with the folders docs/deploy.md names, and an nginx site that nginx accepts."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reelpick.cli.backup import cmd_backup
from reelpick.cli.bot import cmd_bot
from reelpick.cli.main import build_parser
from tests.support.webhook_proxy import free_ports, nginx_binary, self_signed, site

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNITS = ("reelpick-bot.service", "reelpick-backup.service", "reelpick-backup.timer")
INSTALLED = "/opt/reelpick/venv/bin/reelpick"


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A unit file's sections, each key with every value it was given (systemd allows repeats)."""
    parser = configparser.ConfigParser(
        strict=False, interpolation=None, dict_type=_Repeats, empty_lines_in_values=False
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string((DEPLOY / name).read_text())
    return {s: {k: v.split("\n") for k, v in parser[s].items()} for s in parser.sections()}


class _Repeats(dict):  # type: ignore[type-arg]
    """Repeated keys keep every value (joined by newlines), as systemd reads them."""

    def __setitem__(self, key: str, value: object) -> None:
        if isinstance(value, list) and key in self and isinstance(self[key], list):
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


def environment(service: dict[str, list[str]]) -> dict[str, str]:
    pairs = [p for line in service.get("Environment", []) for p in shlex.split(line)]
    return dict(p.split("=", 1) for p in pairs)


def command(service: dict[str, list[str]]) -> list[str]:
    (line,) = service["ExecStart"]
    return shlex.split(line)


@pytest.mark.parametrize("name", [n for n in UNITS if n.endswith(".service")])
def test_services_run_real_commands_in_their_own_folders(name: str) -> None:
    service = unit(name)["Service"]
    argv = command(service)
    assert argv[0] == INSTALLED
    args = build_parser().parse_args(argv[1:])  # a real command with its real options
    assert args.run in (cmd_bot, cmd_backup)
    env = environment(service)
    assert env["REELPICK_CONFIG"] == "/etc/reelpick/config.toml"
    state, cache = env["REELPICK_STATE"], env["REELPICK_CACHE"]
    # The folders the program writes are the ones systemd creates and leaves writable.
    assert state == "/var/lib/" + service["StateDirectory"][0].split()[0]
    assert cache == "/var/cache/" + service["CacheDirectory"][0].split()[0]
    writable = service["ReadWritePaths"][0].split()
    assert state in writable and cache in writable
    assert service["ProtectSystem"] == ["strict"] and service["NoNewPrivileges"] == ["yes"]
    assert service["User"] == ["reelpick"]
    assert "TELEGRAM_BOT_TOKEN" not in " ".join(service.get("Environment", []))
    if args.run is cmd_bot:
        assert service["Restart"] == ["on-failure"]
        assert service["EnvironmentFile"] == ["/etc/reelpick/reelpick.env"]
        data = env["XDG_DATA_HOME"]
        assert data == "/var/lib/" + service["StateDirectory"][0].split()[1]
        assert data in writable
    else:
        assert args.dir in writable
        assert service["Type"] == ["oneshot"]


def test_backup_timer_starts_the_backup_daily() -> None:
    timer = unit("reelpick-backup.timer")
    assert timer["Timer"]["OnCalendar"] == ["daily"]
    assert timer["Timer"].get("Unit", ["reelpick-backup.service"]) == ["reelpick-backup.service"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze not found (Debian: apt-get install -y systemd)")
        pytest.skip("systemd-analyze not found; the structural checks above still ran")
    # ExecStart must name an executable that exists: this checkout's reelpick.
    script = Path(sys.executable).with_name("reelpick")
    assert script.exists()
    for name in UNITS:
        text = (DEPLOY / name).read_text().replace(INSTALLED, str(script))
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        [analyze, "verify", "--man=no", *(str(tmp_path / n) for n in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # systemd only warns ("ignoring") about unknown keys and bad values: none may be there.
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_systemd_verify_would_see_a_mistake(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not found")
    bad = tmp_path / "bad.service"
    bad.write_text("[Service]\nExecStart=/bin/true\nRestart=sometimes\n")
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert "Restart" in result.stderr or "restart" in result.stderr


def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    binary = nginx_binary()
    cert, key = self_signed(tmp_path)
    conf = tmp_path / "nginx.conf"
    served = site(*free_ports(2), cert, key)
    assert re.search(r"location = /reelpick-hook", served)
    conf.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\naccess_log off;\nclient_body_temp_path {tmp_path}/body;\n"
        f"proxy_temp_path {tmp_path}/proxy;\n{served}\n}}\n"
    )
    result = subprocess.run(
        [binary, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
