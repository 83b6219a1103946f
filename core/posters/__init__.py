"""Movie posters: the store (offline folder, TMDB-filled disk cache), image checks, rendered
placeholders and the TMDB client (:mod:`.tmdb`, imported only when a key is configured)."""

from .images import BadImage, check_image
from .placeholder import render_placeholder
from .store import FetchStatus, Outcome, Poster, PosterSource, PosterStore

__all__ = [
    "BadImage",
    "FetchStatus",
    "Outcome",
    "Poster",
    "PosterSource",
    "PosterStore",
    "check_image",
    "render_placeholder",
]
