"""What the commands print: answers as tables or JSON."""

from __future__ import annotations

from typing import Any

from ..app import Reelpick
from ..render.text import shorten
from ..types import PluginAnswer


def format_answer(app: Reelpick, answer: PluginAnswer) -> str:
    lines = [f"[{answer.label}]"]
    if answer.error:
        lines.append(f"  {answer.label} had a problem with this movie ({answer.error})")
    elif answer.no_answer:
        lines.append(f"  {answer.no_answer}")
    elif not answer.neighbours:
        lines.append("  no similar movies found")
    for rank, n in enumerate(answer.neighbours, 1):
        lines.append(f"  {rank:>2}. {fit_width(app.movie_title(n.movie_id), 60)} {n.score:6.3f}")
    return "\n".join(lines) + "\n"


def answers_json(app: Reelpick, movie_id: int, answers: list[PluginAnswer]) -> dict[str, Any]:
    return {
        "movie": {"movie_id": movie_id, "label": app.movie_title(movie_id)},
        "plugins": [
            {
                "plugin": a.plugin,
                "label": a.label,
                "error": a.error,
                "no_answer": a.no_answer,
                "results": [
                    {
                        "movie_id": n.movie_id,
                        "label": app.movie_title(n.movie_id),
                        "score": round(n.score, 6),
                    }
                    for n in a.neighbours
                ],
            }
            for a in answers
        ],
    }


def yes(flag: bool) -> str:
    return "yes" if flag else "no"


def fit_width(label: str, width: int) -> str:
    """``label`` in a column of ``width`` characters, cut at a word with an ellipsis."""
    return f"{shorten(label, width):<{width}}"
