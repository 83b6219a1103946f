"""Settings: built-in defaults, overlaid by config.toml, overlaid by a few environment variables.

Secrets (the Telegram token, the TMDB key) are never read from files: see :func:`secret`.
"""

from __future__ import annotations

import copy
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from .errors import ConfigError
from .redact import protect

APP_NAME = "reelpick"


def user_config_file() -> Path:
    """``$XDG_CONFIG_HOME/reelpick/config.toml`` (``~/.config/reelpick/config.toml``)."""
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def default_folders() -> dict[str, str]:
    """Where data and cache go when config.toml does not say: the platform's folders
    (on Linux ``$XDG_DATA_HOME/reelpick/data`` and ``$XDG_CACHE_HOME/reelpick``), read
    when the config is loaded so that a changed XDG variable is followed."""
    return {
        "data": str(platformdirs.user_data_path(APP_NAME) / "data"),
        "cache": str(platformdirs.user_cache_path(APP_NAME)),
    }


# Every key a config file may set, with its default. config.toml documents the same keys.
DEFAULTS: dict[str, Any] = {
    "data": {
        # A dataset name (fetched into data.dir), a MovieLens folder, or an official zip.
        "source": "ml-latest-small",
        # Both folders follow XDG (see default_folders), read again by every load_config.
        "dir": default_folders()["data"],
    },
    "cache": {"dir": default_folders()["cache"]},
    "engine": {
        # Where heavy fits run: "local" (numba on this machine) or "spark" (pyspark extra).
        "name": "local",
        "spark": {
            "master": "local[2]",
            "ratings": "",  # optional Parquet/CSV ratings read by Spark for the fit
            "broadcast_limit_mb": 1024,
            "conf": {},  # free-form SparkSession settings
        },
    },
    "plugins": {
        # Answer order in the CLI and the bot. Plugin parameters go in [plugins.NAME].
        "enabled": ["cosine-cf", "sgd-mf", "vgg16-poster", "ease", "hybrid"],
    },
    "posters": {
        "dir": "",
        "size": "w185",
        "api_url": "https://api.themoviedb.org/3",
        "timeout": 10.0,
        "retries": 3,
        "concurrency": 8,
        "configuration_max_age_days": 3,
        "failure_ttl_hours": 24.0,
        "failure_pause_seconds": 60.0,
        "requests_per_second": 40.0,
        "max_bytes": 5_000_000,
        "max_pixels": 4_000_000,
    },
    "bot": {
        "base_url": "https://api.telegram.org/bot",
        "base_file_url": "https://api.telegram.org/file/bot",
        "mode": "polling",
        "webhook_url": "",
        "webhook_listen": "127.0.0.1",
        "webhook_port": 8443,
        "admins": [],
        "k": 5,
        "plugin_timeout": 10.0,
        "messages_per_minute": 20,
        "messages_per_user_minute": 10,
        "heavy_answers_per_minute": 120,
        "plugin_failures_before_pause": 3,
        "plugin_pause_seconds": 60.0,
        "plugin_max_running": 4,
        "max_messages_per_second": 30.0,
        "max_messages_per_group_minute": 20,
        "max_messages_per_chat_second": 1.0,
        "retries": 3,
        # Personal profiles (/rate, /forme): "" keeps them in <cache.dir>/profiles.sqlite3.
        "profiles_db": "",
        "max_import_mb": 10.0,
    },
    # -- inline mode and photo queries (bot/inline.py, bot/photo/) --
    "inline": {
        "page_size": 10,  # results per inline answer page (Telegram allows 50)
        "max_results": 50,  # candidates of a title, or popular movies, over all pages
        "cache_time": 300,  # seconds Telegram may reuse an answer to the same query
        "cache_time_personal": 30,  # ... when the answer is personal (the user has a profile)
        "cards": 512,  # movies whose card (top picks per plugin) is kept in memory
    },
    "photo": {
        "max_bytes": 10_000_000,  # larger photos are refused before they are downloaded
        "max_pixels": 40_000_000,  # ... and pictures of more pixels after
        "idle_seconds": 600.0,  # the image worker stops after this long without a photo
        "timeout": 30.0,  # seconds a running worker may take for one photo
        "start_timeout": 180.0,  # ... a fresh one (it loads the data and the model first)
        # Calibrated by bench/bench_photo.py (top-1 cosine and its margin over the second).
        "confident_score": 0.57,
        "confident_margin": 0.28,
        "candidate_score": 0.44,  # below: "I don't know this movie"
    },
    "movienight": {
        "max_options": 10,
        "voting_minutes": 10.0,
        "per_seed": 10,
        "rrf_k": 60,
        "max_seeds": 20,
        "db": "",
        "ask_after_hours": 20.0,
        "weights": {},
    },
    "picks": {
        # Rank fusion of every plugin's recommendations for a person (reelpick.picks).
        "rrf_k": 60,
        # Chosen by `reelpick evaluate --task topn --tune` on validation users inside the
        # training data (config.toml says more).
        "weights": {
            "cosine-cf": 1.0,
            "sgd-mf": 0.0,
            "vgg16-poster": 0.25,
            "ease": 2.0,
            "hybrid": 0.25,
        },
    },
    "groups": {
        # One list for several people (reelpick.groups); chosen on validation data.
        "strategy": "average_without_misery",
        "misery_threshold": 0.0,
        "prior_weight": 0.1,
        "depth": 200,
        "rank_k": 10,
        "size_exponent": -0.75,
        "fair_depth": 50,
    },
}

# Tables whose keys are not known in advance (plugin parameters are checked by the registry).
FREE_FORM = {
    ("plugins",),
    ("movienight", "weights"),
    ("picks", "weights"),
    ("engine", "spark", "conf"),
}

ENVIRONMENT = {
    "REELPICK_DATA": ("data", "source"),
    "REELPICK_CACHE": ("cache", "dir"),
    "REELPICK_POSTERS_DIR": ("posters", "dir"),
    "REELPICK_TMDB_API_URL": ("posters", "api_url"),
    "REELPICK_TELEGRAM_BASE_URL": ("bot", "base_url"),
    "REELPICK_TELEGRAM_BASE_FILE_URL": ("bot", "base_file_url"),
    "REELPICK_ENGINE": ("engine", "name"),
    "REELPICK_SPARK_MASTER": ("engine", "spark", "master"),
}

ENVIRONMENT_PATHS = {("data", "source"), ("cache", "dir"), ("posters", "dir")}

SECRETS = ("TELEGRAM_BOT_TOKEN", "TMDB_API_KEY", "TMDB_READ_TOKEN")


@dataclass
class Config:
    """Merged settings. ``values`` mirrors the layout of config.toml."""

    values: dict[str, Any]
    path: Path | None = None

    def section(self, name: str) -> dict[str, Any]:
        return self.values[name]

    @property
    def cache_dir(self) -> Path:
        return expand(self.values["cache"]["dir"], self.path)

    @property
    def data_dir(self) -> Path:
        return expand(self.values["data"]["dir"], self.path)

    @property
    def data_source(self) -> str:
        return self.values["data"]["source"]

    @property
    def enabled_plugins(self) -> list[str]:
        return list(self.values["plugins"]["enabled"])

    def plugin_params(self, name: str) -> dict[str, Any]:
        """The ``[plugins.NAME]`` table (unchecked: the registry checks it against the plugin)."""
        return dict(self.values["plugins"].get(name, {}))

    def where(self, *keys: str) -> str:
        """Human name of a setting, for error messages: ``config.toml: [bot] k``."""
        origin = str(self.path) if self.path else "built-in defaults"
        table = ".".join(keys[:-1])
        return f"{origin}: [{table}] {keys[-1]}" if table else f"{origin}: {keys[-1]}"


def expand(value: str, relative_to: Path | None = None) -> Path:
    """A path from config: ``~`` expanded; relative paths are relative to the config file."""
    path = Path(os.path.expanduser(value))
    if not path.is_absolute() and relative_to is not None:
        path = relative_to.parent / path
    return path


def secret(name: str) -> str | None:
    """A secret from the environment (never from a file); None when unset or blank."""
    if name not in SECRETS:
        raise KeyError(name)
    value = os.environ.get(name, "").strip()
    protect(value)  # from now on, masked in every log line
    return value or None


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Load settings from ``path``, else ``$REELPICK_CONFIG``, else ./config.toml, else the
    user's ``~/.config/reelpick/config.toml`` (``$XDG_CONFIG_HOME``), whichever exists first."""
    chosen = path or os.environ.get("REELPICK_CONFIG")
    if chosen is None and Path("config.toml").is_file():
        chosen = "config.toml"
    if chosen is None and user_config_file().is_file():
        chosen = str(user_config_file())
    values = copy.deepcopy(DEFAULTS)
    folders = default_folders()
    values["data"]["dir"] = folders["data"]
    values["cache"]["dir"] = folders["cache"]
    file_path = None
    if chosen:
        file_path = Path(chosen).expanduser().resolve()
        if not file_path.is_file():
            raise ConfigError(f"{chosen}: config file not found")
        try:
            with open(file_path, "rb") as fh:
                user = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file_path}: not valid TOML: {exc}") from None
        _merge(values, user, DEFAULTS, (), file_path)
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


def _merge(into: dict, user: dict, defaults: dict, trail: tuple, file_path: Path) -> None:
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
        raise ConfigError(f"{where}: expected {_kind(example)}, got {_kind(value)} {value!r}")
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
