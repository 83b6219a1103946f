"""The config file: built-in defaults, overlaid by config.toml, overlaid by a few environment
variables, each key checked against the schema derived from :mod:`reelpick.settings`.

:class:`Config` keeps the merged values in config.toml's layout and parses them once into
typed :class:`~reelpick.settings.Settings` (``config.settings``). Secrets (the Telegram token,
the TMDB key) are never read from files: see :func:`secret`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import platformdirs

from .errors import ConfigError
from .redact import protect
from .settings import (
    APP_NAME,
    Settings,
    default_folders,
    expand,
    free_form_tables,
    setting_name,
    toml_defaults,
)

__all__ = [
    "APP_NAME",
    "DEFAULTS",
    "Config",
    "check_type",
    "default_folders",
    "expand",
    "load_config",
    "secret",
    "user_config_file",
]


def user_config_file() -> Path:
    """``$XDG_CONFIG_HOME/reelpick/config.toml`` (``~/.config/reelpick/config.toml``)."""
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


# Every key a config file may set, with its default, derived from the section classes of
# reelpick.settings (config.toml documents the same keys and values).
DEFAULTS: dict[str, Any] = toml_defaults()

# Tables whose keys are not known in advance (plugin parameters are checked by the registry).
FREE_FORM = free_form_tables()

ENVIRONMENT = {
    "REELPICK_DATA": ("data", "source"),
    "REELPICK_CACHE": ("cache", "dir"),
    "REELPICK_STATE": ("state", "dir"),
    "REELPICK_POSTERS_DIR": ("posters", "dir"),
    "REELPICK_TMDB_API_URL": ("posters", "api_url"),
    "REELPICK_TELEGRAM_BASE_URL": ("bot", "base_url"),
    "REELPICK_TELEGRAM_BASE_FILE_URL": ("bot", "base_file_url"),
    "REELPICK_HEALTH": ("bot", "health"),
    "REELPICK_OWNER": ("bot", "owner"),
    "REELPICK_ENGINE": ("engine", "name"),
    "REELPICK_SPARK_MASTER": ("engine", "spark", "master"),
}

ENVIRONMENT_PATHS = {("data", "source"), ("cache", "dir"), ("state", "dir"), ("posters", "dir")}

SECRETS = ("TELEGRAM_BOT_TOKEN", "TMDB_API_KEY", "TMDB_READ_TOKEN")


@dataclass
class Config:
    """Merged settings. ``values`` mirrors the layout of config.toml; :attr:`settings` is the
    same, checked and typed (parsed on first use, so change ``values`` only before that)."""

    values: dict[str, Any]
    path: Path | None = None

    @cached_property
    def settings(self) -> Settings:
        """Every section checked into its frozen dataclass (one-line ConfigError otherwise)."""
        return Settings.from_config(self)

    def section(self, name: str) -> dict[str, Any]:
        """The raw ``[name]`` table (unchecked beyond its keys and types)."""
        return self.values[name]  # type: ignore[no-any-return]

    @property
    def cache_dir(self) -> Path:
        return expand(self.values["cache"]["dir"], self.path)

    def usable_cache_dir(self) -> Path:
        """The cache folder, made if missing; :class:`ConfigError` naming the setting when it
        cannot be made or written (every fit would fail, each with its own traceback)."""
        path = self.cache_dir
        source = (
            "REELPICK_CACHE" if os.environ.get("REELPICK_CACHE") else self.where("cache", "dir")
        )
        try:
            path.mkdir(parents=True, exist_ok=True)
            if not os.access(path, os.W_OK | os.X_OK):
                raise PermissionError(13, "not writable")
        except OSError as exc:
            raise ConfigError(
                f"{source}: the cache folder {path} cannot be used ({exc.strerror or exc})"
            ) from None
        return path

    @property
    def data_dir(self) -> Path:
        return expand(self.values["data"]["dir"], self.path)

    @property
    def data_source(self) -> str:
        return str(self.values["data"]["source"])

    @property
    def enabled_plugins(self) -> list[str]:
        return list(self.values["plugins"]["enabled"])

    def plugin_params(self, name: str) -> dict[str, Any]:
        """The ``[plugins.NAME]`` table (unchecked: the registry checks it against the plugin)."""
        return dict(self.values["plugins"].get(name, {}))

    def where(self, *keys: str) -> str:
        """Human name of a setting, for error messages: ``config.toml: [bot] k``."""
        return setting_name(self.path, *keys)


def secret(name: str) -> str | None:
    """A secret from the environment (never from a file); None when unset or blank."""
    if name not in SECRETS:
        raise KeyError(name)
    value = os.environ.get(name, "").strip()
    protect(value)  # from now on, masked in every log line
    return value or None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load settings from ``path``, else ``$REELPICK_CONFIG``, else ./config.toml, else the
    user's ``~/.config/reelpick/config.toml`` (``$XDG_CONFIG_HOME``), whichever exists first."""
    chosen = path or os.environ.get("REELPICK_CONFIG")
    if chosen is None and Path("config.toml").is_file():
        chosen = "config.toml"
    if chosen is None and user_config_file().is_file():
        chosen = str(user_config_file())
    values = toml_defaults()  # a fresh copy, its data and cache folders read from XDG now
    file_path = None
    if chosen:
        file_path = Path(chosen).expanduser().resolve()
        if not file_path.is_file():
            raise ConfigError(f"{chosen}: config file not found")
        user = _read_toml(file_path)
        _merge(values, user, toml_defaults(), (), file_path)
    for env_name, (*tables, key) in ENVIRONMENT.items():
        value = os.environ.get(env_name)
        if value:
            # A relative path in the environment means relative to where the command runs,
            # not to the config file (a bare dataset name such as "ml-25m" stays a name).
            if (*tables, key) in ENVIRONMENT_PATHS and ("/" in value or Path(value).exists()):
                value = os.path.abspath(os.path.expanduser(value))
            target = values
            for table in tables:
                target = target[table]
            target[key] = value
    return Config(values=values, path=file_path)


# A config file is a few kilobytes; one far larger is not one (and tomllib would hold it all).
MAX_CONFIG_BYTES = 1024 * 1024


def _read_toml(file_path: Path) -> dict[str, Any]:
    try:
        if file_path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{file_path}: over {MAX_CONFIG_BYTES // 1024} KB, not a config file")
        with open(file_path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file_path}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise ConfigError(f"{file_path}: not valid TOML: nested too deeply") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file_path}: not valid TOML: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{file_path}: cannot read it ({exc.strerror or exc})") from None


def _merge(
    into: dict[str, Any],
    user: dict[str, Any],
    defaults: dict[str, Any],
    trail: tuple[str, ...],
    file_path: Path,
) -> None:
    for key, value in user.items():
        where = f"{file_path}: [{'.'.join(trail)}] {key}" if trail else f"{file_path}: {key}"
        if trail in FREE_FORM and key not in defaults:
            into[key] = value
            continue
        if key not in defaults:
            known = ", ".join(sorted(defaults)) or "none"
            raise ConfigError(f"{where}: unknown setting (known here: {known})")
        expected = defaults[key]
        if isinstance(expected, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: expected a table, got {_kind(value)}")
            _merge(into[key], value, expected, (*trail, key), file_path)
        else:
            into[key] = check_type(value, expected, where)


def check_type(value: Any, example: Any, where: str) -> Any:
    """Return ``value`` if it has the type of ``example`` (ints pass for floats); else raise."""
    if isinstance(example, bool) or isinstance(value, bool):
        ok = isinstance(value, bool) and isinstance(example, bool)
    elif isinstance(example, float):
        ok = isinstance(value, int | float)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, type(example))
    if not ok:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ConfigError(f"{where}: expected {_kind(example)}, got {_kind(value)} {shown}")
    return value


def _kind(value: Any) -> str:
    return {
        bool: "true/false",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)
