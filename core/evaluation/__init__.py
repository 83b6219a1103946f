"""Measuring plugins: rating accuracy and similar-movie quality (:mod:`.ratings`, exported
here), personal top-N lists (:mod:`.topn`), group lists (:mod:`.groups`) and new movies
(:mod:`.cold`); :mod:`.training` fits the plugins on a training split for top-N and groups."""

from .ratings import (
    PluginResult,
    Report,
    Split,
    article_split,
    draw_chart,
    evaluate,
    format_table,
    kfold_splits,
)

__all__ = [
    "PluginResult",
    "Report",
    "Split",
    "article_split",
    "draw_chart",
    "evaluate",
    "format_table",
    "kfold_splits",
]
