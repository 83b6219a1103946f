"""What every ``reelpick`` command shares: exit codes, one-line usage errors, checked
numbers, global options accepted before or after the command, and a quiet closed pipe."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from typing import NoReturn

EXIT_OK = 0
EXIT_ERROR = 1  # bad data or config, a failed download or fit: the message says which
EXIT_USAGE = 2  # a bad command line: unknown option, missing action, number out of range
EXIT_NO_MATCH = 3  # the title matches no movie, or several equally well

EXIT_CODES_EPILOG = f"""\
exit codes:
  {EXIT_OK}  ok
  {EXIT_ERROR}  error (bad data or config, a failed download or fit)
  {EXIT_USAGE}  usage (bad arguments: -k out of range, an unknown plugin name, an empty title;
     a command without its action)
  {EXIT_NO_MATCH}  the title matches no movie, or is ambiguous (candidates are listed)
"""

# The most similar movies a command can ask one plugin for (plugin tables are narrower
# anyway; the limit keeps an absurd -k from allocating anything).
MAX_SIMILAR_K = 1000
MAX_RECOMMEND_K = 100  # movies per plugin `recommend` shows


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


GLOBAL_HELP = {
    "config": "config file (default: $REELPICK_CONFIG, ./config.toml, "
    "then ~/.config/reelpick/config.toml)",
    "verbose": "log more, with tracebacks (-vv: debug)",
    "quiet": "errors only: no warnings, no progress",
    "json": "machine-readable output (the commands that have it)",
}


def add_global_options(parser: argparse.ArgumentParser, after: bool = False) -> None:
    """``--config``, ``-v``, ``-q`` and ``--json``, before the command (``after=False``) or
    after it: the command's own copies set ``*_after`` and only when given (SUPPRESS), so
    that neither place overrides the other (:func:`merge_global_options`)."""
    suffix, default = ("_after", argparse.SUPPRESS) if after else ("", None)
    parser.add_argument(
        "--config", metavar="PATH", dest="config" + suffix, default=default,
        help=GLOBAL_HELP["config"],
    )  # fmt: skip
    parser.add_argument(
        "-v", "--verbose", action="count", dest="verbose" + suffix,
        default=default if after else 0, help=GLOBAL_HELP["verbose"],
    )  # fmt: skip
    parser.add_argument(
        "-q", "--quiet", action="store_true", dest="quiet" + suffix,
        default=default if after else False, help=GLOBAL_HELP["quiet"],
    )  # fmt: skip
    if not after:  # each command that speaks JSON has its own --json
        parser.add_argument(
            "--json", action="store_true", dest="json_before", help=GLOBAL_HELP["json"]
        )


def global_options_parser() -> ArgumentParser:
    """The parent of every command's parser: the global options, accepted after the command."""
    parent = ArgumentParser(add_help=False)
    add_global_options(parent, after=True)
    return parent


def merge_global_options(args: argparse.Namespace) -> argparse.Namespace:
    """One value per global option, wherever it was given (after the command wins for
    ``--config``; ``-v`` counts add up). ``--json`` before a command without JSON output is a
    usage error."""
    after = vars(args)
    args.config = after.pop("config_after", None) or args.config
    args.verbose = (args.verbose or 0) + after.pop("verbose_after", 0)
    args.quiet = bool(args.quiet or after.pop("quiet_after", False))
    if after.pop("json_before", False):
        if getattr(args, "run", None) is not None and not hasattr(args, "json"):
            command = getattr(getattr(args, "parser", None), "prog", "this command")
            print(f"{command}: --json: no machine-readable output here", file=sys.stderr)
            raise SystemExit(EXIT_USAGE)
        args.json = True
    return args


def quiet_broken_pipe() -> int:
    """The reader of our output went away (``| head``): stop quietly, as other tools do.

    stdout is pointed at /dev/null so that the interpreter's last flush does not fail again.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):
        os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_OK
