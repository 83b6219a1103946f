"""What the commands print: answers as tables or JSON, and the explanation of a title that
does not name one movie."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

from ..app import Reelpick
from ..types import PluginAnswer


def resolve_or_explain(app: Reelpick, title: str, as_json: bool = False) -> int | None:
    """The movie ``title`` clearly means, or None after telling the user why not."""
    found = app.search(title)
    if found.confident:
        return found.candidates[0].movie_id
    if as_json:
        candidates = [dataclasses.asdict(c) for c in found.candidates]
        print(json.dumps({"query": title[:200], "ambiguous": candidates}))
    elif not found.candidates:
        print(f"No movie matches {title[:80]!r}.", file=sys.stderr)
    else:
        print(f"{title[:80]!r} could be:", file=sys.stderr)
        for candidate in found.candidates:
            print(f"  {candidate.label}  (score {candidate.score:.0f})", file=sys.stderr)
        print("Add the year or more of the title to choose one.", file=sys.stderr)
    return None


def format_answer(app: Reelpick, answer: PluginAnswer) -> str:
    lines = [f"[{answer.label}]"]
    if answer.error:
        lines.append(f"  {answer.label} had a problem with this movie ({answer.error})")
    elif answer.no_answer:
        lines.append(f"  {answer.no_answer}")
    elif not answer.neighbours:
        lines.append("  no similar movies found")
    for rank, n in enumerate(answer.neighbours, 1):
        lines.append(f"  {rank:>2}. {app.movie_title(n.movie_id):<60.60} {n.score:6.3f}")
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
