"""The bot's handlers: one small async function per command, message kind and button.

Every handler reaches shared state through :func:`reelpick.bot.services.services`; the
wiring in :mod:`reelpick.bot.app` adds them to the application (/settings and its buttons
are in :mod:`reelpick.bot.settings_handlers`). Nothing here shows a raw error to a person:
failures become one polite line, the traceback goes to the log.

Every reply is in the language of the person it answers (:func:`~reelpick.bot.i18n.translator_for`);
an answer to a whole group (header, albums) is in the language of whoever asked for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time

from telegram import LinkPreviewOptions, ReplyParameters, Update, User
from telegram.constants import ChatType, MessageEntityType, ParseMode
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, CommandHandler, ContextTypes

from reelpick.posters.tmdb import TMDB_ATTRIBUTION  # the exact wording TMDB asks for
from reelpick.redact import redact
from reelpick.types import PluginAnswer

from .i18n import N_, Translator, translator_for
from .media import ChatAction, album_caption, movie_header
from .rating_buttons import rating_markup  # under a single movie's header, private chats only
from .replies import BUSY, STALE
from .resolve import (
    EXAMPLE_TITLES,
    choice_keyboard,
    examples,
    parse_choice,
    question_text,
    resolve_title,
)
from .services import BotServices, services

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

HELP = N_("""<b>Send me a movie title</b> and I answer with posters of similar movies, one album per recommender.

Examples: <code>Heat</code>, <code>The Matrix 1999</code>, <code>Amelie</code>
In groups: mention me (<code>@{username} Heat</code>), reply to me, or use <code>/similar Heat</code>.

/similar TITLE - movies similar to TITLE
/plugins - the recommenders and what each one means
/settings - posters per album and which recommenders answer in this chat
/about - where the data and posters come from
/help - this message""")

# (command, description): descriptions are message ids, translated per language at startup.
COMMANDS = [
    ("similar", N_("Movies similar to a title")),
    ("help", N_("How to use the bot, with examples")),
    ("plugins", N_("Which recommenders answer and what they mean")),
    ("settings", N_("Posters per album and recommenders for this chat")),
    ("about", N_("Data sources and attribution")),
]


# -- guard: runs before every other handler (app.GUARD_GROUP, -100) --------------------------
async def guard(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Per-chat and per-person rate limits against spam: warn once, then ignore until the
    minute is over (a refused button press is still answered, silently)."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None or user.is_bot:
        return
    s = services(context)
    limiter, key = s.limiter, chat.id
    verdict = limiter.check(key)
    if verdict == "ok":
        limiter, key = s.user_limiter, user.id
        verdict = limiter.check(key)
    if verdict == "ok":
        return
    notice = None
    if verdict == "warn":
        wait = max(1, round(limiter.wait_seconds(key)))
        _ = translator_for(update)
        notice = _("That's a lot of requests. Please wait {seconds} s and try again.", seconds=wait)
    try:
        if update.callback_query:
            await update.callback_query.answer(notice)
        elif notice and update.effective_message:
            await update.effective_message.reply_text(notice)
    except TelegramError as exc:
        log.info("rate-limit notice not sent: %s", redact(exc))
    log.info("chat %s / user %s is over the limit (%s)", chat.id, user.id, verdict)
    raise ApplicationHandlerStop


# -- commands -------------------------------------------------------------------------------
async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The welcome; ``/start <payload>`` from a t.me deep link goes to its feature."""
    if context.args and await services(context).deep_links.dispatch(
        update, context, context.args[0]
    ):
        return
    _ = translator_for(update)
    await update.effective_message.reply_html(
        _("Hi! I find movies similar to the ones you like.") + "\n\n" + _help(context, _),
        link_preview_options=NO_PREVIEW,
    )


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    _ = translator_for(update)
    await update.effective_message.reply_html(_help(context, _), link_preview_options=NO_PREVIEW)


async def plugins_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    _ = translator_for(update)
    s = services(context)
    registry = s.reelpick.registry
    chosen = s.settings.get(update.effective_chat.id, registry.enabled()).plugins
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
    await update.effective_message.reply_html("\n".join(lines))


async def about_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    _ = translator_for(update)
    s = services(context)
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
    await update.effective_message.reply_html(text, link_preview_options=NO_PREVIEW)


async def stale_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any callback data no other handler takes (old, foreign or forged): answer, do nothing."""
    with contextlib.suppress(TelegramError):
        await update.callback_query.answer(translator_for(update)(STALE))


async def similar_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    title = " ".join(context.args or [])
    if not title.strip():
        _ = translator_for(update)
        await update.effective_message.reply_html(
            _(
                "Tell me which movie: <code>/similar TITLE</code>, for example "
                "<code>/similar {example}</code>.",
                example=html.escape(EXAMPLE_TITLES[0]),
            )
        )
        return
    await _answer_title(update, context, title)


async def reload_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Admin only: reload the data and the plugins' fitted tables (fits what is missing)."""
    _ = translator_for(update)
    s = services(context)
    user = update.effective_user
    if user is None or user.id not in s.admins:
        await update.effective_message.reply_text(_("Sorry, /reload is only for the bot's admins."))
        log.warning("refused /reload from user %s", user.id if user else "?")
        return
    if s.reload_lock.locked():  # two reloads at once would load everything twice
        await update.effective_message.reply_text(_("A reload is already running."))
        return
    async with s.reload_lock:
        await _reload(update, s, _)


async def _reload(update: Update, s: BotServices, _: Translator) -> None:
    await update.effective_message.reply_text(_("Reloading data and models…"))
    started = time.perf_counter()
    try:
        await s.reload()
    except Exception:
        log.exception("reload failed; keeping the models already loaded")
        await update.effective_message.reply_text(
            _("Reload failed (see the log); the models already loaded keep answering.")
        )
        return
    registry = s.reelpick.registry
    ready = [
        registry.plugins[n].info.label for n in registry.enabled() if registry.plugins[n].fitted
    ]
    await update.effective_message.reply_text(
        _(
            "Reloaded in {seconds} s: {plugins} ready.",
            seconds=_.number(time.perf_counter() - started, 1),
            plugins=", ".join(ready) or _("no recommenders"),
        )
    )


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command no handler knows (checked across every handler, movie nights' included)."""
    message = update.effective_message
    if message is None or message.chat.type != ChatType.PRIVATE or not message.text:
        return
    command = message.text.split()[0][1:].split("@")[0].lower()
    known = {
        c
        for handlers in context.application.handlers.values()
        for h in handlers
        if isinstance(h, CommandHandler)
        for c in h.commands
    }
    if command in known:
        return
    _ = translator_for(update)
    await message.reply_text(_("I don't know that command. /help lists what I can do."))


# -- plain messages and buttons ---------------------------------------------------------------
async def private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _answer_title(update, context, update.effective_message.text)


async def group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In groups, answer only when mentioned or replied to."""
    message = update.effective_message
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


async def other_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice... in a private chat: say what works."""
    _ = translator_for(update)
    await update.effective_message.reply_text(
        _("Send me a movie title as text, for example {examples}.", examples=examples(_))
    )


async def pick_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A candidate button: edit the question to the choice, then answer for that movie."""
    _ = translator_for(update)
    query = update.callback_query
    s = services(context)
    movie_id = parse_choice(query.data)
    if query.message is None or movie_id is None or movie_id not in s.reelpick.dataset:
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
        context, update.effective_chat.id, movie_id, reply_to=reply_to, user=query.from_user
    )


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log every unhandled error with its traceback; tell the person something went wrong."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.callback_query is not None:
        with contextlib.suppress(TelegramError):  # the client must not spin; may be answered
            await update.callback_query.answer()
    elif isinstance(update, Update) and update.effective_chat is not None:
        with contextlib.suppress(TelegramError):
            _ = translator_for(update)
            await context.bot.send_message(
                update.effective_chat.id, _("Sorry, something went wrong. Please try again.")
            )


# -- answering ----------------------------------------------------------------------------------
async def _answer_title(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    _ = translator_for(update)
    s = services(context)
    message = update.effective_message
    found = await asyncio.to_thread(resolve_title, s.reelpick, text, translate=_)
    if found.kind == "invalid":
        await message.reply_text(found.problem)
    elif found.kind == "match":
        await answer_movie(
            context,
            message.chat_id,
            found.movie_id,
            reply_to=message.message_id,
            user=update.effective_user,
        )
    else:
        markup = choice_keyboard(found.candidates) if found.candidates else None
        await message.reply_html(question_text(found, _), reply_markup=markup)


async def answer_movie(
    context: ContextTypes.DEFAULT_TYPE,
    chat_id: int,
    movie_id: int,
    reply_to: int | None = None,
    user: User | None = None,
) -> None:
    """Header, then one album per plugin in plugin order (one line for a plugin that failed).

    In the private chat with ``user`` the header carries rating buttons (bot/profiles). The
    whole answer is in ``user``'s language: in a group, whoever asked for it.

    Plugins are asked and posters read concurrently while the header goes out; albums are
    sent one after another so they arrive in order. One chat's answers never interleave.
    """
    _ = translator_for(user)
    s = services(context)
    bot = context.bot
    if not s.heavy_work_allowed():
        await bot.send_message(chat_id, _(BUSY))
        return
    async with s.chat_lock(chat_id):
        app = s.reelpick
        chosen = s.settings.get(chat_id, app.registry.enabled())
        prepared = {
            name: asyncio.create_task(_prepare(s, name, movie_id, chosen.k))
            for name in chosen.plugins
        }
        uploading = ChatAction(bot, chat_id, "upload_photo")
        if not chosen.plugins:
            await bot.send_message(
                chat_id, _("No recommender is available right now; see /plugins.")
            )
            return
        try:
            await bot.send_message(
                chat_id,
                movie_header(app.dataset, movie_id, _),
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
                reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True)
                if reply_to
                else None,
                reply_markup=rating_markup(chat_id, user, movie_id),
            )
            for name in chosen.plugins:
                answer, posters = await prepared[name]
                if posters and s.sender.needs_upload(bot, posters):
                    await uploading.start()  # "sending photo…" while files upload
                await _send_answer(s, bot, chat_id, movie_id, answer, posters, _)
        finally:
            await uploading.stop()
            for task in prepared.values():
                task.cancel()


async def _prepare(
    s: BotServices, name: str, movie_id: int, k: int
) -> tuple[PluginAnswer, list | None]:
    answer = await s.ask(name, movie_id, k)
    posters = None
    if answer.ok and answer.neighbours:
        posters = await s.sender.load([n.movie_id for n in answer.neighbours])
    return answer, posters


async def _send_answer(
    s: BotServices,
    bot,
    chat_id: int,
    movie_id: int,
    answer: PluginAnswer,
    posters: list | None,
    _: Translator,
) -> None:
    shortfall = shortfall_text(answer, _)
    if shortfall is not None:
        await bot.send_message(chat_id, shortfall)
        return
    ids = [n.movie_id for n in answer.neighbours]
    caption = album_caption(
        _(
            "<b>{label}</b> · like {title}",
            label=html.escape(answer.label),
            title=html.escape(s.label(movie_id)),
        ),
        [s.label(m) for m in ids],
    )
    try:
        await s.sender.send(bot, chat_id, ids, caption, posters=posters)
    except TelegramError as exc:
        log.error("sending the %s album to chat %s failed: %s", answer.plugin, chat_id, redact(exc))
        await bot.send_message(
            chat_id, _("I couldn't send the {label} posters just now.", label=answer.label)
        )


def _help(context: ContextTypes.DEFAULT_TYPE, _: Translator) -> str:
    return _(HELP, username=context.bot.username or "bot")


def shortfall_text(answer: PluginAnswer, _: Translator) -> str | None:
    """Why ``answer`` has no movies to show, in the reader's language; None when it has some.

    :meth:`PluginAnswer.shortfall` decides *whether* (core's English wording is for the CLI);
    a plugin's own ``no_answer`` reason is its data and is shown as it is.
    """
    if answer.shortfall(with_error=False) is None:
        return None
    label = answer.label
    if answer.error:  # chat members never see the technical error text
        return _("{label} had a problem with this movie.", label=label)
    if answer.no_answer:
        return _(
            "{label} has no suggestions for this movie: {reason}.",
            label=label,
            reason=answer.no_answer,
        )
    return _("{label} found no similar movies.", label=label)
