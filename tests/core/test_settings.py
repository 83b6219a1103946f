"""The typed settings: config.toml documents the code's defaults, each section is checked once
into its frozen dataclass, and the schema load_config checks files against comes from them."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from reelpick.config import DEFAULTS, FREE_FORM, load_config
from reelpick.engine.settings import EngineName
from reelpick.errors import ConfigError
from reelpick.groups import GroupSettings
from reelpick.picks import PickSettings
from reelpick.settings import BotMode, MovieNightSettings, Settings, expand, toml_defaults
from reelpick.types import Profile
from tests.support.fixtures import REPO

REPO_CONFIG = REPO / "config.toml"
HEADER = re.compile(r"^\[([^\]]+)\]\s*(#.*)?$")
COMMENTED = re.compile(r"^#\s*(\S.*)$")


def documented(text: str) -> dict[str, Any]:
    """config.toml's values, plus the defaults it gives only as comments (``# key = value``
    under a table, for a key the table does not set: the machine-dependent folders)."""
    values = tomllib.loads(text)
    table: dict[str, Any] = values
    for line in text.splitlines():
        if header := HEADER.match(line.strip()):
            table = values
            for part in header.group(1).split("."):
                table = table.setdefault(part.strip('"'), {})
        elif commented := COMMENTED.match(line.strip()):
            try:
                found = tomllib.loads(commented.group(1))
            except tomllib.TOMLDecodeError:
                continue  # prose, not a setting
            for key, value in found.items():
                if not isinstance(value, dict):
                    table.setdefault(key, value)
    return values


def differences(
    documented: dict[str, Any], defaults: dict[str, Any], trail: tuple[str, ...] = ()
) -> list[str]:
    """Every key whose documented value differs from the code's default, or is missing.

    A section's other keys (plugin parameters) are not compared here; a free-form table
    inside a section (plugin weights) is compared whole."""
    found = []
    for key, default in defaults.items():
        path = (*trail, key)
        where = ".".join(path)
        if key not in documented:
            found.append(f"{where}: not documented")
        elif isinstance(default, dict) and (not trail or path not in FREE_FORM):
            found += differences(documented[key], default, path)
        elif key == "dir" and trail in (("data",), ("cache",), ("state",)):
            if expand(documented[key]) != Path(default):
                found.append(f"{where}: documented {documented[key]!r}, default {default!r}")
        elif documented[key] != default:
            found.append(f"{where}: documented {documented[key]!r}, default {default!r}")
    return found


@pytest.fixture
def plain_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder without XDG variables: the folders config.toml documents."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_config_toml_documents_the_code_defaults(plain_home: Path) -> None:
    assert differences(documented(REPO_CONFIG.read_text()), toml_defaults()) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("depth = 50 ", "depth = 200 "), "groups.depth: documented 200, default 50"),
        (("rank_k = 0 ", "rank_kk = 0 "), "groups.rank_k: not documented"),
        (("rank_k = 0 ", "# rank_k = 1 "), "groups.rank_k: documented 1, default 0"),
        (("ease = 0.5", "ease = 1.0"), "picks.weights: documented"),
        (("max_options = 10 ", "wax_options = 10 "), "movienight.max_options: not documented"),
        (('# dir = "~/.cache/reelpick"', '# dir = "~/cache"'), "cache.dir: documented"),
        (('mode = "polling"', 'mode = "webhook"'), "bot.mode"),
    ],
)
def test_a_documented_default_that_differs_is_found(
    plain_home: Path, change: tuple[str, str], expected: str
) -> None:
    text = REPO_CONFIG.read_text()
    assert change[0] in text
    found = differences(documented(text.replace(change[0], change[1], 1)), toml_defaults())
    assert any(expected in line for line in found), found


def test_the_schema_comes_from_the_section_classes() -> None:
    assert DEFAULTS["groups"] == {
        f.name: getattr(GroupSettings(), f.name) for f in dataclasses.fields(GroupSettings)
    }
    assert DEFAULTS["picks"] == {
        "weights": PickSettings().weights,
        "rrf_k": 20.0,
        "calibration": PickSettings().calibration,
        "calibration_pool": 50,
        "weights_while_rating": PickSettings().weights_while_rating,
        "rrf_k_while_rating": 60.0,
        "calibration_while_rating": PickSettings().calibration_while_rating,
    }
    assert DEFAULTS["engine"]["spark"]["master"] == "local[2]"
    assert DEFAULTS["movienight"]["db"] == ""  # blank: a file in state.dir
    assert {
        ("plugins",),
        ("picks", "weights"),
        ("picks", "weights_while_rating"),
        ("movienight", "weights"),
        ("engine", "spark", "conf"),
    } == FREE_FORM


def test_config_settings_are_parsed_once_and_frozen(make_config) -> None:
    config = make_config("[groups]\ndepth = 50\n[bot]\nadmins = [7]\n")
    settings = config.settings
    assert config.settings is settings
    assert settings.groups == GroupSettings(depth=50)
    assert settings.bot.admins == (7,) and settings.bot.mode == BotMode.POLLING
    assert settings.engine.name == EngineName.LOCAL
    assert settings.cache.dir == config.cache_dir and settings.data.dir == config.data_dir
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.groups.depth = 10  # type: ignore[misc]


def test_built_in_settings_equal_an_empty_config(tmp_path: Path) -> None:
    empty = tmp_path / "config.toml"
    empty.write_text("")
    parsed = load_config(empty).settings
    built_in = Settings()
    for section in ("engine", "plugins", "posters", "inline", "photo", "picks", "groups"):
        assert getattr(parsed, section) == getattr(built_in, section), section


def test_movie_night_settings_are_checked(make_config) -> None:
    def night(text: str = "") -> MovieNightSettings:
        return make_config(text).settings.movienight

    assert night().max_options == 10 and night().rrf_k == 60.0
    with pytest.raises(ConfigError, match=r"\[movienight\] max_options: must be 2-12"):
        night("[movienight]\nmax_options = 13\n")
    with pytest.raises(ConfigError, match=r"\[movienight\] cosine-cf: a weight must be"):
        night("[movienight.weights]\ncosine-cf = -1\n")
    with pytest.raises(ConfigError, match=r"\[movienight\] per_seed: must be >= 1"):
        night("[movienight]\nper_seed = 0\n")
    config = make_config('[movienight]\ndb = "nights.db"\n')
    assert config.settings.movienight.db == config.path.parent / "nights.db"
    assert night().db == make_config().settings.state.dir / "movienight.sqlite3"


def test_bot_settings_are_checked(make_config) -> None:
    with pytest.raises(ConfigError, match=r"\[bot\] mode: 'pigeon' is not one of polling"):
        _ = make_config('[bot]\nmode = "pigeon"\n').settings
    config = make_config()
    assert config.settings.bot.profiles_db == config.settings.state.dir / "profiles.sqlite3"
    assert not config.settings.bot.profiles_db.is_relative_to(config.cache_dir)


def test_picks_settings_are_checked(make_config) -> None:
    with pytest.raises(ConfigError, match=r"\[picks\] rrf_k: must be >= 0"):
        _ = make_config("[picks]\nrrf_k = -1\n").settings
    with pytest.raises(ConfigError, match=r"\[picks.weights\] ease: expected a number"):
        make_config('[picks.weights]\nease = "lots"\n')  # a known plugin: checked at load
    with pytest.raises(ConfigError, match=r"\[picks\] weights new: expected a number"):
        _ = make_config('[picks.weights]\nnew = "lots"\n').settings
    weights = make_config("[picks.weights]\nease = 1\nnew-plugin = 0.5\n").settings.picks.weights
    assert weights == {**PickSettings().weights, "ease": 1.0, "new-plugin": 0.5}
    with pytest.raises(ConfigError, match=r"\[picks\] calibration_while_rating: must be between"):
        _ = make_config("[picks]\ncalibration_while_rating = 2\n").settings
    with pytest.raises(ConfigError, match=r"\[picks\] weights_while_rating new: expected a num"):
        _ = make_config('[picks.weights_while_rating]\nnew = "lots"\n').settings


def test_a_person_still_rating_gets_the_while_rating_picks_settings() -> None:
    settings = PickSettings()
    rating = Profile(rated_at={1: 1000.0}, asked_at=1060.0)
    back = Profile(rated_at={1: 1000.0}, asked_at=1000.0 + 86400)
    assert settings.for_profile(back) is settings
    chosen = settings.for_profile(rating)
    assert (chosen.weights, chosen.rrf_k, chosen.calibration) == (
        settings.weights_while_rating,
        settings.rrf_k_while_rating,
        settings.calibration_while_rating,
    )
    everyone = PickSettings(weights={"a": 1.0}, rrf_k=60.0, calibration=0.3).for_everyone()
    assert everyone.for_profile(rating).weights == {"a": 1.0}
    assert everyone.calibrated(0.0).for_profile(rating).calibration == 0.0


def test_movienight_settings_are_checked(make_config) -> None:
    assert make_config().settings.movienight.max_options == 10
    with pytest.raises(ConfigError, match="max_options"):
        Settings.from_config(make_config("[movienight]\nmax_options = 13\n"))
    with pytest.raises(ConfigError, match="weight"):
        Settings.from_config(make_config("[movienight.weights]\ncosine-cf = -1\n"))
    settings = make_config('[movienight]\ndb = "nights.db"\n').settings.movienight
    assert settings.db.name == "nights.db" and settings.db.is_absolute()
    assert make_config().settings.movienight.db.name == "movienight.sqlite3"


def test_bot_admins_are_user_ids(make_config) -> None:
    assert make_config("[bot]\nadmins = [42, 7]\n").settings.bot.admins == (42, 7)
    with pytest.raises(ConfigError, match=r"\[bot\] admins: expected a list of Telegram user ids"):
        Settings.from_config(make_config('[bot]\nadmins = ["someone"]\n'))


def test_reelpick_state_moves_peoples_data(make_config, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("REELPICK_STATE", str(tmp_path / "kept"))
    settings = make_config().settings
    assert settings.state.dir == tmp_path / "kept"
    assert settings.bot.profiles_db == tmp_path / "kept" / "profiles.sqlite3"
    assert settings.movienight.db == tmp_path / "kept" / "movienight.sqlite3"
