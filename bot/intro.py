"""The bot introduces itself: /start and /help, in private chats and in groups.

/help tells every feature in a few lines: title answers, /rate and /forme, rating imports
from a CSV file, posters from photos, the watchlist and movie cards, inline mode, movie
nights, /settings and the privacy commands. In a group it says what works there (mentions,
/similar, movie nights, inline mode) and links to a private chat for the personal features
(``t.me/<bot>?start=rate`` deep links, :mod:`reelpick.bot.deeplinks`) and for this help
(``?start=help``). In a private chat it links back to adding the bot to a group
(``?startgroup``).

``/start`` hands a deep-link payload (``/start rate``) to the feature that registered it;
without one, or with a payload no feature knows (the inline button's ``?start=inline``
among them), it welcomes with the same help. Every text is in the language of whoever
asked (:func:`~reelpick.bot.i18n.translator_for`).
"""

from __future__ import annotations

import html

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import CommandHandler

from .context import BotApplication, BotContext
from .handler_groups import HandlerGroup
from .i18n import N_, Translator, translator_for
from .media import NO_PREVIEW
from .services import BotServices
from .updates import chat_of, message_of

HELLO = N_("Hi! I find movies similar to the ones you like.")

# Private chats: one paragraph per feature (HTML).
TITLES = N_(
    "<b>Send me a movie title</b> and I answer with posters of similar movies, one album per "
    "recommender: <code>Heat</code>, <code>The Matrix 1999</code>, <code>Amelie</code>.\n"
    "/similar TITLE - movies similar to TITLE\n"
    "/plugins - the recommenders and what each one means"
)
PERSONAL = N_(
    "<b>Picks for you</b>\n"
    "/rate - rate movies, one tap each\n"
    "/forme - personal picks from your ratings\n"
    "/myratings - your ratings, with a CSV file of them\n"
    "Send me a CSV file of your ratings (an export from Letterboxd, IMDb or MovieLens) and "
    "I import them."
)
PHOTOS = N_(
    "<b>Photos</b>: send me a photo of a poster and I tell you which movie it is, with "
    "posters that look like it."
)
WATCHLIST = N_(
    "<b>Movie cards and your watchlist</b>: a movie's card says what it is about, who is in "
    "it and where to stream it; /watchlist keeps the movies you want to watch later."
)
INLINE = N_(
    "<b>In any chat</b>: type <code>@{username} Heat</code> and pick a movie to share its "
    "card there."
)
NIGHTS = N_(
    '<b>Movie nights</b> in a group (<a href="{group}">add me to one</a>): /movienight '
    "opens one, everyone suggests titles, and the group votes in a poll."
)
SETTINGS = N_(
    "/settings - posters per album, which recommenders answer, your language\n"
    "/about - where the data and posters come from\n"
    "/privacy - what I store about you; /export sends your ratings as a CSV file, "
    "/forget deletes them\n"
    "/help - this message"
)

# Groups: what works here, and the way to the private chat for the rest.
GROUP_TITLES = N_(
    "<b>In this group</b>: mention me with a title (<code>@{username} Heat</code>), reply to "
    "me, or use /similar TITLE, and I answer with posters of similar movies."
)
GROUP_NIGHTS = N_(
    "<b>Movie nights</b>: /movienight opens one (titles after it, separated with ;).\n"
    "/night_suggest TITLE - add a title you like\n"
    "/night_seen TITLE, /night_veto TITLE - keep a movie out\n"
    "/night_in, /night_out - join or leave: I pick movies for the people who join\n"
    "/night_status - titles, vetoes, who is in\n"
    "/night_vote, /night_close - start and end the poll (opener or admin)"
)
GROUP_MORE = N_(
    "/settings - posters per album and recommenders here (admins)\n"
    "Type <code>@{username} Heat</code> in any chat to share a movie's card."
)
GROUP_PRIVATE = N_(
    "<b>Just for you</b>, in a private chat with me: "
    '<a href="{rate}">rate movies</a> and <a href="{forme}">get picks</a> from your '
    "ratings, import a CSV file from Letterboxd, IMDb or MovieLens, find a movie from a "
    'photo of its poster, keep a /watchlist. <a href="{help}">Open the chat</a>.'
)

HELP_LINK = "help"  # t.me/<bot>?start=help: this help in a private chat

# (command, description): descriptions are message ids, translated per language at startup.
COMMANDS = [("help", N_("How to use the bot, with examples"))]


def register(application: BotApplication, services: BotServices) -> None:
    """/start and /help, and the ``?start=help`` deep link."""
    application.add_handler(CommandHandler("start", start), HandlerGroup.DEFAULT)
    application.add_handler(CommandHandler("help", help_command), HandlerGroup.DEFAULT)
    services.deep_links.register(HELP_LINK, help_link)
    services.commands.extend(COMMANDS)


async def start(update: Update, context: BotContext) -> None:
    """The welcome; ``/start <payload>`` from a t.me deep link goes to its feature."""
    if context.args and await context.services.deep_links.dispatch(
        update, context, context.args[0]
    ):
        return
    _ = translator_for(update)
    await message_of(update).reply_html(
        _(HELLO) + "\n\n" + help_text(update, context, _), link_preview_options=NO_PREVIEW
    )


async def help_command(update: Update, context: BotContext) -> None:
    _ = translator_for(update)
    await message_of(update).reply_html(
        help_text(update, context, _), link_preview_options=NO_PREVIEW
    )


async def help_link(update: Update, context: BotContext, argument: str) -> None:
    """``/start help``: the help, without the welcome line (any argument is ignored)."""
    await help_command(update, context)


def help_text(update: Update, context: BotContext, _: Translator) -> str:
    """The help for the chat the update comes from (HTML)."""
    username = context.bot.username or "bot"
    if chat_of(update).type == ChatType.PRIVATE:
        return private_help(username, _)
    return group_help(username, context.services, _)


def private_help(username: str, _: Translator) -> str:
    group = html.escape(f"https://t.me/{username}?startgroup=help")
    return "\n\n".join(
        [
            _(TITLES),
            _(PERSONAL),
            _(PHOTOS),
            _(WATCHLIST),
            _(INLINE, username=html.escape(username)),
            _(NIGHTS, group=group),
            _(SETTINGS),
        ]
    )


def group_help(username: str, services: BotServices, _: Translator) -> str:
    links = services.deep_links

    def link(name: str) -> str:
        return html.escape(links.link(username, name))

    return "\n\n".join(
        [
            _(GROUP_TITLES, username=html.escape(username)),
            _(GROUP_NIGHTS),
            _(GROUP_MORE, username=html.escape(username)),
            _(GROUP_PRIVATE, rate=link("rate"), forme=link("forme"), help=link(HELP_LINK)),
        ]
    )
