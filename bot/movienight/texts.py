"""Movie nights' wording: short titles, status lines, announcements, HTML helpers.

Pure functions (no Telegram calls, no store): what the commands and the lifecycle say.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Sequence

from telegram import Message, User

from ..media import strip_tags
from .schema import Night, Option

OPTION_MAX_CHARS = 100  # Telegram's limit for a poll option
CAPTION_MAX_CHARS = 1024
TEXT_MAX_CHARS = 4096


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending with an ellipsis when cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def split_titles(text: str) -> list[str]:
    """``"Heat; Toy Story\\nAlien"`` -> three titles (empty pieces dropped)."""
    return [t.strip() for t in re.split(r"[;\n]+", text or "") if t.strip()]


def command_argument(message: Message | None) -> str:
    """Whatever follows ``/command`` (or ``/command@bot``) in the message, unsplit."""
    if message is None or not message.text:
        return ""
    parts = message.text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def person(user: User | None) -> str:
    """A person's name as the chat knows it."""
    if user is None:
        return "someone"
    return user.full_name or (f"@{user.username}" if user.username else f"user {user.id}")


def esc(text: object) -> str:
    """``text`` made safe for an HTML message (quotes stay as they are)."""
    return html.escape(str(text), quote=False)


def minutes_left(deadline: float | None, now: float | None = None) -> str:
    """Time until ``deadline`` (unix time): ``"45 s"``, ``"12 min"``."""
    if deadline is None:
        return "soon"
    seconds = max(0.0, deadline - (time.time() if now is None else now))
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def outcome_lines(done: dict[str, list[str]], kind: str) -> list[str]:
    """The reply to /suggest, /seen or /veto: what happened to each title, by outcome."""
    verb = {"seed": "Added", "seen": "Marked as seen", "veto": "Vetoed"}[kind]
    lines = []
    if done.get("added"):
        lines.append(f"{verb}: {', '.join(done['added'])}.")
    if done.get("duplicate"):
        lines.append(f"Already on the list: {', '.join(done['duplicate'])}.")
    if done.get("excluded"):
        lines.append(f"Left out by a /seen or /veto, so not added: {', '.join(done['excluded'])}.")
    if done.get("seed"):
        lines.append(f"Suggested as a seed, so it stays: {', '.join(done['seed'])}.")
    if done.get("full"):
        lines.append(f"The list is full, not added: {', '.join(done['full'])}.")
    if done.get("closed"):
        lines.append("Voting has started, so the list is fixed.")
    if done.get("nomatch"):
        lines.append(f"No movie matches {', '.join(done['nomatch'])}.")
    lines += done.get("invalid", [])
    return lines


def vote_count(n: int) -> str:
    """``"1 vote"``, ``"3 votes"``."""
    return f"{n} vote" if n == 1 else f"{n} votes"


def duration(minutes: float) -> str:
    """How long voting lasts, as the poll question says it."""
    return f"{max(1, round(minutes * 60))} s" if minutes < 1 else f"{minutes:g} min"


def fit(text: str, limit: int = TEXT_MAX_CHARS) -> str:
    """Cut an HTML text to ``limit`` visible characters at a line boundary."""
    if len(strip_tags(text)) <= limit:
        return text
    lines = text.split("\n")
    while lines and len(strip_tags("\n".join(lines + ["…"]))) > limit:
        lines.pop()
    return "\n".join(lines + ["…"])


def winner_text(
    night: Night,
    options: Sequence[Option],
    counts: Sequence[int],
    winner: Option,
    tied: Sequence[Option],
    label: Callable[[int], str],
    width: int = OPTION_MAX_CHARS,
) -> str:
    """The announcement: winner, tie note, votes per option (HTML)."""
    title = esc(label(winner.movie_id))
    if night.random_pick:
        lines = [f"🎲 Tonight's movie (random pick among the top 3): <b>{title}</b>"]
    else:
        lines = [f"🏆 Tonight's movie: <b>{title}</b> with {vote_count(counts[winner.position])}"]
    if len(tied) > 1 and not night.random_pick:
        names = ", ".join(esc(shorten(label(o.movie_id), 40)) for o in tied)
        lines.append(
            f"It was a tie between {names} ({vote_count(counts[winner.position])} each); "
            "broken by the recommenders' fused score."
        )
    lines.append("\nVotes:")
    for o in options:
        text = esc(shorten(o.text, width))
        line = f"{text}: {counts[o.position] if o.position < len(counts) else 0}"
        lines.append(f"<b>{line}</b>" if o.movie_id == winner.movie_id else line)
    lines.append("\nAdded to this chat's watched list.")
    return "\n".join(lines)
