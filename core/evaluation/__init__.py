"""Measuring plugins: rating accuracy and similar-movie quality (:mod:`.ratings`)."""

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
