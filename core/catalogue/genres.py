"""TMDB's genres -> the dataset's (MovieLens) genre names.

Mapped by TMDB's genre id, which does not change with the answer's language (the names do).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# TMDB's movie genre ids (/genre/movie/list) and their MovieLens names; None: no counterpart.
TMDB_GENRES: dict[int, tuple[str, str | None]] = {
    28: ("Action", "Action"),
    12: ("Adventure", "Adventure"),
    16: ("Animation", "Animation"),
    35: ("Comedy", "Comedy"),
    80: ("Crime", "Crime"),
    99: ("Documentary", "Documentary"),
    18: ("Drama", "Drama"),
    10751: ("Family", "Children"),
    14: ("Fantasy", "Fantasy"),
    36: ("History", None),
    27: ("Horror", "Horror"),
    10402: ("Music", "Musical"),
    9648: ("Mystery", "Mystery"),
    10749: ("Romance", "Romance"),
    878: ("Science Fiction", "Sci-Fi"),
    10770: ("TV Movie", None),
    53: ("Thriller", "Thriller"),
    10752: ("War", "War"),
    37: ("Western", "Western"),
}
_BY_NAME = {tmdb: ml for tmdb, ml in TMDB_GENRES.values()}


def dataset_genres(genres: Iterable[Mapping[str, Any] | int]) -> tuple[str, ...]:
    """MovieLens names of TMDB genres (``{"id", "name"}`` objects or ``genre_ids``), in TMDB's
    order, each once; genres without a MovieLens counterpart are left out."""
    out: list[str] = []
    for genre in genres:
        if isinstance(genre, Mapping):
            known = TMDB_GENRES.get(int(genre.get("id") or -1))
            mapped = known[1] if known else _BY_NAME.get(str(genre.get("name")))
        else:
            known = TMDB_GENRES.get(int(genre))
            mapped = known[1] if known else None
        if mapped and mapped not in out:
            out.append(mapped)
    return tuple(out)
