"""/settings and its buttons: posters per album, which recommenders answer, the chat's
language and region, its streaming services ("our services", chosen from TMDB's list for the
region, paged) and whether movie nights keep to them.

The choices live in the shared :class:`~reelpick.bot.settings.SettingsStore`, which every
answer reads. Only the chat's admins change a group's settings
(:func:`~reelpick.bot.permissions.is_chat_admin`); every text is in the language of the
person who asked or pressed.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler

from reelpick.redact import redact

from .card import chat_region
from .context import BotApplication, BotContext
from .handler_groups import HandlerGroup
from .i18n import N_, Translator, translator_for, use_chat_languages
from .permissions import is_chat_admin
from .replies import STALE
from .services import BotServices
from .settings import K_CHOICES, LANGUAGE_CHOICES, MAX_K, REGION
from .stopping import stop_after
from .updates import chat_of, message_of, query_of

log = logging.getLogger(__name__)

SETTINGS_DATA = re.compile(r"set:(k|p|l|r|s|t|n|v):([0-9]{1,3}|[a-z0-9][a-z0-9_-]{0,40})")
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch"}
REGION_CHOICES = ("US", "GB", "DE", "AT", "CH", "FR")  # buttons; /settings region XX for others
SERVICES_PAGE = 8
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
    use_chat_languages(services.settings.language)


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
        elif key == "language" and len(values) == 1 and values[0] in (*LANGUAGE_CHOICES, "auto"):
            s.settings.set_language(chat_id, None if values[0] == "auto" else values[0])
            _ = translator_for(update)
            note = _("Language saved.")
        elif key == "region" and len(values) == 1 and REGION.fullmatch(values[0].upper()):
            s.settings.set_region(chat_id, values[0].upper())
            note = _("Region: {region}.", region=values[0].upper())
        else:
            note = _(
                "I did not understand that. Use /settings k N (1-{max_k}) or "
                "/settings plugins NAME ... (one or more of: {names}).",
                max_k=MAX_K,
                names=", ".join(available),
            )
            note += " " + _(
                "Also /settings language en|de|auto or /settings region CC (such as DE)."
            )
    text, markup = settings_view(s, chat_id, _, _region_for(update, s, chat_id))
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
        await query.answer(
            _.ngettext("{count} poster per album", "{count} posters per album", int(value))
        )
    elif what == "p" and value in available:
        plugins = set(current.plugins) ^ {value}
        if not plugins:
            await query.answer(_("At least one recommender has to stay on."), show_alert=True)
            return
        s.settings.set_plugins(chat_id, [p for p in available if p in plugins])
        await query.answer(_("Saved"))
    elif what == "l" and value in (*LANGUAGE_CHOICES, "auto"):
        s.settings.set_language(chat_id, None if value == "auto" else value)
        _ = translator_for(update)
        await query.answer(_("Language saved."))
    elif what == "r" and value.upper() in REGION_CHOICES:
        s.settings.set_region(chat_id, value.upper())
        await query.answer(_("Region: {region}.", region=value.upper()))
    elif what in ("s", "t") and value.isascii() and value.isdigit():
        await _services_button(update, context, chat_id, what, int(value), _)
        return
    elif what == "n" and value in ("on", "off"):
        s.settings.set_night_services(chat_id, value == "on")
        await query.answer(_("Saved"))
    elif what == "v" and value == "0":
        await query.answer()
    else:
        await query.answer(_(STALE))
        return
    # The view is the group's, shown in the language of whoever pressed last.
    text, markup = settings_view(s, chat_id, _, _region_for(update, s, chat_id))
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


def _region_for(update: Update, s: BotServices, chat_id: int) -> str:
    return chat_region(s, chat_id, update.effective_user)


def settings_view(
    s: BotServices, chat_id: int, _: Translator, region: str = "US"
) -> tuple[str, InlineKeyboardMarkup]:
    """The settings message (HTML) and its buttons; plugin labels are names, not translated."""
    registry = s.reelpick.registry
    current = s.settings.get(chat_id, registry.enabled())
    labels = [registry.plugins[p].info.label for p in current.plugins]
    text = _(
        "<b>Settings for this chat</b>\nPosters per album: {k}\nRecommenders: {labels}",
        k=current.k,
        labels=html.escape(", ".join(labels)),
    )
    language = LANGUAGE_NAMES[current.language] if current.language else _("each person's own")
    text += "\n" + _(
        "Language: {language}\nRegion: {region}\nOur services: {services}",
        language=language,
        region=region,
        services=html.escape(", ".join(current.services)) if current.services else _("none"),
    )
    if current.night_services:
        text += "\n" + _("Movie nights offer only movies on our services.")
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
    language_row = [
        InlineKeyboardButton(
            ("• " if current.language == code else "") + name, callback_data=f"set:l:{code}"
        )
        for code, name in LANGUAGE_NAMES.items()
    ] + [
        InlineKeyboardButton(
            ("• " if current.language is None else "") + _("Auto"), callback_data="set:l:auto"
        )
    ]
    region_row = [
        InlineKeyboardButton(
            f"• {code} •" if code == region else code, callback_data=f"set:r:{code.lower()}"
        )
        for code in REGION_CHOICES
    ]
    night = "off" if current.night_services else "on"
    extra = [
        [InlineKeyboardButton(_("📺 Our services…"), callback_data="set:s:0")],
        [
            InlineKeyboardButton(
                ("✅ " if current.night_services else "⬜ ") + _("Movie nights: only our services"),
                callback_data=f"set:n:{night}",
            )
        ],
    ]
    return text, InlineKeyboardMarkup([k_row, *plugin_rows, language_row, region_row, *extra])


async def _services_button(
    update: Update, context: BotContext, chat_id: int, what: str, number: int, _: Translator
) -> None:
    """``set:s:<page>`` shows a page of the region's services; ``set:t:<index>`` toggles one
    (an index past TMDB's current list is out of date)."""
    query = query_of(update)
    s = context.services
    region = _region_for(update, s, chat_id)
    names = await asyncio.to_thread(s.reelpick.providers, region)
    if not names:
        await query.answer(_("Choosing services needs TMDB (a TMDB_API_KEY)."), show_alert=True)
        return
    current = set(s.settings.get(chat_id, []).services)
    if what == "t":
        if number >= len(names):
            await query.answer(_(STALE))
            return
        current ^= {names[number]}
        s.settings.set_services(chat_id, [n for n in names if n in current])
        await query.answer(_("Saved"))
        page = number // SERVICES_PAGE
    else:
        await query.answer()
        page = number
    pages = max(1, (len(names) + SERVICES_PAGE - 1) // SERVICES_PAGE)
    page = max(0, min(page, pages - 1))
    first = page * SERVICES_PAGE
    rows = [
        [
            InlineKeyboardButton(
                ("✅ " if name in current else "⬜ ") + name[:50], callback_data=f"set:t:{i}"
            )
        ]
        for i, name in enumerate(names[first : first + SERVICES_PAGE], start=first)
    ]
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("◀", callback_data=f"set:s:{page - 1}"))
    nav.append(InlineKeyboardButton(_("Back"), callback_data="set:v:0"))
    if page < pages - 1:
        nav.append(InlineKeyboardButton("▶", callback_data=f"set:s:{page + 1}"))
    text = _(
        "<b>Our services</b> in {region} (page {page} of {pages}): tap to choose.",
        region=region,
        page=page + 1,
        pages=pages,
    )
    try:
        await query.edit_message_text(
            text, parse_mode=ParseMode.HTML, reply_markup=InlineKeyboardMarkup([*rows, nav])
        )
    except TelegramError as exc:
        log.info("services view not updated: %s", redact(exc))
