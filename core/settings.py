"""The settings: one frozen dataclass per ``config.toml`` section, and :class:`Settings` for all.

Each section's defaults are the field defaults of its class, and nowhere else: the schema of
keys that :func:`reelpick.config.load_config` checks a file against is derived from these
classes (:func:`toml_defaults`, :func:`free_form_tables`), and ``config.toml`` documents the
same values (a test compares them). The component that uses a section owns its class
(:class:`~reelpick.picks.PickSettings`, :class:`~reelpick.groups.GroupSettings`,
:class:`~reelpick.engine.settings.EngineSettings`); the sections only the bot reads (bot,
inline, photo, movie nights) and the app's own (data, cache, state, plugins, posters) are here,
because core never imports the bot.

:meth:`Settings.from_config` checks every section once, each mistake a one-line
:class:`~reelpick.errors.ConfigError` naming the file, table and key.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

import platformdirs

from .catalogue.settings import CatalogueSettings, TMDBSettings
from .engine.settings import EngineSettings
from .errors import ConfigError
from .fusion import check_weights
from .groups import GroupSettings
from .picks import PickSettings

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from .config import Config

APP_NAME = "reelpick"
TELEGRAM_MAX_OPTIONS = 12  # sendPoll accepts 2-12 options

# Field metadata of a path setting whose default is a file in state.dir (people's data, never
# the cache): config.toml leaves it blank (""), which stands for ``<state.dir>/<the default>``.
IN_STATE = {"in_state": True}

T = TypeVar("T", bound="DataclassInstance")

Where = Callable[..., str]
"""Names a setting for an error message from its keys inside a section: ``where("k")``."""


def default_folders() -> dict[str, str]:
    """Where data, cache and people's data go when config.toml does not say: the platform's
    folders (on Linux ``$XDG_DATA_HOME/reelpick/data``, ``$XDG_CACHE_HOME/reelpick`` and
    ``$XDG_STATE_HOME/reelpick``), read each time so that a changed XDG variable is followed."""
    return {
        "data": str(platformdirs.user_data_path(APP_NAME) / "data"),
        "cache": str(platformdirs.user_cache_path(APP_NAME)),
        "state": str(platformdirs.user_state_path(APP_NAME)),
    }


def expand(value: str, relative_to: Path | None = None) -> Path:
    """A path from config: ``~`` expanded; relative paths are relative to the config file."""
    path = Path(os.path.expanduser(value))
    if not path.is_absolute() and relative_to is not None:
        path = relative_to.parent / path
    return path


def setting_name(origin: Path | None, *keys: str) -> str:
    """Human name of a setting, for error messages: ``config.toml: [bot] k``."""
    source = str(origin) if origin else "built-in defaults"
    table = ".".join(keys[:-1])
    return f"{source}: [{table}] {keys[-1]}" if table else f"{source}: {keys[-1]}"


def _state_file(name: str) -> Any:
    return field(default=Path(name), metadata=IN_STATE)


def _path_in(
    table: Mapping[str, Any], cls: type, key: str, origin: Path | None, state: Path
) -> Path:
    """A path setting: blank means the field's default file in ``state``; relative paths are
    relative to the config file."""
    value = str(table[key])
    if value:
        return expand(value, origin)
    default = next(f.default for f in dataclasses.fields(cls) if f.name == key)
    return state / Path(str(default))


def _plain(cls: type[T], table: Mapping[str, Any]) -> T:
    """A section whose values need no more than load_config's type check (lists as tuples)."""
    return cls(
        **{
            f.name: tuple(table[f.name]) if isinstance(table[f.name], list) else table[f.name]
            for f in dataclasses.fields(cls)
        }
    )


@dataclass(frozen=True)
class DataSettings:
    """``[data]``: which dataset, and where named datasets are downloaded."""

    # A dataset name (fetched into dir), a MovieLens folder, or an official zip.
    source: str = "ml-latest-small"
    dir: Path = field(default_factory=lambda: Path(default_folders()["data"]))


@dataclass(frozen=True)
class CacheSettings:
    """``[cache]``: fitted tables, poster files and the bot's file ids: all rebuildable."""

    dir: Path = field(default_factory=lambda: Path(default_folders()["cache"]))


@dataclass(frozen=True)
class StateSettings:
    """``[state]``: people's data (profiles, movie nights, chat settings) and its backups."""

    dir: Path = field(default_factory=lambda: Path(default_folders()["state"]))
    backup_keep: int = 7  # backups ``reelpick backup`` keeps in its folder (older are removed)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: Where, origin: Path | None) -> Self:
        if table["backup_keep"] < 1:
            raise ConfigError(f"{where('backup_keep')}: must be >= 1")
        return cls(expand(str(table["dir"]), origin), int(table["backup_keep"]))


@dataclass(frozen=True)
class PluginSettings:
    """``[plugins]``: which plugins answer, in this order. The other keys of the table are
    each plugin's parameters (``[plugins.NAME]``), checked by the registry against the plugin."""

    open_table: ClassVar[bool] = True
    enabled: tuple[str, ...] = ("cosine-cf", "sgd-mf", "vgg16-poster", "ease", "hybrid")


@dataclass(frozen=True)
class PosterSettings:
    """``[posters]``: the offline folder ("": none) and the TMDB client's limits."""

    dir: str = ""
    size: str = "w185"
    api_url: str = "https://api.themoviedb.org/3"
    timeout: float = 10.0
    retries: int = 3
    concurrency: int = 8
    configuration_max_age_days: int = 3
    failure_ttl_hours: float = 24.0
    failure_pause_seconds: float = 60.0
    requests_per_second: float = 40.0
    max_bytes: int = 5_000_000
    max_pixels: int = 4_000_000


class BotMode(StrEnum):
    """How the bot receives updates."""

    POLLING = "polling"
    WEBHOOK = "webhook"


@dataclass(frozen=True)
class BotSettings:
    """``[bot]``: the Bot API location, limits, and where people's profiles are kept."""

    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    mode: BotMode = BotMode.POLLING
    webhook_url: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    admins: tuple[int, ...] = ()
    k: int = 5
    plugin_timeout: float = 10.0
    messages_per_minute: int = 20
    messages_per_user_minute: int = 10
    heavy_answers_per_minute: int = 120
    waiting_per_chat: int = 5  # title answers waiting or running per chat; more get "busy"
    waiting_per_person: int = 4  # ... per person (a user, or the channel or group posting)
    title_threads: int = 2  # threads matching typed titles, apart from other work
    plugin_failures_before_pause: int = 3
    plugin_pause_seconds: float = 60.0
    plugin_max_running: int = 4
    max_messages_per_second: float = 30.0
    max_messages_per_group_minute: int = 20
    max_messages_per_chat_second: float = 1.0
    retries: int = 3
    profiles_db: Path = _state_file("profiles.sqlite3")  # personal profiles (/rate, /forme)
    max_import_mb: float = 10.0
    import_workers: int = 1  # threads reading CSV imports (one import per person at a time)
    owner: int = 0  # the Telegram user id that may see /stats (0: nobody)
    health: str = ""  # "127.0.0.1:PORT": serve /healthz and /metrics there ("": off)
    health_public: bool = False  # allow a non-loopback health address
    health_stuck_seconds: float = 60.0  # no update started this long while some wait: stuck

    @classmethod
    def from_table(
        cls, table: Mapping[str, Any], where: Where, origin: Path | None, state: Path
    ) -> Self:
        mode = str(table["mode"])
        if mode not in set(BotMode):
            known = ", ".join(BotMode)
            raise ConfigError(f"{where('mode')}: {mode!r} is not one of {known}")
        try:
            admins = tuple(int(a) for a in table["admins"])
        except (TypeError, ValueError):
            raise ConfigError(f"{where('admins')}: expected a list of Telegram user ids") from None
        if table["import_workers"] < 1:
            raise ConfigError(f"{where('import_workers')}: must be >= 1")
        try:  # REELPICK_OWNER gives it as text
            owner = int(table["owner"])
        except (TypeError, ValueError):
            raise ConfigError(f"{where('owner')}: expected a Telegram user id") from None
        if table["health"]:
            check_health_address(str(table["health"]), bool(table["health_public"]), where)
        if table["health_stuck_seconds"] <= 0:
            raise ConfigError(f"{where('health_stuck_seconds')}: must be > 0")
        values = {**table, "mode": BotMode(mode), "admins": admins, "owner": owner}
        values["profiles_db"] = _path_in(table, cls, "profiles_db", origin, state)
        return _plain(cls, values)


def health_address(value: str) -> tuple[str, int]:
    """``"HOST:PORT"`` or ``"PORT"`` (on 127.0.0.1) -> (host, port); ValueError when neither."""
    host, _, port = value.strip().rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    number = int(port)
    if not 0 <= number <= 65535:
        raise ValueError(f"port {number} out of range")
    return host, number


def check_health_address(value: str, public: bool, where: Where) -> None:
    """``bot.health``: a valid address, on loopback unless ``health_public`` says otherwise
    (the metrics describe the bot's users' activity: not for the whole network by accident)."""
    try:
        host, _ = health_address(value)
    except ValueError:
        raise ConfigError(f'{where("health")}: expected "127.0.0.1:PORT", got {value!r}') from None
    if not public and not _loopback(host):
        raise ConfigError(
            f"{where('health')}: {host} is not a loopback address; set health_public = true "
            "to serve health and metrics beyond this machine"
        )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class InlineSettings:
    """``[inline]``: inline mode (``@bot title`` in any chat)."""

    page_size: int = 10  # results per inline answer page (Telegram allows 50)
    max_results: int = 50  # candidates of a title, or popular movies, over all pages
    cache_time: int = 300  # seconds Telegram may reuse an answer to the same query
    cache_time_personal: int = 30  # ... when the answer is personal (the user has a profile)
    cache_time_degraded: int = 5  # ... when a plugin was refused or timed out (never shared)
    queries_per_minute: int = 30  # inline queries one person may make per minute (0: off)
    cards: int = 512  # movies whose card (top picks per plugin) is kept in memory


@dataclass(frozen=True)
class PhotoSettings:
    """``[photo]``: a photo of a poster as the query."""

    max_bytes: int = 10_000_000  # larger photos are refused before they are downloaded
    max_pixels: int = 40_000_000  # ... and pictures of more pixels after
    idle_seconds: float = 600.0  # the image worker stops after this long without a photo
    timeout: float = 30.0  # seconds a running worker may take for one photo
    waiting: int = 8  # photos waiting for the one worker, whole bot; more get "busy"
    start_timeout: float = 180.0  # ... a fresh one (it loads the data and the model first)
    # Calibrated by bench/bench_photo.py (top-1 cosine and its margin over the second).
    confident_score: float = 0.57
    confident_margin: float = 0.28
    candidate_score: float = 0.44  # below: "I don't know this movie"


@dataclass(frozen=True)
class MovieNightSettings:
    """``[movienight]``: polls of movies fused from the seed titles' neighbours."""

    max_options: int = 10  # poll options (Telegram allows at most 12)
    voting_minutes: float = 10.0
    per_seed: int = 10  # neighbours asked from each plugin per seed title
    rrf_k: float = 60  # reciprocal rank fusion constant
    max_seeds: int = 20
    weights: dict[str, float] = field(default_factory=dict)  # unlisted plugins weigh 1.0
    db: Path = _state_file("movienight.sqlite3")  # movie nights and watch history
    ask_after_hours: float = 20.0  # then each voter is asked privately "How was <title>?"

    @classmethod
    def from_table(
        cls, table: Mapping[str, Any], where: Where, origin: Path | None, state: Path
    ) -> Self:
        if not 2 <= table["max_options"] <= TELEGRAM_MAX_OPTIONS:
            raise ConfigError(
                f"{where('max_options')}: must be 2-{TELEGRAM_MAX_OPTIONS} (Telegram's poll limit)"
            )
        for key, low in (("voting_minutes", 0), ("ask_after_hours", 0)):
            if table[key] <= low:
                raise ConfigError(f"{where(key)}: must be > 0")
        for key, low in (("per_seed", 1), ("rrf_k", 0), ("max_seeds", 1)):
            if table[key] < low:
                raise ConfigError(f"{where(key)}: must be >= {low}")
        try:
            weights = check_weights(table["weights"], where("weights").rsplit(" ", 1)[0])
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        return cls(
            max_options=int(table["max_options"]),
            voting_minutes=float(table["voting_minutes"]),
            per_seed=int(table["per_seed"]),
            rrf_k=float(table["rrf_k"]),
            max_seeds=int(table["max_seeds"]),
            weights=weights,
            db=_path_in(table, cls, "db", origin, state),
            ask_after_hours=float(table["ask_after_hours"]),
        )


@dataclass(frozen=True)
class Settings:
    """Every section of ``config.toml``, checked: what the app, the CLI and the bot read."""

    data: DataSettings = field(default_factory=DataSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    state: StateSettings = field(default_factory=StateSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    plugins: PluginSettings = field(default_factory=PluginSettings)
    posters: PosterSettings = field(default_factory=PosterSettings)
    tmdb: TMDBSettings = field(default_factory=TMDBSettings)
    catalogue: CatalogueSettings = field(default_factory=CatalogueSettings)
    bot: BotSettings = field(default_factory=BotSettings)
    inline: InlineSettings = field(default_factory=InlineSettings)
    photo: PhotoSettings = field(default_factory=PhotoSettings)
    movienight: MovieNightSettings = field(default_factory=MovieNightSettings)
    picks: PickSettings = field(default_factory=PickSettings)
    groups: GroupSettings = field(default_factory=GroupSettings)

    @classmethod
    def from_config(cls, config: Config) -> Settings:
        """Every section of ``config.values`` checked (missing keys take their defaults)."""
        origin = config.path
        defaults = toml_defaults()

        def table(name: str) -> dict[str, Any]:
            return _overlay(defaults[name], config.values.get(name, {}))

        def where(section: str) -> Where:
            return lambda *keys: setting_name(origin, section, *keys)

        cache = expand(str(table("cache")["dir"]), origin)
        data = table("data")
        state = StateSettings.from_table(table("state"), where("state"), origin)
        return cls(
            data=DataSettings(str(data["source"]), expand(str(data["dir"]), origin)),
            cache=CacheSettings(cache),
            state=state,
            engine=EngineSettings.from_table(table("engine"), where("engine")),
            plugins=PluginSettings(tuple(table("plugins")["enabled"])),
            posters=_plain(PosterSettings, table("posters")),
            tmdb=_plain(TMDBSettings, table("tmdb")),
            catalogue=_plain(CatalogueSettings, table("catalogue")),
            bot=BotSettings.from_table(table("bot"), where("bot"), origin, state.dir),
            inline=_plain(InlineSettings, table("inline")),
            photo=_plain(PhotoSettings, table("photo")),
            movienight=MovieNightSettings.from_table(
                table("movienight"), where("movienight"), origin, state.dir
            ),
            picks=PickSettings.from_table(table("picks"), where("picks")),
            groups=GroupSettings.from_table(table("groups"), where("groups")),
        )


def _overlay(defaults: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    for key, value in values.items():
        base = merged.get(key)
        merged[key] = _overlay(base, value) if isinstance(base, dict) and base else value
    return merged


# -- the schema, derived from the classes ---------------------------------------------------


def _toml_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_toml_value(v) for v in value]
    if isinstance(value, dict):
        return dict(value)
    return value


def section_defaults(section: DataclassInstance) -> dict[str, Any]:
    """One section's defaults as config.toml writes them (a field may sit in a sub-table)."""
    found: dict[str, Any] = {}
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        target = found
        for sub in f.metadata.get("table", ()):
            target = target.setdefault(sub, {})
        target[f.name] = "" if f.metadata.get("in_state") else _toml_value(value)
    return found


def toml_defaults() -> dict[str, Any]:
    """Every key a config file may set, with its default, in config.toml's layout (the data,
    cache and state folders follow the XDG variables as they are now)."""
    defaults = Settings()
    return {
        f.name: section_defaults(getattr(defaults, f.name)) for f in dataclasses.fields(defaults)
    }


def free_form_tables() -> set[tuple[str, ...]]:
    """Tables whose keys are not known in advance: plugin parameters (checked by the
    registry), plugin weights and Spark's own settings (checked by their sections)."""
    found: set[tuple[str, ...]] = set()
    defaults = Settings()
    for f in dataclasses.fields(defaults):
        section = getattr(defaults, f.name)
        if getattr(section, "open_table", False):
            found.add((f.name,))
        for sub in dataclasses.fields(section):
            if isinstance(getattr(section, sub.name), dict):
                found.add((f.name, *sub.metadata.get("table", ()), sub.name))
    return found
