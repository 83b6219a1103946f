"""Movie data: MovieLens loading (:mod:`.movielens`), verified downloads (:mod:`.fetch`) and
title search (:mod:`.search`).

Plugins receive a :class:`Dataset`; the import path ``reelpick.data.Dataset`` is public.
"""

from .movielens import (
    NO_GENRES,
    TRAILING_ARTICLE,
    Dataset,
    RatingMatrix,
    load_dataset,
    move_article,
    split_title,
)

__all__ = [
    "NO_GENRES",
    "TRAILING_ARTICLE",
    "Dataset",
    "RatingMatrix",
    "load_dataset",
    "move_article",
    "split_title",
]
