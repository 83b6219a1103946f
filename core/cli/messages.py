"""Numbers and plurals in the command line's messages, from Babel's CLDR data: "1 rating",
"2 ratings", "9,742 movies". The messages are English; the rules are Babel's, not hand-made."""

from __future__ import annotations

from functools import lru_cache

from babel import Locale
from babel.numbers import format_decimal

LANGUAGE = "en"


@lru_cache(maxsize=4)
def _locale(language: str) -> Locale:
    return Locale.parse(language)


def number(value: int | float) -> str:
    """``9742`` -> ``"9,742"``."""
    return str(format_decimal(value, locale=_locale(LANGUAGE)))


def plural(count: int, singular: str, many: str | None = None) -> str:
    """``plural(1, "rating")`` -> ``"1 rating"``; ``plural(2, "rating")`` -> ``"2 ratings"``.

    ``many`` is the plural noun where adding "s" is wrong ("movies", "queries").
    """
    form = _locale(LANGUAGE).plural_form(count)
    noun = singular if form == "one" else (many or f"{singular}s")
    return f"{number(count)} {noun}"
