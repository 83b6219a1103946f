"""The ``[movienight]`` config section, checked once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reelpick.config import Config, expand
from reelpick.errors import ConfigError
from reelpick.fusion import check_weights

TELEGRAM_MAX_OPTIONS = 12  # sendPoll accepts 2-12 options


@dataclass(frozen=True)
class Settings:
    """The ``[movienight]`` section, checked."""

    max_options: int
    voting_minutes: float
    per_seed: int
    rrf_k: float
    max_seeds: int
    weights: dict[str, float]
    db: Path
    ask_after_hours: float = 20.0

    @classmethod
    def from_config(cls, config: Config) -> Settings:
        section = config.section("movienight")

        def where(key: str) -> str:
            return config.where("movienight", key)

        if not 2 <= section["max_options"] <= TELEGRAM_MAX_OPTIONS:
            raise ConfigError(
                f"{where('max_options')}: must be 2-{TELEGRAM_MAX_OPTIONS} (Telegram's poll limit)"
            )
        if section["voting_minutes"] <= 0:
            raise ConfigError(f"{where('voting_minutes')}: must be > 0")
        if section["per_seed"] < 1:
            raise ConfigError(f"{where('per_seed')}: must be >= 1")
        if section["rrf_k"] < 0:
            raise ConfigError(f"{where('rrf_k')}: must be >= 0")
        if section["ask_after_hours"] <= 0:
            raise ConfigError(f"{where('ask_after_hours')}: must be > 0")
        if section["max_seeds"] < 1:
            raise ConfigError(f"{where('max_seeds')}: must be >= 1")
        try:
            weights = check_weights(section["weights"], where("weights").rsplit(" ", 1)[0])
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        db = section["db"]
        path = expand(db, config.path) if db else config.cache_dir / "movienight.sqlite3"
        return cls(
            max_options=section["max_options"],
            voting_minutes=float(section["voting_minutes"]),
            per_seed=section["per_seed"],
            rrf_k=float(section["rrf_k"]),
            max_seeds=section["max_seeds"],
            weights=weights,
            db=path,
            ask_after_hours=float(section["ask_after_hours"]),
        )
