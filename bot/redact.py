"""Keep the bot token out of every log line and error message.

httpx logs each request URL at INFO level, and the Bot API puts the token in the URL
(``/bot<token>/getUpdates``); python-telegram-bot quotes it in ``InvalidToken``. We silence
httpx's request lines and, as a safety net for everything else, redact known secrets from
every log record as it is created (message, arguments and traceback).
"""

from __future__ import annotations

import logging
import threading

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def protect(secret: str | None) -> None:
    """Redact ``secret`` from all logging from now on (idempotent, process-wide)."""
    global _installed
    if not secret:
        return
    with _lock:
        _secrets.add(secret)
        if _installed:
            return
        _installed = True
        previous = logging.getLogRecordFactory()

        def factory(*args: object, **kwargs: object) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _scrub(record)
            return record

        logging.setLogRecordFactory(factory)
    # One line per HTTP request (with the token in the URL) is noise even when redacted.
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)


def redact(text: object) -> str:
    """``text`` with every protected secret replaced by ``<token>``."""
    out = str(text)
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for value in known:
        out = out.replace(value, "<token>")
    return out


def _scrub(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed record is logging's problem, not ours
        return
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, ()
    if record.exc_info and record.exc_info[1] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        cleaned = redact(text)
        if cleaned != text:
            record.exc_text = cleaned
