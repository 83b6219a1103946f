"""/privacy (what the bot stores about a person, for how long, how to get it and delete it)
and /export (all of a person's ratings and marks as a Letterboxd-compatible CSV document).

Telegram expects a privacy policy from bots that store data; /privacy is it, in the
reader's language, and works in any chat (it shows nobody's data). /export, like
/myratings, only in the private chat.
"""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.constants import ChatType

from reelpick.profiles import app_movies, export_letterboxd
from reelpick.watchlist import EXPORT_NAME as WATCHLIST_EXPORT_NAME
from reelpick.watchlist import app_names, export_watchlist

from ..context import BotContext
from ..i18n import N_, translator_for
from ..rating_buttons import owner_of
from ..updates import chat_of, message_of
from . import texts
from .rate import SESSION_SECONDS

EXPORT_NAME = "reelpick-letterboxd.csv"

POLICY = N_("""<b>What I store, and for how long</b>
• Your ratings and your "seen" and "not interested" marks (from /rate, the rating buttons, files you import and movie nights you vote in), under your Telegram id, until you delete them.
• While you rate with /rate: the movies I asked about, for {days} days after your last tap.
• A file you send to import: only until it is read.
• In a group: its movie nights (titles, who joined, votes) and its /settings, for as long as the group keeps me.
I keep no messages and share nothing with anyone; picks are worked out on this server.

/export sends all your ratings and marks as a CSV file (Letterboxd can import it).
/forget deletes all of them, your /rate session and any import, at once.""")
WATCHLIST_POLICY = N_(
    "Your watchlist (movies you marked to watch later or imported) is kept the same way: "
    "/export includes it, /forget deletes it."
)
PRIVATE_EXPORT = N_(
    "Your ratings are personal, so I keep them to a private chat with you. "
    "Send /export to me there."
)


class Privacy:
    """/privacy and /export."""

    async def cmd_privacy(self, update: Update, context: BotContext) -> None:
        _ = translator_for(update)
        await message_of(update).reply_html(
            _(POLICY, days=SESSION_SECONDS // 86400) + "\n\n" + _(WATCHLIST_POLICY)
        )

    async def cmd_export(self, update: Update, context: BotContext) -> None:
        chat, user, message = chat_of(update), update.effective_user, message_of(update)
        if user is None:
            return
        _ = translator_for(update)
        if chat.type != ChatType.PRIVATE:
            await message.reply_text(_(PRIVATE_EXPORT))
            return
        s = context.services
        entries = await asyncio.to_thread(s.profiles.entries, owner_of(user))
        listed = await asyncio.to_thread(s.watchlist.entries, owner_of(user))
        if not entries and not listed:
            await message.reply_text(_(texts.NOTHING_RATED))
            return
        if entries:
            document = await asyncio.to_thread(export_letterboxd, entries, app_movies(s.reelpick))
            await context.bot.send_document(
                chat.id,
                document,
                filename=EXPORT_NAME,
                caption=_.ngettext("{count} movie", "{count} movies", len(entries)),
            )
        if listed:  # Letterboxd's watchlist.csv; it imports back into reelpick too
            names = app_names(s.reelpick)  # dataset and catalogue movies
            listing = await asyncio.to_thread(export_watchlist, listed, names)
            await context.bot.send_document(
                chat.id,
                listing,
                filename=WATCHLIST_EXPORT_NAME,
                caption=_.ngettext(
                    "Your watchlist: {count} movie", "Your watchlist: {count} movies", len(listed)
                ),
            )
