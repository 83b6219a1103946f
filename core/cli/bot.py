"""``reelpick bot``: the one place where core starts the Telegram bot.

The bot depends on core, never the other way round; this command imports it only when run,
so the rest of the command line works without the bot's dependencies loaded.
"""

from __future__ import annotations

import argparse

from ..config import Config


def cmd_bot(config: Config, args: argparse.Namespace) -> int:
    from reelpick.bot.main import run_cli

    code: int = run_cli(config, args)
    return code
