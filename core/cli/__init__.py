"""The ``reelpick`` command line: every command body lives in this package (parsing and
printing happen here and nowhere else in core)."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
