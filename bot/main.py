"""``reelpick bot``: load data and plugins, then run the bot (long polling or a webhook)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import urllib.parse

from telegram import Bot, Update
from telegram.error import InvalidToken, TelegramError
from threadpoolctl import threadpool_limits

from reelpick.app import Reelpick
from reelpick.config import Config
from reelpick.errors import ConfigError
from reelpick.redact import protect, redact
from reelpick.settings import BotMode, BotSettings

from .app import bot_token, build_application
from .health import HealthServer
from .metrics import BotMetrics

log = logging.getLogger(__name__)

# PTB's InvalidToken quotes the token; this wording does not.
REJECTED = "Telegram rejected the bot token (TELEGRAM_BOT_TOKEN)"


def run_cli(config: Config, args: argparse.Namespace) -> int:
    """Run until interrupted (Ctrl-C, SIGTERM). ``args.mode`` overrides ``bot.mode``."""
    section = config.settings.bot
    mode = getattr(args, "mode", None) or section.mode
    if mode not in set(BotMode):
        raise ConfigError(
            f"{config.where('bot', 'mode')}: expected 'polling' or 'webhook', got {mode!r}"
        )
    if mode == BotMode.WEBHOOK and not section.webhook_url:
        raise ConfigError(
            f"{config.where('bot', 'webhook_url')}: webhook mode needs the public HTTPS URL"
        )
    _check_token(bot_token(), section)
    # /healthz says "starting" from now until the bot takes updates.
    metrics = BotMetrics()
    health = HealthServer.for_settings(section, metrics)
    try:
        return _run(config, mode, metrics)
    finally:
        if health is not None:
            health.close()


def _run(config: Config, mode: str, metrics: BotMetrics) -> int:
    section = config.settings.bot
    # Plugins load (or fit, with a log line) before the first update is taken.
    log.info("loading data and plugins")
    app = Reelpick.open(config)
    # From here on the process answers many small queries from worker threads (fold-ins,
    # small solves). BLAS's own thread pool only contends with them: on 2 busy cores sgd-mf's
    # recommend measured p95 116-155 ms with it and 16 ms without (bench/bench_recommend.py).
    # The fits above ran with every thread; only serving is limited.
    threadpool_limits(limits=1, user_api="blas")
    application = build_application(config, app, metrics=metrics)
    try:
        if mode == BotMode.POLLING:
            log.info("long polling %s", _host(section.base_url))
            application.run_polling(allowed_updates=Update.ALL_TYPES, bootstrap_retries=5)
        else:
            url = section.webhook_url
            # Telegram echoes this in a header: requests without it are not from Telegram.
            # PTB logs webhook settings at debug level (-vv): mask it like the token.
            secret_token = secrets.token_urlsafe(32)
            protect(secret_token)
            log.info("webhook on %s:%s for %s", section.webhook_listen, section.webhook_port, url)
            application.run_webhook(
                listen=section.webhook_listen,
                port=section.webhook_port,
                url_path=urllib.parse.urlsplit(url).path.lstrip("/"),
                webhook_url=url,
                secret_token=secret_token,
                allowed_updates=Update.ALL_TYPES,
                bootstrap_retries=5,
            )
    except InvalidToken:
        raise ConfigError(REJECTED) from None
    return 0


def _check_token(token: str, section: BotSettings) -> None:
    """Fail fast on a token Telegram rejects, before minutes of loading and fitting."""

    async def probe() -> None:
        async with Bot(token, base_url=section.base_url, base_file_url=section.base_file_url):
            pass  # entering calls getMe

    try:
        asyncio.run(probe())
    except InvalidToken:
        raise ConfigError(REJECTED) from None
    except TelegramError as exc:  # Telegram unreachable for now: polling keeps retrying
        log.warning("could not reach the Bot API yet (%s); starting anyway", redact(exc))


def _host(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
