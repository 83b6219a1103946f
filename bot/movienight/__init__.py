"""Group movie nights: gather seed titles, fuse every plugin's suggestions, vote in a native poll.

Commands (in a group; in a private chat /movienight answers that nights are for groups)::

    /movienight [TITLE; TITLE; ...]   open a movie night, optionally with seed titles
    /night_suggest TITLE[; TITLE ...] add seed titles (buttons when a title is ambiguous)
    /night_seen, /night_veto TITLE    keep a movie out of the poll
    /night_in, /night_out             join or leave the night (picks learn the members' taste)
    /night_status                     seeds, exclusions, who added what, when voting closes
    /night_vote                       (opener or chat admin) album of candidates + poll
    /night_close                      (opener or chat admin) close the poll now
                                      (before /night_vote: call the movie night off)

Prefixed so that they cannot clash with other bots in the group; the short names (``/in``,
``/status``...) are answered only when addressed to this bot, ``/in@reelpick_bot``
(:mod:`.commands`).

Candidates are every enabled plugin's ``per_seed`` neighbours of every seed, fused by
weighted reciprocal rank fusion (:mod:`reelpick.fusion`) without the seeds, the excluded
movies and what the chat watched before. The poll is native and non-anonymous, so votes
arrive as ``poll_answer`` updates and are stored per user (a retraction empties the vote;
an older update handled late never overrides a newer one). At the close the tally is the
one ``stopPoll`` returns, Telegram's own, which includes votes whose updates have not been
handled yet; the stored votes are the fallback when the poll cannot be stopped. A tie goes
to the option with the best fused score.

Everything lives in :class:`~reelpick.bot.movienight.store.MovieNightStore` (SQLite): a
restarted bot reschedules running deadlines (an overdue one closes at once), sends any
announcement that was decided but not yet confirmed as sent, and counts the votes Telegram
kept while it was down.

Modules by job:

- ``feature``: :class:`MovieNight`, the feature of one bot: builds the parts below from the
  bot's services, adds their handlers (handler group ``HandlerGroup.MOVIENIGHT``), closes
  the store;
- ``commands``, ``members``, ``buttons``: the handlers (the night's commands and poll
  answers; /in, /out and people leaving; the buttons); ``callbacks``: the buttons' data;
- ``lifecycle``: ballot, deadlines, closing, announcements, restart recovery;
- ``ballot``: the poll's candidates, from seed titles and from the members' profiles;
- ``aftercare``: the voters' "seen" marks and next-day questions;
- ``lists``: adding seeds and exclusions; ``catalogue``: labels and checks of movie ids;
- ``texts``: wording and HTML helpers; ``sending``: replies and notes to Telegram;
- ``store`` (the store the feature uses), composed of ``database`` (the connection and its
  transactions) and the records ``nightstore``, ``ballotstore``, ``memberstore`` and
  ``askstore``; ``schema``: tables, states and records.

Posters go out through the bot's :class:`~reelpick.bot.media.PosterSender`.
"""

from __future__ import annotations

from ..context import BotApplication
from ..services import BotServices
from .commands import COMMANDS
from .feature import MovieNight
from .lifecycle import decide
from .schema import EntryKind, NightState
from .store import MovieNightStore, Night, Option, StoreError
from .texts import shorten, split_titles

__all__ = [
    "EntryKind",
    "MovieNight",
    "MovieNightStore",
    "Night",
    "NightState",
    "Option",
    "StoreError",
    "decide",
    "register",
    "shorten",
    "split_titles",
]


def register(application: BotApplication, services: BotServices) -> None:
    """Add movie nights to the bot: handlers, restart recovery, and the group-only commands.

    The :class:`MovieNight` built here is the feature's one state, kept in
    ``services.features``, which closes its store with the bot.
    """
    feature = services.features.add(MovieNight(application, services))
    feature.add_handlers(application)
    services.metrics.track(
        "open_movie_nights", "Movie nights not closed yet", feature.store.count_open
    )
    services.group_commands.extend(COMMANDS)  # movie nights are for groups: shown there
