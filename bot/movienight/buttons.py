"""Movie-night buttons: "which title did you mean" (``mn:a:...``) and "random pick" (``mn:r:...``).

Telegram delivers whatever ``callback_data`` a client sends, not only what our buttons carry,
so every press is parsed strictly and checked against the chat it was pressed in: a night
is only touched from its own chat, kind codes and movie ids must be ours, and the query is
always answered (a refusal says the button is no longer valid and changes nothing).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from telegram import Bot, CallbackQuery, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ContextTypes

from ..i18n import Translator, translator_for
from ..media import strip_tags
from .lifecycle import CALLBACK_PREFIX
from .members import INVALID, JOIN, NightMembers
from .store import Night, StoreError
from .texts import esc, outcome_lines, person, shorten

log = logging.getLogger(__name__)

KIND_CODE = {"seed": "s", "seen": "w", "veto": "v"}  # in button data (64 bytes at most)
_CODE_KIND = {code: kind for kind, code in KIND_CODE.items()}
# Night ids are SQLite rowids; movie ids MovieLens ids: both fit comfortably in 12 digits,
# and bounding the digits keeps 10**30 and friends out of int() and pandas lookups.
_ADD = re.compile(
    rf"{re.escape(CALLBACK_PREFIX)}a:([{''.join(_CODE_KIND)}]):(\d{{1,12}}):(\d{{1,12}})"
)
_RANDOM = re.compile(rf"{re.escape(CALLBACK_PREFIX)}r:(\d{{1,12}})")


def add_button_data(kind: str, night_id: int) -> str:
    """The ``action`` prefix of title-choice buttons adding a ``kind`` to night ``night_id``."""
    return f"{CALLBACK_PREFIX}a:{KIND_CODE[kind]}:{night_id}"


def random_button_data(night_id: int) -> str:
    return f"{CALLBACK_PREFIX}r:{night_id}"


class NightButtons(NightMembers):
    """The button half of the movie-night feature."""

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        _ = translator_for(update)  # the presser's language
        answered = False

        async def answer(text: str | None = None) -> None:
            nonlocal answered
            answered = True
            await quiet(query.answer(text))

        try:
            data = query.data or ""
            chat_id = query.message.chat.id if query.message is not None else None
            if chat_id is None:  # inline or inaccessible message: no chat to check against
                await answer(_(INVALID))
            elif match := _ADD.fullmatch(data):
                kind = _CODE_KIND[match.group(1)]
                night_id, movie_id = int(match.group(2)), int(match.group(3))
                await self._button_add(query, answer, chat_id, kind, night_id, movie_id, _)
            elif match := JOIN.fullmatch(data):
                await self.button_join(context, query, answer, chat_id, int(match.group(1)))
            elif match := _RANDOM.fullmatch(data):
                night_id = int(match.group(1))
                await self._button_random(context.bot, query, answer, chat_id, night_id, _)
            else:
                await answer(_(INVALID))
        finally:
            if not answered:  # an error on the way: the client must not spin forever
                await quiet(query.answer())

    async def _button_add(
        self,
        query: CallbackQuery,
        answer: Any,
        chat_id: int,
        kind: str,
        night_id: int,
        movie_id: int,
        _: Translator,
    ) -> None:
        if not self._known_movie(movie_id):
            await answer(_(INVALID))
            return
        night = self.store.current(chat_id)  # the night of the chat the button is in
        if night is None or night.id != night_id or night.state != "gathering":
            await answer(_("That movie night's list is closed."))
            return
        outcome = self._add(night, movie_id, query.from_user, kind)
        label = esc(self._label(movie_id))
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
        answer: Any,
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
            await answer(_(INVALID))
            return
        top = self.store.options(night_id)[:3]
        if night.state != "novotes" or not top:
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
        await answer(_("Picked: {title}", title=shorten(self._label(choice.movie_id), 150)))
        await quiet(
            query.edit_message_text(
                _(
                    "Nobody voted, so {name} asked for a random pick among the top 3.",
                    name=esc(person(query.from_user)),
                ),
                parse_mode=ParseMode.HTML,
            )
        )
        await self._close_safely(bot, night_id, _)

    def _known_movie(self, movie_id: int) -> bool:
        try:
            return movie_id in self.app.dataset
        except (OverflowError, TypeError, ValueError):
            return False

    def _add(self, night: Night, movie_id: int, user: Any, kind: str) -> str:
        try:
            if kind == "seed":
                return self.store.add_seed(
                    night.id, movie_id, user.id, person(user), self.settings.max_seeds
                )
            return self.store.add_exclusion(night.id, movie_id, kind, user.id, person(user))
        except StoreError:
            return "closed"


async def quiet(awaitable: Any) -> Any:
    """Await a Telegram call whose failure must not stop the caller (logged)."""
    try:
        return await awaitable
    except (BadRequest, Forbidden) as exc:
        log.info("telegram refused: %s", exc)
    except TelegramError as exc:
        log.warning("telegram call failed: %s", exc)
    return None
