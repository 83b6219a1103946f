"""One-line replies that several features give (message ids, translated where they are sent)."""

from __future__ import annotations

from .i18n import N_

STALE = N_("That button is out of date.")
BUSY = N_("I'm answering a lot of requests right now. Please try again in a minute.")
