"""``reelpick info TITLE``: what a movie is and where to watch it, from the dataset, the
catalogue and TMDB; the candidates when the title is ambiguous or only TMDB knows it."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..app import Reelpick
from ..catalogue import WITHOUT_TMDB, MovieCard
from ..catalogue.service import Lookup
from ..catalogue.settings import is_language, is_region
from ..config import Config
from ..errors import UsageError
from .conventions import EXIT_NO_MATCH

TMDB_PREFIX = "tmdb:"
MAX_TMDB_ID = 2**31 - 1
NO_KEY_SEARCH = "With a TMDB key (TMDB_API_KEY) TMDB's titles would be searched too."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("title", help=f"a title, or {TMDB_PREFIX}ID for a TMDB movie")
    parser.add_argument(
        "--region",
        type=region,
        help="where-to-watch region, an ISO 3166-1 code such as DE (default: [tmdb] region)",
    )
    parser.add_argument(
        "--language", type=language, help="TMDB language of the card, e.g. fr or de-DE"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def region(text: str) -> str:
    """An argparse ``type``: a two-letter ISO 3166-1 country code, in either case."""
    code = text.strip().upper()
    if not is_region(code):
        raise argparse.ArgumentTypeError(
            f"--region takes a two-letter ISO 3166-1 country code such as DE, got {text[:40]!r}"
        )
    return code


def language(text: str) -> str:
    """An argparse ``type``: a language tag such as ``fr`` or ``de-DE``."""
    tag = text.strip()
    if not is_language(tag):
        raise argparse.ArgumentTypeError(
            f"--language takes a language tag such as fr or de-DE, got {text[:40]!r}"
        )
    return tag


def cmd_info(config: Config, args: argparse.Namespace) -> int:
    app = Reelpick.open(config, fit=False)
    movie_id = resolve(app, args.title, language=args.language, as_json=args.json, hint=True)
    if movie_id is None:
        return EXIT_NO_MATCH
    card = app.card(movie_id, region=args.region, language=args.language)
    if args.json:
        # Whether TMDB was asked at all: without a key, empty fields mean "not asked", not
        # "TMDB has nothing"; the note is what the text card says.
        tmdb = {
            "configured": app.tmdb_available,
            "note": None if app.tmdb_available else WITHOUT_TMDB,
        }
        print(json.dumps(card.to_json() | {"tmdb": tmdb}, indent=2, ensure_ascii=False))
    else:
        print(format_card(card, app.tmdb_available))
    return 0


def resolve(
    app: Reelpick,
    title: str,
    *,
    language: str | None = None,
    as_json: bool = False,
    hint: bool = False,
) -> int | None:
    """The movie ``title`` means (a TMDB-only movie is added to the catalogue), or None
    after listing the candidates on stderr (or as JSON on stdout). ``hint``: say that a TMDB
    key would search TMDB too, when there is none."""
    text = title.strip()
    if not text:
        raise UsageError("the title is empty")
    if text.lower().startswith(TMDB_PREFIX):
        return app.add_from_tmdb(tmdb_id(text))
    found = app.lookup(text, language=language)
    if found.movie_id is not None:
        return found.movie_id
    if found.online_best is not None:
        return app.add_from_tmdb(found.online_best.tmdb_id)
    explain(app, found, as_json, hint)
    return None


def tmdb_id(text: str) -> int:
    """The id in ``tmdb:ID`` (spaces around ID allowed); a usage error unless ID is a whole
    number TMDB could have (1 to 2**31 - 1: TMDB's ids are 32-bit)."""
    rest = text[len(TMDB_PREFIX) :].strip()
    if not (
        rest.isascii() and rest.isdigit() and len(rest) <= 10 and 1 <= int(rest) <= MAX_TMDB_ID
    ):
        raise UsageError(
            f"{text[:40]!r} is not a TMDB id: {TMDB_PREFIX}ID takes a whole number "
            f"from 1 to {MAX_TMDB_ID}"
        )
    return int(rest)


def explain(app: Reelpick, found: Lookup, as_json: bool, hint: bool = False) -> None:
    local: list[dict[str, Any]] = [
        {"movie_id": c.movie_id, "label": c.label, "score": c.score} for c in found.local.candidates
    ]
    seen = {c.movie_id for c in found.local.candidates}
    online: list[dict[str, Any]] = [
        {
            "tmdb_id": c.tmdb_id,
            "label": c.label,
            "movie_id": c.movie_id,
            "overview": c.overview,
        }
        for c in found.online
        if c.movie_id is None or c.movie_id not in seen
    ]
    if found.prefer_online:
        local = []  # TMDB's titles match better: the partial local ones would mislead
    if as_json:
        body: dict[str, Any] = {"query": found.query[:200], "ambiguous": local, "online": online}
        print(json.dumps(body, ensure_ascii=False))
        return
    if not local and not online:
        print(f"No movie matches {found.query[:80]!r}.", file=sys.stderr)
    else:
        print(f"{found.query[:80]!r} could be:", file=sys.stderr)
        for row in local:
            print(f"  {row['label']}  (score {row['score']:.0f})", file=sys.stderr)
        for row in online:
            print(
                f"  {row['label']}  [TMDB: reelpick info {TMDB_PREFIX}{row['tmdb_id']}]",
                file=sys.stderr,
            )
        print("Add the year or more of the title to choose one.", file=sys.stderr)
    if hint and not app.tmdb_available:
        print(NO_KEY_SEARCH, file=sys.stderr)


def format_card(card: MovieCard, tmdb: bool) -> str:
    facts = [card.label]
    if card.runtime:
        facts.append(f"{card.runtime} min")
    if card.genres:
        facts.append(", ".join(card.genres))
    lines = [" · ".join(facts)]
    if card.directors:
        lines.append(f"Director: {', '.join(card.directors)}")
    if card.cast:
        lines.append(f"Cast: {', '.join(card.cast)}")
    if card.rating is not None:
        lines.append(f"TMDB rating: {card.rating:.1f}/10")
    if card.overview:
        lines.append("")
        lines.append(card.overview)
        lines.append("")
    if card.trailer_url:
        lines.append(f"Trailer: {card.trailer_url}")
    if card.poster_url:
        lines.append(f"Poster: {card.poster_url}")
    watch = card.where_to_watch
    if watch is not None:
        if watch.empty:
            lines.append(f"Where to watch ({watch.region}): no offers listed")
        else:
            offers = [
                f"{name}: {', '.join(names)}"
                for name, names in (
                    ("Stream", watch.flatrate),
                    ("Rent", watch.rent),
                    ("Buy", watch.buy),
                )
                if names
            ]
            lines.append(f"Where to watch ({watch.region}): " + " · ".join(offers))
        if watch.link:
            lines.append(f"  {watch.link}")
        lines.append(f"  {watch.attribution}")
    ids = [f"movie id {card.id}"]
    if card.tmdb_id:
        ids.append(f"TMDB {card.tmdb_id}")
    if card.imdb_id:
        ids.append(f"IMDb tt{card.imdb_id:07d}")
    lines.append(f"({', '.join(ids)}; from the {card.source})")
    if not tmdb:
        lines.append(WITHOUT_TMDB)
    return "\n".join(lines)
