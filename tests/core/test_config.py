"""Settings: defaults, config.toml, environment overrides, and one clear line per mistake."""

from pathlib import Path

import pytest

from reelpick.config import load_config, secret
from reelpick.errors import ConfigError
from reelpick.settings import toml_defaults


def test_repository_config_matches_the_defaults() -> None:
    repo_config = Path(__file__).resolve().parents[2] / "config.toml"
    loaded = load_config(repo_config)
    for table, values in toml_defaults().items():  # the folders as XDG says now
        for key, default in values.items():
            if table == "plugins" and key != "enabled":
                continue
            assert loaded.values[table][key] == default, f"config.toml [{table}] {key} differs"


def test_unknown_key_names_file_table_and_key(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text("[bot]\nkk = 3\n")
    with pytest.raises(ConfigError) as caught:
        load_config(file)
    message = str(caught.value)
    assert str(file) in message and "[bot] kk" in message and "unknown setting" in message


def test_wrong_type_says_what_was_expected(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text('[bot]\nk = "five"\n')
    with pytest.raises(ConfigError, match=r"\[bot\] k: expected an integer, got a string 'five'"):
        load_config(file)


def test_ints_are_accepted_for_floats(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text("[bot]\nplugin_timeout = 3\n")
    assert load_config(file).section("bot")["plugin_timeout"] == 3.0


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text("[bot\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(file)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REELPICK_DATA", "/data/ml")
    monkeypatch.setenv("REELPICK_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("REELPICK_POSTERS_DIR", "/posters")
    config = load_config()
    assert config.data_source == "/data/ml"
    assert config.cache_dir == tmp_path / "c"
    assert config.section("posters")["dir"] == "/posters"


def test_reelpick_config_selects_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "other.toml"
    file.write_text('[cache]\ndir = "relative-cache"\n')
    monkeypatch.setenv("REELPICK_CONFIG", str(file))
    config = load_config()
    assert config.path == file
    # Relative paths in a config file are relative to that file.
    assert config.cache_dir == tmp_path / "relative-cache"


def test_secrets_come_only_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert secret("TELEGRAM_BOT_TOKEN") is None
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", " 123:abc ")
    assert secret("TELEGRAM_BOT_TOKEN") == "123:abc"
    with pytest.raises(KeyError):
        secret("HOME")


def test_relative_paths_in_the_environment_are_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "conf"
    elsewhere.mkdir()
    (elsewhere / "config.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REELPICK_CONFIG", str(elsewhere / "config.toml"))
    monkeypatch.setenv("REELPICK_POSTERS_DIR", "./posters")
    monkeypatch.setenv("REELPICK_DATA", "ml-25m")
    config = load_config()
    assert config.section("posters")["dir"] == str(tmp_path / "posters")
    assert config.data_source == "ml-25m"


def test_config_toml_documents_every_builtin_plugin_parameter_with_its_default() -> None:
    import tomllib

    from reelpick.registry import BUILTIN_PLUGINS, _import

    repo_config = Path(__file__).resolve().parents[2] / "config.toml"
    documented = tomllib.loads(repo_config.read_text())["plugins"]
    for name, target in BUILTIN_PLUGINS.items():
        params = _import(target)().reelpick_plugin_info().params
        assert documented.get(name) == params, f"config.toml [plugins.{name}] differs from defaults"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a = " + "[" * 20_000 + "]" * 20_000, "nested too deeply"),
        ("[bot]\nk = \xff\n", "not valid TOML"),
        ("# " + "x" * (1024 * 1024), "not a config file"),
    ],
    ids=["nested", "not-utf8", "huge"],
)
def test_a_hostile_config_file_is_one_config_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError, match=message) as raised:
        load_config(path)
    assert "\n" not in str(raised.value) and len(str(raised.value)) < 300


def test_a_wrong_type_quotes_a_long_value_shortly(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[bot]\nk = "{"x" * 100_000}"\n')
    with pytest.raises(ConfigError, match=r"expected an integer, got a string 'xxx.*\.\.\.$"):
        load_config(path)


def test_an_unusable_cache_folder_names_its_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("")
    path = tmp_path / "config.toml"
    path.write_text(f'[cache]\ndir = "{tmp_path / "file" / "cache"}"\n')
    monkeypatch.delenv("REELPICK_CACHE", raising=False)
    with pytest.raises(ConfigError, match=r"config.toml: \[cache\] dir: the cache folder .*"):
        load_config(path).usable_cache_dir()
    monkeypatch.setenv("REELPICK_CACHE", str(tmp_path / "cache"))
    assert load_config(path).usable_cache_dir().is_dir()
