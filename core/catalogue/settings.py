"""``[tmdb]`` and ``[catalogue]``: how long TMDB answers are kept, and where the catalogue lives.

The defaults are written here once; config.toml documents the same values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REGION = re.compile(r"[A-Z]{2}")  # the shape of an ISO 3166-1 alpha-2 code
# A plausible BCP 47 / ISO 639 language tag for TMDB: "fr", "de-DE", "zh-Hant-TW".
LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}")
# CLDR's two-letter territories that are not ISO 3166-1 countries (groupings, unknown, test).
_NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})


@cache
def _countries() -> frozenset[str]:
    from babel import Locale

    names = Locale("en").territories
    return (
        frozenset(k for k in names if isinstance(k, str) and REGION.fullmatch(k)) - _NOT_COUNTRIES
    )


def is_region(code: str) -> bool:
    """Whether ``code`` is an ISO 3166-1 alpha-2 country code (upper case), from Babel's CLDR
    territories: where-to-watch answers are per country."""
    return bool(REGION.fullmatch(code)) and code in _countries()


def is_language(tag: str) -> bool:
    """Whether ``tag`` looks like a language tag TMDB takes (``fr``, ``de-DE``)."""
    return len(tag) <= 20 and bool(LANGUAGE.fullmatch(tag))


@dataclass(frozen=True)
class TMDBSettings:
    """``[tmdb]``: language and region of answers, and how long each kind of answer is cached.

    The connection limits (URL, timeout, retries, rate) are the poster client's, in ``[posters]``.
    """

    language: str = ""  # "" = TMDB's default (en-US); e.g. "de-DE" or "fr"
    region: str = "US"  # where-to-watch region when the caller does not say
    search_ttl_hours: float = 24.0
    providers_ttl_hours: float = 24.0  # streaming offers change daily
    metadata_ttl_days: float = 30.0  # details, credits, keywords, titles change rarely
    lists_ttl_hours: float = 6.0  # discover / now playing / upcoming / changes pages
    recommendations_ttl_days: float = 7.0  # TMDB's "also liked" lists change slowly
    cast: int = 5  # top-billed cast kept per movie


@dataclass(frozen=True)
class CatalogueSettings:
    """``[catalogue]``: the catalogue of movies beyond the rating data, and when to ask TMDB."""

    db: str = ""  # "" = <data.dir>/catalogue.sqlite3 (data, not cache, not people's state)
    # A local title match scoring at least this (0-100, exact names score 96-100) is
    # answered without asking TMDB.
    sure_score: float = 96.0
    # TMDB's best candidate is preferred when it matches the query this much better than the
    # best local match.
    online_margin: float = 3.0
    candidates: int = 5  # online candidates offered
    sync_days: int = 30  # `catalogue sync` without --since: releases from this many days back
    sync_max_pages: int = 500  # pages read per list (TMDB stops at 500)

    def path(self, data_dir: Path) -> Path:
        return Path(self.db).expanduser() if self.db else data_dir / "catalogue.sqlite3"
