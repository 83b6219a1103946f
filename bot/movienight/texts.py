"""Movie nights' wording: short titles, status lines, announcements, HTML helpers.

Pure functions (no Telegram calls, no store): what the commands and the lifecycle say, in
the language of the translator ``_`` they are given (:mod:`reelpick.bot.i18n`).
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Mapping, Sequence

from telegram import Message, User

from ..i18n import Translator
from ..media import strip_tags
from .schema import Entry, EntryKind, Night, NightState, Option, TitleOutcome

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
    """A person's name as the chat knows it (stored with what they did, so not translated:
    Telegram always gives a first name, the fallbacks are for the impossible case)."""
    if user is None:
        return "someone"
    return user.full_name or (f"@{user.username}" if user.username else f"user {user.id}")


def esc(text: object) -> str:
    """``text`` made safe for an HTML message (quotes stay as they are)."""
    return html.escape(str(text), quote=False)


def quoted(text: str, _: Translator) -> str:
    """``text`` (already escaped) in the reader's quotation marks: “Heat”, „Heat“."""
    return _("“{title}”", title=text)


def minutes_left(deadline: float | None, _: Translator, now: float | None = None) -> str:
    """Time until ``deadline`` (unix time): ``"45 s"``, ``"12 min"`` (the same in every
    language we speak), or "soon"."""
    if deadline is None:
        return _("soon")
    seconds = max(0.0, deadline - (time.time() if now is None else now))
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def outcome_lines(
    done: Mapping[TitleOutcome, list[str]], kind: EntryKind, _: Translator
) -> list[str]:
    """The reply to /night_suggest, /night_seen or /night_veto: what happened to each title, by outcome."""
    lines = []
    if done.get(TitleOutcome.ADDED):
        titles = ", ".join(done[TitleOutcome.ADDED])
        if kind == EntryKind.SEED:
            lines.append(_("Added: {titles}.", titles=titles))
        elif kind == EntryKind.SEEN:
            lines.append(_("Marked as seen: {titles}.", titles=titles))
        else:
            lines.append(_("Vetoed: {titles}.", titles=titles))
    if done.get(TitleOutcome.DUPLICATE):
        titles = ", ".join(done[TitleOutcome.DUPLICATE])
        lines.append(_("Already on the list: {titles}.", titles=titles))
    if done.get(TitleOutcome.EXCLUDED):
        lines.append(
            _(
                "Left out by a /night_seen or /night_veto, so not added: {titles}.",
                titles=", ".join(done[TitleOutcome.EXCLUDED]),
            )
        )
    if done.get(TitleOutcome.SEED):
        titles = ", ".join(done[TitleOutcome.SEED])
        lines.append(_("Suggested as a seed, so it stays: {titles}.", titles=titles))
    if done.get(TitleOutcome.FULL):
        titles = ", ".join(done[TitleOutcome.FULL])
        lines.append(_("The list is full, not added: {titles}.", titles=titles))
    if done.get(TitleOutcome.CLOSED):
        lines.append(_("Voting has started, so the list is fixed."))
    if done.get(TitleOutcome.NOMATCH):
        titles = ", ".join(done[TitleOutcome.NOMATCH])
        lines.append(_("No movie matches {titles}.", titles=titles))
    lines += done.get(TitleOutcome.INVALID, [])
    return lines


def vote_count(n: int, _: Translator) -> str:
    """``"1 vote"``, ``"3 votes"``."""
    return _.ngettext("{count} vote", "{count} votes", n)


def duration(minutes: float, _: Translator) -> str:
    """How long voting lasts, as the poll question says it ("45 s", "30 min", "1.5 min")."""
    if minutes < 1:
        return f"{max(1, round(minutes * 60))} s"
    return f"{_.number(minutes)} min"


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
    _: Translator,
    width: int = OPTION_MAX_CHARS,
) -> str:
    """The announcement: winner, tie note, votes per option (HTML), worded with ``_``."""
    title = esc(label(winner.movie_id))
    votes = vote_count(counts[winner.position], _)
    if night.random_pick:
        lines = [_("🎲 Tonight's movie (random pick among the top 3): <b>{title}</b>", title=title)]
    else:
        lines = [_("🏆 Tonight's movie: <b>{title}</b> with {votes}", title=title, votes=votes)]
    if len(tied) > 1 and not night.random_pick:
        names = ", ".join(esc(shorten(label(o.movie_id), 40)) for o in tied)
        lines.append(
            _(
                "It was a tie between {names} ({votes} each); "
                "broken by the recommenders' fused score.",
                names=names,
                votes=votes,
            )
        )
    lines.append("\n" + _("Votes:"))
    for o in options:
        text = esc(shorten(o.text, width))
        line = f"{text}: {counts[o.position] if o.position < len(counts) else 0}"
        lines.append(f"<b>{line}</b>" if o.movie_id == winner.movie_id else line)
    lines.append("\n" + _("Added to this chat's watched list."))
    return "\n".join(lines)


def status_text(
    night: Night,
    seeds: Sequence[Entry],
    excluded: Sequence[Entry],
    watched: int,
    options: Sequence[Option],
    counts: Sequence[int],
    max_seeds: int,
    label: Callable[[int], str],
    _: Translator,
) -> str:
    """What /status shows (HTML): state, seeds and exclusions with who added them, the
    movies watched before, and the votes so far or who starts the poll."""
    if night.state == NightState.GATHERING:
        state = _("collecting titles")
    elif night.state == NightState.VOTING:
        state = _("voting, closes in {time}", time=minutes_left(night.deadline, _))
    else:
        state = _("closing")
    name = esc(night.opener_name)
    lines = [_("🎬 <b>Movie night</b> opened by {name}: {state}.", name=name, state=state)]
    lines.append("\n" + _("<b>Seeds</b> ({count}/{limit}):", count=len(seeds), limit=max_seeds))
    lines += [f"• {esc(label(s.movie_id))} ({esc(s.user_name)})" for s in seeds] or [
        _("none yet: /night_suggest TITLE")
    ]
    if excluded:
        lines.append("\n" + _("<b>Left out</b>:"))
        for e in excluded:
            who = esc(e.user_name)
            if e.kind == EntryKind.SEEN:
                by = _("seen by {name}", name=who)
            else:
                by = _("vetoed by {name}", name=who)
            lines.append(f"• {esc(label(e.movie_id))} ({by})")
    if watched:
        lines.append(
            "\n"
            + _.ngettext(
                "Watched here before (left out too): {count} movie.",
                "Watched here before (left out too): {count} movies.",
                watched,
            )
        )
    if night.state == NightState.VOTING:
        lines.append("\n" + _("<b>Votes so far</b>:"))
        lines += [f"{esc(o.text)}: {counts[o.position]}" for o in options]
    elif night.state == NightState.GATHERING:
        lines.append("\n" + _("{name} or an admin starts the poll with /night_vote.", name=name))
    return fit("\n".join(lines))
