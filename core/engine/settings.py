"""The ``[engine]`` settings (with ``[engine.spark]``): which engine runs heavy fits and how."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Self

from ..errors import ConfigError

SPARK_TABLE = {"table": ("spark",)}  # field metadata: the key lives in [engine.spark]


class EngineName(StrEnum):
    """Where heavy fits run: numba on this machine, or Apache Spark (the optional extra)."""

    LOCAL = "local"
    SPARK = "spark"


ENGINES = tuple(EngineName)


@dataclass(frozen=True)
class EngineSettings:
    """Which engine runs heavy fits and, for Spark, where and how."""

    name: EngineName = EngineName.LOCAL
    # A cluster URL (spark://host:7077, yarn, k8s://...).
    master: str = field(default="local[2]", metadata=SPARK_TABLE)
    # Optional Parquet/CSV ratings read by Spark for the fit, replacing data.source's.
    ratings: str = field(default="", metadata=SPARK_TABLE)
    # Cosine-CF ships the rating matrix to executors up to this size.
    broadcast_limit_mb: int = field(default=1024, metadata=SPARK_TABLE)
    # Free-form SparkSession settings, as strings.
    conf: dict[str, str] = field(default_factory=dict, metadata=SPARK_TABLE)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: Callable[..., str]) -> Self:
        """The ``[engine]`` table (``spark`` a sub-table) checked, each error in one line."""
        spark = table["spark"]
        name = str(table["name"]).strip().lower()
        if name not in ENGINES:
            raise ConfigError(
                f"{where('name')}: unknown engine {name!r} "
                f"(expected one of: {', '.join(ENGINES)}; REELPICK_ENGINE overrides it)"
            )
        master = str(spark["master"]).strip()
        if not master:
            raise ConfigError(f"{where('spark', 'master')}: empty master URL")
        limit = spark["broadcast_limit_mb"]
        if limit < 0:
            raise ConfigError(f"{where('spark', 'broadcast_limit_mb')}: must be >= 0, got {limit}")
        conf: dict[str, str] = {}
        for key, value in spark["conf"].items():
            if isinstance(value, dict | list):
                raise ConfigError(
                    f"{where('spark', 'conf', key)}: expected a string, number "
                    f"or true/false, got a {type(value).__name__}"
                )
            # Spark wants strings; TOML booleans become Spark's "true"/"false".
            conf[key] = str(value).lower() if isinstance(value, bool) else str(value)
        return cls(
            name=EngineName(name),
            master=master,
            ratings=str(spark["ratings"]).strip(),
            broadcast_limit_mb=int(limit),
            conf=conf,
        )
