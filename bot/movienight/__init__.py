"""Group movie nights: gather seed titles, fuse every plugin's suggestions, vote in a native poll.

Commands (in a group; they work in a private chat too)::

    /movienight [TITLE; TITLE; ...]   open a movie night, optionally with seed titles
    /suggest TITLE[; TITLE ...]       add seed titles (buttons when a title is ambiguous)
    /seen TITLE, /veto TITLE          keep a movie out of the poll
    /status                           seeds, exclusions, who added what, when voting closes
    /vote                             (opener or chat admin) album of candidates + poll
    /close                            (opener or chat admin) close the poll now
                                      (before /vote: call the movie night off)

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

Modules by job: ``commands`` (:class:`MovieNight`: the handlers and buttons), ``lifecycle``
(ballot, deadlines, closing, announcements, restart recovery), ``texts`` (wording and HTML
helpers), ``settings`` (the ``[movienight]`` section), ``store`` (queries) and ``schema``
(tables and records). Posters go out through the bot's :class:`~reelpick.bot.media.PosterSender`.
"""

from __future__ import annotations

from telegram.ext import Application

from reelpick.app import Reelpick
from reelpick.config import Config

from ..media import PosterSender
from ..services import BotServices
from .commands import COMMANDS, MovieNight
from .lifecycle import decide
from .settings import Settings
from .store import MovieNightStore, Night, Option, StoreError
from .texts import shorten, split_titles

__all__ = [
    "MovieNight",
    "MovieNightStore",
    "Night",
    "Option",
    "Settings",
    "StoreError",
    "decide",
    "register_movienight",
    "shorten",
    "split_titles",
]


def register_movienight(
    application: Application,
    app: Reelpick,
    config: Config,
    *,
    services: BotServices | None = None,
    media: PosterSender | None = None,
    store: MovieNightStore | None = None,
) -> MovieNight:
    """Add movie nights to a bot's ``application`` (called by ``build_application``).

    The feature is kept in ``application.bot_data["movienight"]``; its commands join
    ``services.group_commands`` (setMyCommands for group chats).
    """
    feature = MovieNight(app, config, store, media=media, services=services)
    feature.register(application)
    application.bot_data["movienight"] = feature
    if services is not None:  # movie nights are for groups: their commands show there
        services.group_commands.extend(COMMANDS)
    return feature
