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

Texts with a count take both English forms and the count; the form is chosen by the plural
rules of CLDR (through Babel) for the reader's language, and ``{count}`` is the count written
as that language writes numbers::

    _.ngettext("{count} vote", "{count} votes", n)        # "1 vote", "1,200 votes", "1.200 Stimmen"

Their catalogue entry is keyed by the singular id and holds one text per CLDR plural
category of the language (``{"one": "{count} Stimme", "other": "{count} Stimmen"}``).
Numbers shown to people go through :meth:`Translator.number` (Babel's number formats).

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

from babel import Locale
from babel.numbers import format_decimal

log = logging.getLogger(__name__)

LOCALES = Path(__file__).resolve().parent / "locales"
DEFAULT_LANGUAGE = "en"
# Languages with complete catalogues; a client in any other language gets English.
LANGUAGES = ("en", "de")
# The count placeholder of texts with plural forms (Translator.ngettext).
COUNT = "count"


def N_(message_id: str) -> str:
    """Mark a module-level text for translation without translating it yet (gettext's N_)."""
    return message_id


def language_of(language_code: str | None) -> str:
    """The supported language for a Telegram ``language_code`` ("de", "de-AT", None...)."""
    base = (language_code or "").split("-")[0].split("_")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


@cache
def plural_categories(language: str) -> frozenset[str]:
    """The CLDR plural categories of a language ("one", "other" for English and German)."""
    return Locale.parse(language).plural_form.tags | {"other"}


@cache
def catalogue(language: str) -> Mapping[str, str | Mapping[str, str]]:
    """All translations of ``language`` (empty for English): a text, or for plural texts a
    mapping of CLDR category -> text. A broken file is logged, skipped."""
    merged: dict[str, str | Mapping[str, str]] = {}
    if language == DEFAULT_LANGUAGE:
        return merged
    for path in sorted((LOCALES / language).glob("*.json")):
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.error("translation file %s is unreadable (%s); using English for it", path, exc)
            continue
        for key, value in entries.items():
            if isinstance(value, dict):
                merged[str(key)] = {str(k): str(v) for k, v in value.items()}
            else:
                merged[str(key)] = str(value)
    return merged


def placeholders(text: str) -> set[str]:
    """The ``{name}`` placeholders of a message (``{{`` escapes excluded)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class Translator:
    """Translates English message ids into one language."""

    def __init__(self, language: str) -> None:
        self.language = language_of(language)
        self._entries = catalogue(self.language)
        self._plural = Locale.parse(self.language).plural_form

    def __call__(self, message_id: str, /, **values: Any) -> str:
        entry = self._entries.get(message_id, message_id)
        text = entry if isinstance(entry, str) else message_id  # a plural entry: use ngettext
        return self._format(text, message_id, values)

    def ngettext(self, singular: str, plural: str, count: float, /, **values: Any) -> str:
        """The form of ``singular``/``plural`` (English ids) for ``count`` in this language,
        by its CLDR plural rule; ``{count}`` is ``count`` as :meth:`number` writes it."""
        values.setdefault(COUNT, self.number(count))
        category = self._plural(abs(count))
        entry = self._entries.get(singular)
        if isinstance(entry, Mapping) and (category in entry or "other" in entry):
            text = entry.get(category) or entry["other"]
            return self._format(text, plural, values)
        english = singular if PLURAL_EN(abs(count)) == "one" else plural
        return self._format(english, english, values)

    def _format(self, text: str, fallback: str, values: Mapping[str, Any]) -> str:
        if not values:
            return text
        try:
            return text.format(**values)
        except (KeyError, IndexError, ValueError):
            # A broken translation must never cost the person their answer: fall back.
            log.error("translation of %r into %s does not format", fallback, self.language)
            return fallback.format(**values)

    def number(self, value: float, digits: int | None = None) -> str:
        """``value`` as this language writes it (Babel's number format of the locale):
        9,742 and 2.5 in English, 9.742 and 2,5 in German; ``digits`` decimals, or (None) as
        many as it has, up to 6. Pass the result as a placeholder value."""
        decimals = "#" * 6 if digits is None else "0" * digits
        pattern = f"#,##0.{decimals}" if decimals else "#,##0"
        return format_decimal(value, format=pattern, locale=self.language)


PLURAL_EN = Locale.parse(DEFAULT_LANGUAGE).plural_form


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
