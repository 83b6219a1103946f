"""/settings and its buttons: posters per album and which recommenders answer in a chat.

The choices live in the shared :class:`~reelpick.bot.settings.SettingsStore`, which every
answer reads. Only the chat's admins change a group's settings
(:func:`~reelpick.bot.permissions.is_chat_admin`); every text is in the language of the
person who asked or pressed.
"""

from __future__ import annotations

import html
import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler

from reelpick.redact import redact

from .context import BotApplication, BotContext
from .handler_groups import HandlerGroup
from .i18n import N_, Translator, translator_for
from .permissions import is_chat_admin
from .replies import STALE
from .services import BotServices
from .settings import K_CHOICES, MAX_K
from .stopping import stop_after
from .updates import chat_of, message_of, query_of

log = logging.getLogger(__name__)

SETTINGS_DATA = re.compile(r"set:(k|p):([0-9]{1,2}|[a-z0-9][a-z0-9_-]{0,40})")
ADMINS_ONLY = N_("Only the group's admins can change settings.")
# (command, description): the description is a message id, translated per language at startup.
COMMANDS = [("settings", N_("Posters per album and recommenders for this chat"))]


def register(application: BotApplication, services: BotServices) -> None:
    """Add /settings and its buttons (``set:k:<k>``, ``set:p:<plugin>``)."""
    application.add_handler(CommandHandler("settings", settings_command), HandlerGroup.DEFAULT)
    application.add_handler(
        CallbackQueryHandler(stop_after(settings_button), pattern=r"^set:"), HandlerGroup.DEFAULT
    )
    services.commands.extend(COMMANDS)


async def settings_command(update: Update, context: BotContext) -> None:
    """/settings shows buttons; /settings k 8 and /settings plugins a b also work as text."""
    _ = translator_for(update)
    s = context.services
    chat_id = chat_of(update).id
    available = s.reelpick.registry.enabled()
    # "k 8", "k=8", "plugins cosine-cf sgd-mf", "plugins=cosine-cf,sgd-mf"
    words = " ".join(context.args or []).lower().replace("=", " ").replace(",", " ").split()
    note = ""
    if words:
        if not await _may_change_settings(update, context):
            await message_of(update).reply_text(_(ADMINS_ONLY))
            return
        key, values = words[0], words[1:]
        k = _small_number(values[0]) if len(values) == 1 else None
        if key == "k" and k is not None and 1 <= k <= MAX_K:
            s.settings.set_k(chat_id, k)
            note = _("Posters per album: {k}.", k=k)
        elif key == "plugins" and values and all(v in available for v in values):
            s.settings.set_plugins(chat_id, [p for p in available if p in values])
            note = _("Recommenders updated.")
        else:
            note = _(
                "I did not understand that. Use /settings k N (1-{max_k}) or "
                "/settings plugins NAME ... (one or more of: {names}).",
                max_k=MAX_K,
                names=", ".join(available),
            )
    text, markup = settings_view(s, chat_id, _)
    await message_of(update).reply_html(
        (html.escape(note) + "\n\n" if note else "") + text, reply_markup=markup
    )


async def settings_button(update: Update, context: BotContext) -> None:
    _ = translator_for(update)
    query = query_of(update)
    s = context.services
    available = s.reelpick.registry.enabled()
    match = SETTINGS_DATA.fullmatch(query.data or "")
    if query.message is None or match is None:
        await query.answer(_(STALE))
        return
    chat_id = query.message.chat.id
    if not await _may_change_settings(update, context):
        await query.answer(_(ADMINS_ONLY), show_alert=True)
        return
    what, value = match.groups()
    current = s.settings.get(chat_id, available)
    if what == "k" and value.isascii() and value.isdigit() and int(value) in K_CHOICES:
        s.settings.set_k(chat_id, int(value))
        await query.answer(_("{k} posters per album", k=value))
    elif what == "p" and value in available:
        plugins = set(current.plugins) ^ {value}
        if not plugins:
            await query.answer(_("At least one recommender has to stay on."), show_alert=True)
            return
        s.settings.set_plugins(chat_id, [p for p in available if p in plugins])
        await query.answer(_("Saved"))
    else:
        await query.answer(_(STALE))
        return
    # The view is the group's, shown in the language of whoever pressed last.
    text, markup = settings_view(s, chat_id, _)
    try:
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
    except TelegramError as exc:  # unchanged (pressed twice) or gone: the answer was given
        log.info("settings view not updated: %s", redact(exc))


def _small_number(text: str) -> int | None:
    """``text`` as a number of at most three ASCII digits ("²" and "١" are digits to Python,
    yet not to int(); thousands of digits are more than int() will read)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else None


async def _may_change_settings(update: Update, context: BotContext) -> bool:
    return await is_chat_admin(
        context.bot, chat_of(update), update.effective_user, context.services.admins
    )


def settings_view(s: BotServices, chat_id: int, _: Translator) -> tuple[str, InlineKeyboardMarkup]:
    """The settings message (HTML) and its buttons; plugin labels are names, not translated."""
    registry = s.reelpick.registry
    current = s.settings.get(chat_id, registry.enabled())
    labels = [registry.plugins[p].info.label for p in current.plugins]
    text = _(
        "<b>Settings for this chat</b>\nPosters per album: {k}\nRecommenders: {labels}",
        k=current.k,
        labels=html.escape(", ".join(labels)),
    )
    k_row = [
        InlineKeyboardButton(f"• {k} •" if k == current.k else str(k), callback_data=f"set:k:{k}")
        for k in K_CHOICES
    ]
    plugin_rows = [
        [
            InlineKeyboardButton(
                ("✅ " if name in current.plugins else "⬜ ") + registry.plugins[name].info.label,
                callback_data=f"set:p:{name}",
            )
        ]
        for name in registry.enabled()
    ]
    return text, InlineKeyboardMarkup([k_row, *plugin_rows])
