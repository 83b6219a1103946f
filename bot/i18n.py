"""The bot speaks the language of each person's Telegram client.

Every text the bot sends is an English message id passed through a translator::

    _ = translator_for(update)                     # from update.effective_user.language_code
    await message.reply_text(_("No movie matches {query}.", query=shown))
    BUSY = N_("Busy right now, try again in a minute.")   # module constant, translated on use

Catalogues are JSON files ``bot/locales/<language>/<part>.json`` mapping the English message id
to its translation (several files per language so that each bot feature keeps its own);
English needs none. Placeholders use ``str.format`` names (``{title}``) and must match between
the id and the translation. ``tests/bot/test_i18n.py`` extracts every id from the code and fails on
a missing, extra or mismatched translation, so no text is left untranslated.

Why not gettext: .mo files need a compile step and a tool we would have to ship; JSON keeps the
catalogues readable, diffable and checked by one test.
"""

from __future__ import annotations

import json
import logging
import string
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOCALES = Path(__file__).resolve().parent / "locales"
DEFAULT_LANGUAGE = "en"
# Languages with complete catalogues; a client in any other language gets English.
LANGUAGES = ("en", "de")
# (thousands, decimal) separators of numbers shown to people; English's unless listed.
SEPARATORS = {"en": (",", "."), "de": (".", ",")}


def N_(message_id: str) -> str:
    """Mark a module-level text for translation without translating it yet (gettext's N_)."""
    return message_id


def language_of(language_code: str | None) -> str:
    """The supported language for a Telegram ``language_code`` ("de", "de-AT", None...)."""
    base = (language_code or "").split("-")[0].split("_")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


@cache
def catalogue(language: str) -> Mapping[str, str]:
    """All translations of ``language`` (empty for English); a broken file is logged, skipped."""
    merged: dict[str, str] = {}
    if language == DEFAULT_LANGUAGE:
        return merged
    for path in sorted((LOCALES / language).glob("*.json")):
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.error("translation file %s is unreadable (%s); using English for it", path, exc)
            continue
        merged.update({str(k): str(v) for k, v in entries.items()})
    return merged


def placeholders(text: str) -> set[str]:
    """The ``{name}`` placeholders of a message (``{{`` escapes excluded)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class Translator:
    """Translates English message ids into one language."""

    def __init__(self, language: str) -> None:
        self.language = language_of(language)
        self._entries = catalogue(self.language)

    def __call__(self, message_id: str, /, **values: Any) -> str:
        text = self._entries.get(message_id, message_id)
        if not values:
            return text
        try:
            return text.format(**values)
        except (KeyError, IndexError, ValueError):
            # A broken translation must never cost the person their answer: fall back.
            log.error("translation of %r into %s does not format", message_id, self.language)
            return message_id.format(**values)

    def number(self, value: float, digits: int | None = None) -> str:
        """``value`` as this language writes it: 9,742 and 2.5 in English, 9.742 and 2,5 in
        German; ``digits`` decimals, or (None) as many as it has, up to 6. Pass the result as
        a placeholder value."""
        exact = digits is None  # as many decimals as the value has: 0.01, 10
        text = f"{value:,.{6 if exact else digits}f}"
        text = text.rstrip("0").rstrip(".") if exact and "." in text else text
        thousands, decimal = SEPARATORS.get(self.language, SEPARATORS[DEFAULT_LANGUAGE])
        separators: dict[str, str | int | None] = {",": thousands, ".": decimal}
        return text.translate(str.maketrans(separators))


@cache
def translator(language: str | None) -> Translator:
    return Translator(language_of(language))


# The language a chat chose in /settings (chat id -> "de", or None: each person's own);
# set by the settings feature while a bot runs.
_chat_language: Callable[[int], str | None] | None = None


def use_chat_languages(lookup: Callable[[int], str | None] | None) -> None:
    """Make :func:`translator_for` honour each chat's chosen language (None: stop)."""
    global _chat_language
    _chat_language = lookup


def translator_for(update: object) -> Translator:
    """The translator for whoever sent ``update`` (an Update, a User, or None): the chat's
    language when one was chosen in /settings (a User: their private chat's), else the
    person's Telegram language."""
    user = getattr(update, "effective_user", update)
    if _chat_language is not None:
        chat = getattr(update, "effective_chat", None)
        chat_id = getattr(chat, "id", None) if chat is not None else getattr(user, "id", None)
        chosen = _chat_language(chat_id) if isinstance(chat_id, int) else None
        if chosen:
            return translator(chosen)
    return translator(getattr(user, "language_code", None))
