"""/myratings (a summary and the whole profile as a CSV document) and /forget (delete it all,
after a confirmation button: the ratings and marks, queued imports and the /rate session,
with no copy left in the store's files).

/forget's buttons carry a one-time nonce kept in the bot's diskcache: the first press uses
it up, so a second press, a press on an old confirmation or a forged one deletes nothing
(it could otherwise wipe ratings made after the confirmation was sent).
"""

from __future__ import annotations

import asyncio
import html
import logging
import secrets

from telegram import Update
from telegram.constants import ChatType, ParseMode

from reelpick.profiles import app_movies, export_csv

from ..context import BotContext
from ..i18n import translator_for
from ..rating_buttons import owner_of
from ..replies import STALE
from ..updates import chat_of, message_of, query_of
from . import texts
from .rate import forget_session

log = logging.getLogger(__name__)

CONFIRM_SECONDS = 600  # a /forget confirmation works this long
EXPORT_NAME = "reelpick-ratings.csv"


def _nonce_key(user_id: int) -> str:
    return f"profiles-forget-nonce:{int(user_id)}"


class Manage:
    """/myratings and /forget."""

    async def cmd_myratings(self, update: Update, context: BotContext) -> None:
        chat, user, message = chat_of(update), update.effective_user, message_of(update)
        if user is None:
            return
        _ = translator_for(update)
        if chat.type != ChatType.PRIVATE:
            await message.reply_text(_(texts.PRIVATE_MYRATINGS))
            return
        s = context.services
        owner = owner_of(user)
        profile, entries = await asyncio.gather(
            asyncio.to_thread(s.profiles.profile, owner),
            asyncio.to_thread(s.profiles.entries, owner),
        )
        if not entries:
            await message.reply_text(_(texts.NOTHING_RATED))
            return
        document = await asyncio.to_thread(export_csv, entries, app_movies(s.reelpick))
        summary = await asyncio.to_thread(texts.summary, profile, entries, s.known_label, _)
        await message.reply_html(summary)
        await context.bot.send_document(
            chat.id,
            document,
            filename=EXPORT_NAME,
            caption=_.ngettext("{count} movie", "{count} movies", len(entries)),
        )

    async def cmd_forget(self, update: Update, context: BotContext) -> None:
        chat, user, message = chat_of(update), update.effective_user, message_of(update)
        if user is None:
            return
        _ = translator_for(update)
        if chat.type != ChatType.PRIVATE:
            await message.reply_text(_(texts.PRIVATE_FORGET))
            return
        s = context.services
        count = len(await asyncio.to_thread(s.profiles.entries, owner_of(user)))
        listed = await asyncio.to_thread(s.watchlist.count, owner_of(user))
        if not count and not listed:
            forget_session(s, user.id)
            await message.reply_text(_("There is nothing to forget: you have no ratings."))
            return
        nonce = secrets.token_hex(8)
        s.cache.set(_nonce_key(user.id), nonce, expire=CONFIRM_SECONDS)
        question = (
            _.ngettext(
                "Delete <b>your one</b> rating or mark? This cannot be undone.",
                "Delete <b>all {count}</b> of your ratings and marks? This cannot be undone.",
                count,
            )
            if count
            else ""
        )
        if listed:
            question += ("\n" if question else "") + _.ngettext(
                "Your watchlist ({count} movie) goes too.",
                "Your watchlist ({count} movies) goes too.",
                listed,
            )
        await message.reply_html(question, reply_markup=texts.forget_keyboard(user.id, nonce, _))

    async def on_forget_button(self, update: Update, context: BotContext) -> None:
        _ = translator_for(update)
        query = query_of(update)
        s = context.services
        press = texts.parse_forget(query.data)
        chat = update.effective_chat
        if press is None:
            await query.answer(_(STALE))
            return
        if query.from_user.id != press.user_id or chat is None or chat.id != press.user_id:
            log.info(
                "refused a /forget button of user %s pressed by %s",
                press.user_id,
                query.from_user.id,
            )
            await query.answer(_(texts.NOT_YOURS), show_alert=True)
            return
        key = _nonce_key(press.user_id)
        with s.cache.transact():  # one press uses the nonce up, however fast two arrive
            valid = s.cache.get(key) == press.nonce
            if valid:
                s.cache.delete(key)
        if not valid:
            await query.answer(_(STALE))
            return
        if press.confirmed:
            removed = await asyncio.to_thread(s.profiles.forget, owner_of(press.user_id))
            unlisted = await asyncio.to_thread(s.watchlist.forget, owner_of(press.user_id))
            forget_session(s, press.user_id)
            log.info("user %s deleted their profile (%d entries)", press.user_id, removed)
            text = _.ngettext(
                "Done: I deleted your {count} rating or mark.",
                "Done: I deleted your {count} ratings and marks.",
                removed,
            )
            if unlisted:
                text += " " + _.ngettext(
                    "And your watchlist of {count} movie.",
                    "And your watchlist of {count} movies.",
                    unlisted,
                )
        else:
            text = _("Kept: nothing was deleted.")
        await query.answer(text[:190])
        if query.message is not None:
            await query.edit_message_text(html.escape(text), parse_mode=ParseMode.HTML)
