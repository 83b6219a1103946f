"""The Telegram bot (``reelpick bot``): see :mod:`reelpick.bot.app` for how it is built."""
