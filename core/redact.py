"""Keep secrets out of every log line and error message.

Every secret read through :func:`reelpick.config.secret` is registered here. From then on
each log record is scrubbed as it is created (message, arguments and traceback), whichever
library logs it: httpx and urllib3 log request URLs, and both the Bot API
(``/bot<token>/getMe``) and TMDB (``?api_key=...``) put credentials in URLs.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"
_QUERY_KEY = re.compile(r"(api_key=)[^&\s'\"]+", re.IGNORECASE)
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


def redact(text: object) -> str:
    """``text`` with every protected secret, and any ``api_key=...`` value, masked."""
    out = str(text)
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for value in known:
        out = out.replace(value, MASK)
    return _QUERY_KEY.sub(rf"\1{MASK}", out)


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
