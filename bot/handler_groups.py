"""Every handler group of the bot, in the order PTB runs them (lowest first).

PTB runs at most one handler per group, groups in ascending order, until a handler raises
``ApplicationHandlerStop``. A feature passes one of these to ``add_handler``; nothing else
picks a group number.
"""

from __future__ import annotations

from enum import IntEnum


class HandlerGroup(IntEnum):
    GUARD = -100  # per-chat and per-person limits, for every update with a chat
    OPERATIONS = -4  # the owner's /stats; stops the update
    WATCHLIST = -3  # watchlist files sent as documents, before rating imports see them
    PROFILES = -2  # /rate, /forme, /myratings, /forget, CSV uploads; each stops the update
    MOVIENIGHT = -1  # movie-night commands, buttons and poll answers; each stops the update
    DEFAULT = 0  # titles, settings, inline, photo buttons; one handler per update
    PHOTO = 1  # photos and image documents, after the plain-text handlers
    FALLBACK = 40  # buttons no feature claimed (old, foreign or forged callback data)
    UNKNOWN = 50  # commands nobody handles, and messages of a kind the bot does not read
