"""Group movie nights (moved here from bot/movienight.py; split into modules by job next)."""

from .commands import (
    MovieNight,
    Settings,
    _chunks,
    decide,
    register_movienight,
    shorten,
    split_titles,
)

__all__ = [
    "MovieNight",
    "Settings",
    "_chunks",
    "decide",
    "register_movienight",
    "shorten",
    "split_titles",
]
