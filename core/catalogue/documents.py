"""TMDB documents -> catalogue rows: a ``/movie/{id}`` answer (with
:data:`~reelpick.posters.tmdb.APPEND`) as a :class:`StoredMovie`, and one region of a
``watch/providers`` answer as :class:`WhereToWatch`. Anything TMDB leaves out or sends in
another shape reads as absent, never as an error (the id aside)."""

from __future__ import annotations

from typing import Any

from ..posters.tmdb import JSONObject, TMDBError
from .genres import dataset_genres
from .models import WhereToWatch
from .store import StoredMovie

YOUTUBE = "https://www.youtube.com/watch?v={key}"


def parse_details(details: JSONObject, cast: int) -> StoredMovie:
    """A catalogue row from ``/movie/{id}`` with :data:`~reelpick.posters.tmdb.APPEND`."""
    tmdb_id = details.get("id")
    if not isinstance(tmdb_id, int):
        raise TMDBError("TMDB movie details without an id")
    title = str(details.get("title") or details.get("original_title") or f"TMDB {tmdb_id}")
    credits = _dict(details.get("credits"))
    crew = [c for c in _list(credits.get("crew")) if c.get("job") == "Director"]
    people = sorted(_list(credits.get("cast")), key=lambda c: c.get("order", 999))
    alternative = [
        str(t.get("title")) for t in _list(_dict(details.get("alternative_titles")).get("titles"))
    ]
    translated = [
        str(_dict(t.get("data")).get("title"))
        for t in _list(_dict(details.get("translations")).get("translations"))
    ]
    original = details.get("original_title")
    aliases = [
        t for t in dict.fromkeys([*alternative, *translated]) if t and t not in ("None", title)
    ]
    imdb = details.get("imdb_id") or _dict(details.get("external_ids")).get("imdb_id")
    runtime = details.get("runtime")
    return StoredMovie(
        tmdb_id=tmdb_id,
        title=title,
        original_title=str(original) if original and original != title else None,
        alt_titles=tuple(aliases[:30]),
        year=year_of(details.get("release_date")),
        release_date=str(details.get("release_date") or "") or None,
        genres=dataset_genres(_list(details.get("genres"))),
        keywords=tuple(
            str(k["name"])
            for k in _list(_dict(details.get("keywords")).get("keywords"))
            if k.get("name")
        ),
        overview=str(details.get("overview") or "") or None,
        runtime=int(runtime) if isinstance(runtime, int) and runtime > 0 else None,
        directors=tuple(dict.fromkeys(str(c["name"]) for c in crew if c.get("name"))),
        cast=tuple(str(c["name"]) for c in people[:cast] if c.get("name")),
        poster_path=str(details["poster_path"]) if details.get("poster_path") else None,
        imdb_id=_imdb_number(imdb),
        popularity=_float(details.get("popularity")),
        vote_average=_float(details.get("vote_average")),
        trailer_url=trailer(_list(_dict(details.get("videos")).get("results"))),
    )


def trailer(videos: list[dict[str, Any]]) -> str | None:
    """A YouTube trailer (official first), else a teaser."""
    youtube = [v for v in videos if v.get("site") == "YouTube" and v.get("key")]
    for kind in ("Trailer", "Teaser"):
        found = [v for v in youtube if v.get("type") == kind]
        found.sort(key=lambda v: not v.get("official", False))
        if found:
            return YOUTUBE.format(key=found[0]["key"])
    return None


def where_to_watch(providers: object, region: str) -> WhereToWatch:
    """One region of a ``watch/providers`` answer (empty offers when TMDB lists none)."""
    results = _dict(_dict(providers).get("results"))
    offers = _dict(results.get(region))

    def names(kind: str) -> tuple[str, ...]:
        rows = sorted(_list(offers.get(kind)), key=lambda p: p.get("display_priority", 999))
        return tuple(dict.fromkeys(str(p["provider_name"]) for p in rows if p.get("provider_name")))

    link = offers.get("link")
    return WhereToWatch(
        region=region,
        link=str(link) if link else None,
        flatrate=names("flatrate"),
        rent=names("rent"),
        buy=names("buy"),
    )


def year_of(date: object) -> int | None:
    """The year of a TMDB date (\"2025-03-14\"), or None."""
    text = str(date or "")
    return int(text[:4]) if len(text) >= 4 and text[:4].isdigit() else None


def _imdb_number(value: object) -> int | None:
    text = str(value or "")
    return int(text[2:]) if text.startswith("tt") and text[2:].isdigit() else None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


__all__ = ["parse_details", "trailer", "where_to_watch", "year_of"]
