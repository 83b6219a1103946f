"""Title answers: a movie title in, similar movies out; with /plugins and /about.

Private chats answer every text; groups answer a mention, a reply to the bot or
``/similar TITLE``. A title that names one movie gets the answer of
:mod:`reelpick.bot.movie_answer`; an ambiguous or unknown one gets a question with candidate
buttons (``pick:<movie id>``), answered here. /reload (admins) loads data and plugins afresh.
Every reply is in the language of the person it answers
(:func:`~reelpick.bot.i18n.translator_for`).
"""

from __future__ import annotations

import html
import logging
import time

from telegram import Update
from telegram.constants import MessageEntityType, ParseMode
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from reelpick.errors import ReelpickError
from reelpick.posters.tmdb import TMDB_ATTRIBUTION  # the exact wording TMDB asks for
from reelpick.redact import redact

from .context import BotApplication, BotContext
from .handler_groups import HandlerGroup
from .i18n import N_, Translator, translator_for
from .media import NO_PREVIEW
from .movie_answer import answer_if_admitted, answer_movie
from .replies import STALE
from .resolve import (
    EXAMPLE_TITLES,
    TitleKind,
    choice_keyboard,
    parse_choice,
    parse_online_choice,
    question_text,
    resolve_online,
)
from .scheduling import sender_key
from .services import BotServices
from .stopping import stop_after
from .updates import chat_of, message_of, query_of

log = logging.getLogger(__name__)

# (command, description): descriptions are message ids, translated per language at startup.
COMMANDS = [
    ("similar", N_("Movies similar to a title")),
    ("plugins", N_("Which recommenders answer and what they mean")),
    ("about", N_("Data sources and attribution")),
]


def register(application: BotApplication, services: BotServices) -> None:
    """Answer titles (text, /similar, candidate buttons) and the bot's own commands."""
    for name, callback in (
        ("plugins", plugins_command),
        ("about", about_command),
        ("similar", similar_command),
        ("reload", reload_command),
    ):
        application.add_handler(CommandHandler(name, callback), HandlerGroup.DEFAULT)
    application.add_handler(
        CallbackQueryHandler(stop_after(pick_button), pattern=r"^pick:"), HandlerGroup.DEFAULT
    )
    application.add_handler(
        CallbackQueryHandler(stop_after(online_button), pattern=r"^tmdb:"), HandlerGroup.DEFAULT
    )
    text = filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE
    application.add_handler(
        MessageHandler(text & filters.ChatType.PRIVATE, private_text), HandlerGroup.DEFAULT
    )
    application.add_handler(
        MessageHandler(text & filters.ChatType.GROUPS, group_text), HandlerGroup.DEFAULT
    )
    services.commands.extend(COMMANDS)


# -- commands -------------------------------------------------------------------------------
async def plugins_command(update: Update, context: BotContext) -> None:
    _ = translator_for(update)
    s = context.services
    registry = s.reelpick.registry
    chosen = s.settings.get(chat_of(update).id, registry.enabled()).plugins
    lines = [_("<b>Recommenders</b> (each answers with its own album):")]
    for name in registry.enabled():
        plugin = registry.plugins[name]
        state = "" if plugin.fitted else _(" (not available right now)")
        off = "" if name in chosen else _(" (off in this chat)")
        # Label and description are the plugin's own words (data, not the bot's wording).
        lines.append(
            f"• <b>{html.escape(plugin.info.label)}</b>{state}{off}: "
            f"{html.escape(plugin.info.description)}"
        )
    for failure in registry.failures:
        if failure.name in s.config.enabled_plugins:
            lines.append(_("• <b>{name}</b>: could not be loaded", name=html.escape(failure.name)))
    lines.append("\n" + _("Choose which ones answer here with /settings."))
    await message_of(update).reply_html("\n".join(lines))


async def about_command(update: Update, context: BotContext) -> None:
    _ = translator_for(update)
    s = context.services
    dataset = s.reelpick.dataset
    text = _(
        "<b>About reelpick</b>\n"
        "Ratings and titles: MovieLens ({movies} movies, {ratings} ratings) by GroupLens "
        "Research, University of Minnesota "
        '(<a href="https://grouplens.org/datasets/movielens/">grouplens.org</a>). '
        "F. Maxwell Harper and Joseph A. Konstan, The MovieLens Datasets: History and Context, "
        "ACM TiiS 5(4), 2015.\n"
        'Posters: <a href="https://www.themoviedb.org/">The Movie Database (TMDB)</a>; '
        "movies without one get a drawn placeholder.\n"
        "{attribution}\n"
        "Recommendations are computed by the plugins listed in /plugins.",
        movies=_.number(len(dataset.movies)),
        ratings=_.number(len(dataset.ratings)),
        # TMDB asks for this exact sentence; it stays in English in every language.
        attribution=html.escape(TMDB_ATTRIBUTION),
    )
    await message_of(update).reply_html(text, link_preview_options=NO_PREVIEW)


async def similar_command(update: Update, context: BotContext) -> None:
    title = " ".join(context.args or [])
    if not title.strip():
        _ = translator_for(update)
        await message_of(update).reply_html(
            _(
                "Tell me which movie: <code>/similar TITLE</code>, for example "
                "<code>/similar {example}</code>.",
                example=html.escape(EXAMPLE_TITLES[0]),
            )
        )
        return
    await _answer_title(update, context, title)


async def reload_command(update: Update, context: BotContext) -> None:
    """Admin only: reload the data and the plugins' fitted tables (fits what is missing)."""
    _ = translator_for(update)
    s = context.services
    user = update.effective_user
    if user is None or user.id not in s.admins:
        await message_of(update).reply_text(_("Sorry, /reload is only for the bot's admins."))
        log.warning("refused /reload from user %s", user.id if user else "?")
        return
    if s.reload_lock.locked():  # two reloads at once would load everything twice
        await message_of(update).reply_text(_("A reload is already running."))
        return
    async with s.reload_lock:
        await _reload(update, s, _)


async def _reload(update: Update, s: BotServices, _: Translator) -> None:
    await message_of(update).reply_text(_("Reloading data and models…"))
    started = time.perf_counter()
    try:
        await s.reload()
    except Exception:
        log.exception("reload failed; keeping the models already loaded")
        await message_of(update).reply_text(
            _("Reload failed (see the log); the models already loaded keep answering.")
        )
        return
    registry = s.reelpick.registry
    ready = [
        registry.plugins[n].info.label for n in registry.enabled() if registry.plugins[n].fitted
    ]
    await message_of(update).reply_text(
        _(
            "Reloaded in {seconds} s: {plugins} ready.",
            seconds=_.number(time.perf_counter() - started, 1),
            plugins=", ".join(ready) or _("no recommenders"),
        )
    )


# -- plain messages and buttons ---------------------------------------------------------------
async def private_text(update: Update, context: BotContext) -> None:
    await _answer_title(update, context, message_of(update).text or "")


async def group_text(update: Update, context: BotContext) -> None:
    """In groups, answer only when mentioned or replied to."""
    message = message_of(update)
    bot = context.bot
    text = message.text or ""
    mention = f"@{bot.username}".lower()
    mentioned = (
        any(
            e.type == MessageEntityType.MENTION
            and text[e.offset : e.offset + e.length].lower() == mention
            for e in message.entities
        )
        or mention in text.lower()
    )
    replied = (
        message.reply_to_message is not None
        and message.reply_to_message.from_user is not None
        and message.reply_to_message.from_user.id == bot.id
    )
    if not (mentioned or replied):
        return
    title = text
    if mentioned:
        start = text.lower().find(mention)
        title = text[:start] + text[start + len(mention) :]
    await _answer_title(update, context, title)


async def pick_button(update: Update, context: BotContext) -> None:
    """A candidate button: edit the question to the choice, then answer for that movie."""
    _ = translator_for(update)
    query = query_of(update)
    s = context.services
    movie_id = parse_choice(query.data)
    if query.message is None or movie_id is None or not s.knows(movie_id):
        await query.answer(_(STALE))  # no chat to answer in (inline message), or not our data
        return
    await query.answer()
    label = s.label(movie_id)
    if query.message is not None:
        try:
            await query.edit_message_text(
                _("You picked <b>{title}</b>.", title=html.escape(label)),
                parse_mode=ParseMode.HTML,
            )
        except TelegramError as exc:  # the question may be gone or unchanged: answer anyway
            log.info("could not edit the question: %s", redact(exc))
    reply_to = query.message.message_id if query.message is not None else None
    await answer_movie(
        context, chat_of(update).id, movie_id, reply_to=reply_to, user=query.from_user
    )


async def online_button(update: Update, context: BotContext) -> None:
    """A TMDB candidate's button: the movie joins the catalogue (no refit), then is answered."""
    _ = translator_for(update)
    query = query_of(update)
    s = context.services
    tmdb_id = parse_online_choice(query.data)
    if query.message is None or tmdb_id is None or not s.reelpick.tmdb_available:
        await query.answer(_(STALE))
        return
    try:
        movie_id = await s.match(s.reelpick.add_from_tmdb, tmdb_id)
    except ReelpickError as exc:  # unknown to TMDB (forged), or TMDB is down
        log.info("TMDB candidate %s not added: %s", tmdb_id, redact(exc))
        await query.answer(_(STALE))
        return
    await query.answer()
    try:
        await query.edit_message_text(
            _("You picked <b>{title}</b>.", title=html.escape(s.label(movie_id))),
            parse_mode=ParseMode.HTML,
        )
    except TelegramError as exc:
        log.info("could not edit the question: %s", redact(exc))
    await answer_movie(
        context,
        chat_of(update).id,
        movie_id,
        reply_to=query.message.message_id,
        user=query.from_user,
    )


# -- answering ----------------------------------------------------------------------------------
async def _answer_title(update: Update, context: BotContext, text: str) -> None:
    """Match ``text`` and answer, holding a place in the chat's and the sender's waiting line
    for the whole of it (a question with candidates waits for the flood limit too)."""
    message = message_of(update)
    await answer_if_admitted(
        context,
        message.chat_id,
        sender_key(update),
        update.effective_user,
        lambda: _match_and_answer(update, context, text),
    )


async def _match_and_answer(update: Update, context: BotContext, text: str) -> None:
    _ = translator_for(update)
    s = context.services
    message = message_of(update)
    found = await s.match(resolve_online, s.reelpick, text, translate=_, language=_.language)
    if found.kind == TitleKind.INVALID:
        await message.reply_text(found.problem)
    elif found.kind == TitleKind.MATCH and found.movie_id is not None:
        await answer_movie(
            context,
            message.chat_id,
            found.movie_id,
            reply_to=message.message_id,
            user=update.effective_user,
            person=sender_key(update),
        )
    else:
        markup = (
            choice_keyboard(
                found.candidates,
                online=found.online,
                online_first=found.kind == TitleKind.ONLINE,
            )
            if found.candidates or found.online
            else None
        )
        await message.reply_html(question_text(found, _), reply_markup=markup)
