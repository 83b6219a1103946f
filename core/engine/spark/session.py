"""One SparkSession per process, started with loopback networking where the master is local.

Every failure to start is turned into one :class:`EngineError` line: pyspark missing, Java
missing, a master URL that does not answer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import socket
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import DataError, EngineError
from ..settings import EngineSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# A local master gets this many attempts per task, as spark.task.maxFailures gives a cluster:
# in local mode Spark otherwise fails a job on the first crashed task.
LOCAL_TASK_ATTEMPTS = 4
MASTER_PROBE_SECONDS = 5.0
_LOCAL = re.compile(r"^local(?:\[(?P<threads>\*|\d+)(?:,\s*(?P<failures>\d+))?\])?$")


def local_master() -> str:
    return f"local[{os.cpu_count() or 1}]"


def is_local(master: str) -> bool:
    return master.startswith("local")


def _with_retries(master: str) -> str:
    match = _LOCAL.match(master)
    if not match or match.group("failures"):
        return master
    return f"local[{match.group('threads') or 1},{LOCAL_TASK_ATTEMPTS}]"


def java_available() -> bool:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return True
    return shutil.which("java") is not None


def _probe_master(master: str) -> None:
    """A standalone master (spark://h:p[,h2:p2]) must accept a connection, or we say so now
    (Spark itself would retry for a minute and then fail with a screenful of logs)."""
    if not master.startswith("spark://"):
        return
    errors = []
    for address in master.removeprefix("spark://").split(","):
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=MASTER_PROBE_SECONDS):
                return
        except (OSError, ValueError) as exc:
            errors.append(
                f"{address}: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)
            )
    raise EngineError(f"Spark master {master} does not answer ({'; '.join(errors)})")


_session: SparkSession | None = None


def spark_session(settings: EngineSettings) -> SparkSession:
    """The process's SparkSession (created on first use from ``settings``)."""
    global _session
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError('the Spark engine needs pyspark: pip install -e ".[spark]"') from None
    active = SparkSession.getActiveSession()
    if active is not None:
        _session = active
        return active
    if not java_available():
        raise EngineError("Java not found: Spark needs a Java 17+ runtime (set JAVA_HOME or PATH)")
    _probe_master(settings.master)
    master = _with_retries(settings.master)
    local = is_local(master)
    if local:
        # Loopback only: a laptop or CI box never opens ports to the network for local mode.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Python workers run this interpreter (the one with numba and reelpick installed).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName("reelpick")
    defaults = {
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    if local:
        defaults |= {
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.ui.enabled": "false",
        }
    for key, value in (defaults | settings.conf).items():
        builder = builder.config(key, value)
    log.info("starting Spark (master %s)", master)
    with spark_errors("starting Spark"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*pandas >= 3.*")
        _session = builder.getOrCreate()
    _session.sparkContext.setLogLevel("ERROR")
    return _session


def stop_session() -> None:
    global _session
    if _session is not None:
        _session.stop()
        _session = None


@contextlib.contextmanager
def spark_errors(doing: str) -> Iterator[None]:
    """Turn Spark's and Py4J's exceptions into one line: DataError for a missing path,
    EngineError for the rest (the JVM's stack trace goes to the debug log only)."""
    try:
        yield
    except (EngineError, DataError):
        raise
    except Exception as exc:
        kind = type(exc).__name__
        if kind not in (
            "Py4JJavaError",
            "Py4JNetworkError",
            "Py4JError",
            "AnalysisException",
            "PythonException",
            "PySparkRuntimeError",
            "PySparkException",
            "SparkConnectException",
            "IllegalArgumentException",
        ) and not type(exc).__module__.startswith(("pyspark", "py4j")):
            raise
        log.debug("%s failed", doing, exc_info=True)
        text = _first_line(exc)
        if "PATH_NOT_FOUND" in text or "does not exist" in text:
            raise DataError(text) from None
        raise EngineError(f"{doing} failed: {text}") from None


def _first_line(exc: BaseException) -> str:
    """The first meaningful line of a Spark error (they run to hundreds of lines)."""
    text = str(getattr(exc, "java_exception", None) or exc)
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("at ", "JVM stacktrace", "Traceback")):
            return line[:400]
    return kind if (kind := type(exc).__name__) else "unknown error"
