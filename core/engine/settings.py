"""The ``[engine]`` settings, read from a :class:`Config` and checked, each error in one line."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import Config
from ..errors import ConfigError

ENGINES = ("local", "spark")


@dataclass(frozen=True)
class EngineSettings:
    """Which engine runs heavy fits and, for Spark, where and how."""

    name: str = "local"
    master: str = "local[2]"
    ratings: str = ""
    broadcast_limit_mb: int = 1024
    conf: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config) -> EngineSettings:
        engine = config.values.get("engine", {})
        spark = engine.get("spark", {})
        name = str(engine.get("name", "local")).strip().lower()
        if name not in ENGINES:
            raise ConfigError(
                f"{config.where('engine', 'name')}: unknown engine {name!r} "
                f"(expected one of: {', '.join(ENGINES)}; REELPICK_ENGINE overrides it)"
            )
        master = str(spark.get("master", "local[2]")).strip()
        if not master:
            raise ConfigError(f"{config.where('engine', 'spark', 'master')}: empty master URL")
        limit = spark.get("broadcast_limit_mb", 1024)
        if limit < 0:
            raise ConfigError(
                f"{config.where('engine', 'spark', 'broadcast_limit_mb')}: must be >= 0, got {limit}"
            )
        conf: dict[str, str] = {}
        for key, value in spark.get("conf", {}).items():
            if isinstance(value, dict | list):
                raise ConfigError(
                    f"{config.where('engine', 'spark', 'conf', key)}: expected a string, number "
                    f"or true/false, got a {type(value).__name__}"
                )
            # Spark wants strings; TOML booleans become Spark's "true"/"false".
            conf[key] = str(value).lower() if isinstance(value, bool) else str(value)
        return cls(
            name=name,
            master=master,
            ratings=str(spark.get("ratings", "")).strip(),
            broadcast_limit_mb=int(limit),
            conf=conf,
        )
