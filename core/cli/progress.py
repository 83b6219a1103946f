"""Progress of the long stages (plugin fits, poster features, evaluation scoring) on stderr.

On a terminal a stage is one live line with its counts and the time left; anywhere else
(a pipe, a log file, a service) it is one line when the stage ends, never a bar stuck at 0/1.
``-q`` shows nothing.

Code that is not the command line (a plugin's fit, the evaluation) reports a stage through
the standard ``logging`` module, so that it needs nothing of the CLI::

    logging.getLogger("reelpick.progress").info(
        "poster features", extra={"done": 120, "total": 500}
    )

The message names the stage; ``done == total`` ends it.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, TextIO

from tqdm import tqdm

PROGRESS_LOGGER = "reelpick.progress"


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(int(value + 0.5), 60)
    return f"{minutes} min {seconds:02d} s"


class Stage:
    """One long stage: ``total`` steps, counted with :meth:`advance`, ended by :meth:`close`."""

    def __init__(
        self,
        name: str,
        total: int,
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
        unit: str = "",
    ) -> None:
        self.name = name
        self.total = max(0, int(total))
        self.done = 0
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self.unit = unit
        self.started = time.perf_counter()
        self.closed = False
        self.live = not quiet and _is_terminal(self.stream)
        self.bar: tqdm[Any] | None = None
        if self.live:
            self.bar = tqdm(
                total=self.total,
                desc=name,
                unit=unit or "it",
                file=self.stream,
                bar_format="{desc}: {n_fmt}/{total_fmt} {bar:20} {elapsed}<{remaining}{postfix}",
                leave=True,
            )

    def advance(self, steps: int = 1, note: str = "") -> None:
        self.done = min(self.total, self.done + steps) if self.total else self.done + steps
        if self.bar is not None:
            if note:
                self.bar.set_postfix_str(note, refresh=False)
            if steps:
                self.bar.update(steps)
            else:
                self.bar.refresh()  # a new note: "fit: 1/5 ... sgd-mf"

    def set(self, done: int) -> None:
        self.advance(max(0, done - self.done))

    def close(self, summary: str = "") -> None:
        """End the stage: the live line stays; elsewhere the one line is printed now."""
        if self.closed:
            return
        self.closed = True
        elapsed = time.perf_counter() - self.started
        if self.bar is not None:
            if summary:
                self.bar.set_postfix_str(summary, refresh=False)
            self.bar.close()
        elif not self.quiet:
            counts = f"{self.done:,}/{self.total:,}{' ' + self.unit if self.unit else ''}"
            tail = f": {summary}" if summary else ""
            print(
                f"{self.name}: {counts} in {_seconds(elapsed)}{tail}", file=self.stream, flush=True
            )


def line(text: str, *, quiet: bool = False) -> None:
    """One progress line on stderr (nothing with ``-q``)."""
    if not quiet:
        print(text, file=sys.stderr, flush=True)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class ProgressHandler(logging.Handler):
    """Shows the stages reported on the ``reelpick.progress`` logger (see the module doc)."""

    def __init__(self, quiet: bool = False) -> None:
        super().__init__(level=logging.INFO)
        self.quiet = quiet
        self.stages: dict[str, Stage] = {}

    def emit(self, record: logging.LogRecord) -> None:
        done = getattr(record, "done", None)
        total = getattr(record, "total", None)
        if not isinstance(done, int) or not isinstance(total, int):
            return
        name = record.getMessage()
        stage = self.stages.get(name)
        if stage is None or stage.closed:
            stage = self.stages[name] = Stage(name, total, quiet=self.quiet)
        stage.set(done)
        if done >= total:
            stage.close()
            del self.stages[name]


def install(quiet: bool) -> ProgressHandler:
    """Route ``reelpick.progress`` records to stage lines on stderr (the CLI calls it once)."""
    logger = logging.getLogger(PROGRESS_LOGGER)
    for old in [h for h in logger.handlers if isinstance(h, ProgressHandler)]:
        logger.removeHandler(old)
    handler = ProgressHandler(quiet)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # progress is not a log message
    return handler
