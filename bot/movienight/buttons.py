"""Movie-night buttons: "which title did you mean", "I'm in" and "random pick".

Every press is parsed strictly (:mod:`.callbacks`) and checked against the chat it was
pressed in: a night is only touched from its own chat, movie ids must be the catalogue's,
and the query is always answered (a refusal says the button is no longer valid and
changes nothing).
"""

from __future__ import annotations

import logging
import random

from telegram import Bot, CallbackQuery, Update
from telegram.constants import ParseMode

from ..context import BotContext
from ..i18n import Translator, translator_for
from ..media import strip_tags
from ..replies import STALE
from .callbacks import AddPress, JoinPress, RandomPress, parse_press
from .catalogue import Catalogue
from .lifecycle import NightLifecycle
from .lists import NightLists
from .members import Answer, MemberHandlers
from .schema import NightState, StoreError
from .sending import quiet
from .store import MovieNightStore
from .texts import esc, outcome_lines, person, shorten

log = logging.getLogger(__name__)


class ButtonHandlers:
    """Answers the movie night's buttons (callback data starting with ``mn:``)."""

    def __init__(
        self,
        store: MovieNightStore,
        catalogue: Catalogue,
        lists: NightLists,
        members: MemberHandlers,
        lifecycle: NightLifecycle,
        rng: random.Random,
    ) -> None:
        self.store = store
        self.catalogue = catalogue
        self.lists = lists
        self.members = members
        self.lifecycle = lifecycle
        self.rng = rng

    async def on_button(self, update: Update, context: BotContext) -> None:
        query = update.callback_query
        if query is None:
            return
        _ = translator_for(update)  # the presser's language
        answered = False

        async def answer(text: str | None = None) -> None:
            nonlocal answered
            answered = True
            await quiet(query.answer(text))

        try:
            data = query.data or ""
            chat_id = query.message.chat.id if query.message is not None else None
            press = parse_press(data)
            if chat_id is None:  # inline or inaccessible message: no chat to check against
                await answer(_(STALE))
            elif isinstance(press, AddPress):
                await self._button_add(query, answer, chat_id, press, _)
            elif isinstance(press, JoinPress):
                await self.members.button_join(context, query, answer, chat_id, press.night_id)
            elif isinstance(press, RandomPress):
                await self._button_random(context.bot, query, answer, chat_id, press.night_id, _)
            else:
                await answer(_(STALE))
        finally:
            if not answered:  # an error on the way: the client must not spin forever
                await quiet(query.answer())

    async def _button_add(
        self,
        query: CallbackQuery,
        answer: Answer,
        chat_id: int,
        press: AddPress,
        _: Translator,
    ) -> None:
        kind, movie_id = press.kind, press.movie_id
        if not self.catalogue.knows(movie_id):
            await answer(_(STALE))
            return
        night = self.store.current(chat_id)  # the night of the chat the button is in
        if night is None or night.id != press.night_id or night.state != NightState.GATHERING:
            await answer(_("That movie night's list is closed."))
            return
        outcome = self.lists.add(night, movie_id, query.from_user, kind)
        label = esc(self.catalogue.label(movie_id))
        lines = outcome_lines({outcome: [label]}, kind, _)
        await answer(strip_tags(lines[0]) if lines else _("OK"))
        await quiet(
            query.edit_message_text(
                f"{lines[0] if lines else label} ({esc(person(query.from_user))})",
                parse_mode=ParseMode.HTML,
            )
        )

    async def _button_random(
        self,
        bot: Bot,
        query: CallbackQuery,
        answer: Answer,
        chat_id: int,
        night_id: int,
        _: Translator,
    ) -> None:
        """The random pick from the top 3; its announcement goes in the presser's language."""
        try:
            night = self.store.night(night_id)
        except StoreError:
            night = None
        if night is None or night.chat_id != chat_id:  # another chat's night: not ours to pick
            if night is not None:
                log.warning(
                    "random-pick button for night %s (chat %s) pressed in chat %s: refused",
                    night_id,
                    night.chat_id,
                    chat_id,
                )
            await answer(_(STALE))
            return
        top = self.store.options(night_id)[:3]
        if night.state != NightState.NOVOTES or not top:
            await answer(_("A movie was already picked."))
            return
        choice = self.rng.choice(top)
        try:
            picked = self.store.claim_random_pick(night_id, choice.movie_id)
        except StoreError as exc:  # another night was opened in the chat since
            log.info("random pick for night %s refused: %s", night_id, exc)
            await answer(_("This chat has started another movie night since."))
            return
        if picked is None:
            await answer(_("A movie was already picked."))
            return
        await answer(
            _("Picked: {title}", title=shorten(self.catalogue.label(choice.movie_id), 150))
        )
        await quiet(
            query.edit_message_text(
                _(
                    "Nobody voted, so {name} asked for a random pick among the top 3.",
                    name=esc(person(query.from_user)),
                ),
                parse_mode=ParseMode.HTML,
            )
        )
        await self.lifecycle.close_safely(bot, night_id, _)
