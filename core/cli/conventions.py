"""What every ``reelpick`` command shares: exit codes, one-line usage errors, checked
numbers, and progress bars that stay out of pipes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn

from tqdm import tqdm

from ..app import Reelpick

EXIT_OK = 0
EXIT_ERROR = 1  # bad data or config, a failed download or fit: the message says which
EXIT_USAGE = 2  # a bad command line: unknown option, missing action, number out of range
EXIT_NO_MATCH = 3  # the title matches no movie, or several equally well

EXIT_CODES_EPILOG = f"""\
exit codes:
  {EXIT_OK}  ok
  {EXIT_ERROR}  error (bad data or config, a failed download or fit)
  {EXIT_USAGE}  usage (bad arguments, -k out of range, a command without its action)
  {EXIT_NO_MATCH}  the title matches no movie, or is ambiguous (candidates are listed)
"""

# The most similar movies a command can ask one plugin for (plugin tables are narrower
# anyway; the limit keeps an absurd -k from allocating anything).
MAX_SIMILAR_K = 1000


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error on stderr (``reelpick similar: -k must be ...``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def bounded_int(low: int, high: int, name: str = "-k") -> Callable[[str], int]:
    """An argparse ``type`` accepting integers in ``low..high`` (a clear message otherwise)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be a whole number, got {text[:40]!r}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{name} must be between {low} and {high}, got {text[:40]}"
            )
        return value

    parse.__name__ = "integer"  # argparse names the type in some messages
    return parse


def fit_with_progress(
    app: Reelpick, names: list[str] | None = None, quiet: bool = False
) -> dict[str, str | None]:
    """Fit (or load) each enabled plugin under its own progress bar on stderr.

    The bars are off with ``quiet`` and when stderr is not a terminal (tqdm's ``None``).
    Returns name -> None on success or the error text, like ``Registry.fit``.
    """
    results: dict[str, str | None] = {}
    for name in app.registry.enabled(names):
        with tqdm(
            total=1,
            desc=f"fitting {name}",
            unit="plugin",
            file=sys.stderr,
            disable=True if quiet else None,
            bar_format="{desc}: {bar} {elapsed}",
        ) as bar:
            results.update(app.registry.fit(app.dataset, [name]))
            bar.update(1)
        if (results[name] or "").startswith("EngineError: "):
            break  # the engine is unusable for every plugin: no point asking the next one
    return results
