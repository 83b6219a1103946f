"""Who is in a night: /in, /out, the "I'm in" button, and people leaving the group.

Joining: ``/in`` or the button under the night's opening message joins the chat's night;
``/in`` while a poll runs joins the chat's *next* night (the reply says so); ``/out`` leaves;
a vote counts as joining. A member without ratings gets one line pointing to ``/rate`` in
the private chat (a ``t.me/<bot>?start=rate`` deep link); the night works without them.
What the members' profiles make of the poll is :mod:`.ballot`'s job.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable

from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update, User

from reelpick.profiles import ProfileStore

from ..context import BotContext
from ..deeplinks import DeepLinks
from ..i18n import Translator, translator_for
from ..rating_buttons import owner_of
from ..replies import STALE
from .callbacks import join_button_data
from .schema import JoinOutcome, NightState
from .sending import reply, send_text
from .store import MovieNightStore
from .texts import esc, person, shorten

log = logging.getLogger(__name__)

# Answers a button press with a toast (None: no text).
Answer = Callable[[str | None], Awaitable[None]]


def join_markup(_: Translator, night_id: int) -> InlineKeyboardMarkup:
    """The "I'm in" button under a night's opening message."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(_("🙋 I'm in"), callback_data=join_button_data(night_id))]]
    )


class MemberHandlers:
    """/in, /out, the "I'm in" button and left members, over the store's member records."""

    def __init__(
        self, store: MovieNightStore, profiles: ProfileStore, deep_links: DeepLinks
    ) -> None:
        self.store = store
        self.profiles = profiles
        self.deep_links = deep_links

    # -- joining ---------------------------------------------------------------------
    async def cmd_in(self, update: Update, context: BotContext) -> None:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        if chat is None or user is None or message is None:
            return
        _ = translator_for(update)
        text = await self._join(context.bot, chat.id, user, _)
        await reply(message, text)

    async def _join(self, bot: Bot, chat_id: int, user: User, _: Translator) -> str:
        """Join ``user`` to the chat's night; the reply (with the /rate nudge when needed)."""
        outcome, _night = await asyncio.to_thread(
            self.store.join, chat_id, user.id, person(user), user.language_code
        )
        name = esc(person(user))
        if outcome == JoinOutcome.WAITING:
            night = self.store.current(chat_id)
            if night is None:
                text = _("{name}, you're in for the next movie night here.", name=name)
            else:
                text = _(
                    "{name}, this poll is already running, so you're in for the next movie night.",
                    name=name,
                )
        elif outcome == JoinOutcome.ALREADY:
            text = _("{name}, you're already in.", name=name)
        else:
            text = _("{name} is in for tonight's movie night.", name=name)
        profile = await asyncio.to_thread(self.profiles.profile, owner_of(user.id))
        if not profile.ratings and bot.username:
            link = self.deep_links.link(bot.username, "rate")
            text += "\n" + _(
                'Rate a few movies in a private chat with me so the list knows your taste: <a href="{link}">/rate</a>',
                link=esc(link),
            )
        return text

    async def cmd_out(self, update: Update, context: BotContext) -> None:
        chat, user, message = update.effective_chat, update.effective_user, update.effective_message
        if chat is None or user is None or message is None:
            return
        _ = translator_for(update)
        left = await asyncio.to_thread(self.store.leave, chat.id, user.id)
        name = esc(person(user))
        if left:
            text = _("{name} is out of this movie night.", name=name)
        else:
            night = self.store.current(chat.id)
            if night is not None and night.state != NightState.GATHERING:
                text = _("The poll is already running; a vote there still counts.")
            else:
                text = _("{name}, you had not joined.", name=name)
        await reply(message, text)

    async def button_join(
        self,
        context: BotContext,
        query: CallbackQuery,
        answer: Answer,
        chat_id: int,
        night_id: int,
    ) -> None:
        """The "I'm in" button: only the night of the chat the button is in, never another's."""
        _ = translator_for(query.from_user)
        night = self.store.current(chat_id)
        if night is None or night.id != night_id:
            latest = self.store.latest(chat_id)
            if latest is None or latest.id != night_id:  # another chat's night, or forged
                log.info("join button for night %s pressed in chat %s: refused", night_id, chat_id)
                await answer(_(STALE))
                return
        text = await self._join(context.bot, chat_id, query.from_user, _)
        await answer(shorten(re.sub(r"<[^>]+>", "", text).split("\n")[0], 190))
        if "\n" in text:  # the /rate nudge goes to the chat: a toast cannot carry a link
            await send_text(context.bot, chat_id, text)

    async def on_left_member(self, update: Update, context: BotContext) -> None:
        """Someone left the group: their votes stay, they are not messaged about its nights."""
        chat = update.effective_chat
        if chat is None:
            return
        users = []
        if update.chat_member is not None:
            if update.chat_member.new_chat_member.status in ("left", "kicked", "banned"):
                users.append(update.chat_member.new_chat_member.user)
        elif update.effective_message is not None and update.effective_message.left_chat_member:
            users.append(update.effective_message.left_chat_member)
        for user in users:
            await asyncio.to_thread(self.store.left_chat, chat.id, user.id)
