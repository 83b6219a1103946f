"""The bot speaks each person's language: complete catalogues, no untranslated text, and the
same interaction in German and English over the Bot API test server.

Message ids are found in the code with ``ast``, by these rules (bot/i18n.py's conventions):

- a call of ``_`` or ``N_`` (``_`` is always the name a translator is bound to:
  ``_ = translator_for(update)``, or a parameter ``_: Translator``), or a call of a translator
  made on the spot, ``translator(...)(...)`` / ``translator_for(...)(...)``;
- its first argument is the id when it is a string literal (adjacent literals are one); a
  name, attribute or subscript is a text marked elsewhere with ``N_`` (``_(STALE)``) and is
  skipped here; an f-string is an error (its text changes with every value: it can never be
  looked up);
- keyword arguments of a literal id must be exactly its ``{placeholders}``;
- ``_.ngettext(SINGULAR, PLURAL, count, ...)`` is a text with plural forms: its two first
  arguments are literals, its catalogue entry (keyed by SINGULAR) holds one text per CLDR
  plural category of the language, and ``{count}`` is filled in by the translator.

Untranslated text is found where text leaves for Telegram (:data:`TEXT_ARGUMENTS`): the text
argument of ``send_message``, ``reply_text``, ``reply_html``, ``edit_message_text``,
``answer`` (callback queries), ``set_my_description``..., any ``caption=``, the text of an
``InlineKeyboardButton`` and inline results' titles, descriptions and messages. There a string literal or f-string is refused unless it says no word:
after HTML tags are removed it holds no letter (emoji, "★", "•", digits, punctuation pass,
:func:`is_wordless`). The scan follows ``+``, ``%``, conditional expressions, ``and``/``or``,
f-string parts, and ``"...".join([...])``/``"...".format(...)`` on a literal; it stops at a
translation call and at any other call (a helper such as ``texts.summary(..., _)`` is checked
where it builds its text).
"""

from __future__ import annotations

import ast
import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from telegram import BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats

from reelpick.bot.app import build_application
from reelpick.bot.i18n import (
    COUNT,
    DEFAULT_LANGUAGE,
    LANGUAGES,
    LOCALES,
    placeholders,
    plural_categories,
    translator,
)
from reelpick.bot.movienight import MovieNight
from reelpick.bot.services import SERVICES
from tests.support.bot_api import buttons, running
from tests.support.bot_chats import GROUP, USER, albums, texts

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "bot"

TRANSLATORS = {"_", "N_"}
TRANSLATOR_FACTORIES = {"translator", "translator_for"}
# method or class -> (position of the text argument, its keyword names)
TEXT_ARGUMENTS = {
    "send_message": (1, ("text",)),
    "reply_text": (0, ("text",)),
    "reply_html": (0, ("text",)),
    "edit_message_text": (0, ("text",)),
    "answer": (0, ("text",)),
    "InlineKeyboardButton": (0, ("text",)),
    "set_my_description": (0, ("description",)),
    "set_my_short_description": (0, ("short_description",)),
    "send_poll": (1, ("question",)),
    "InlineQueryResultArticle": (1, ("title", "description")),
    "InlineQueryResultCachedPhoto": (2, ("title", "description")),
    "InputTextMessageContent": (0, ("message_text",)),
    "InlineQueryResultsButton": (0, ("text",)),
}
CAPTION_KEYWORD = "caption"  # send_photo, send_document, InputMediaPhoto...
_TAG = re.compile(r"<[^>]*>")


# -- reading the code ----------------------------------------------------------------------


def bot_files() -> list[Path]:
    return sorted(BOT.rglob("*.py"))


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.as_posix()


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def is_translation(call: ast.expr) -> bool:
    """``_(...)``, ``N_(...)``, ``translator(...)(...)`` or ``translator_for(...)(...)``."""
    if not isinstance(call, ast.Call):
        return False
    func = call.func
    if isinstance(func, ast.Name) and func.id in TRANSLATORS:
        return True
    return isinstance(func, ast.Call) and _name(func.func) in TRANSLATOR_FACTORIES


def is_plural_translation(call: ast.expr) -> bool:
    """``_.ngettext(...)`` or ``translator(...).ngettext(...)``."""
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute):
        return False
    owner = call.func.value
    return call.func.attr == "ngettext" and (
        (isinstance(owner, ast.Name) and owner.id == "_")
        or (isinstance(owner, ast.Call) and _name(owner.func) in TRANSLATOR_FACTORIES)
    )


@dataclass(frozen=True)
class Use:
    message_id: str
    where: str  # "bot/titles.py:88"
    keywords: frozenset[str] | None  # None: a **mapping was passed (names unknown)
    marker: bool  # N_(): marked now, formatted where it is translated
    plural: str | None = None  # the English plural of an ngettext text


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def message_ids(files: list[Path] | None = None) -> tuple[list[Use], list[str]]:
    """Every literal message id with where it is used, and the errors (f-string ids)."""
    uses: list[Use] = []
    errors: list[str] = []
    for path in files if files is not None else bot_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if is_plural_translation(node):
                assert isinstance(node, ast.Call)
                where = f"{_relative(path)}:{node.lineno}"
                forms = [_literal(a) for a in node.args[:2]]
                if len(node.args) < 3 or None in forms:
                    errors.append(f"{where}: ngettext needs literal singular and plural ids")
                    continue
                names = {k.arg for k in node.keywords}
                keywords = None if None in names else frozenset(names) | {COUNT}
                singular, plural = forms
                assert singular is not None
                uses.append(Use(singular, where, keywords, False, plural))
                continue
            if not is_translation(node) or not node.args:
                continue
            where = f"{_relative(path)}:{node.lineno}"
            first = node.args[0]
            if isinstance(first, ast.JoinedStr):
                errors.append(f"{where}: an f-string as message id cannot be translated")
            elif isinstance(first, ast.Constant) and isinstance(first.value, str):
                names = {k.arg for k in node.keywords}
                keywords = None if None in names else frozenset(names)
                marker = isinstance(node.func, ast.Name) and node.func.id == "N_"
                uses.append(Use(first.value, where, keywords, marker))
    return uses, errors


def is_wordless(text: str) -> bool:
    """Nothing to translate: no letter once HTML tags and entities are gone ("★", "• 5 •")."""
    return not any(c.isalpha() for c in html.unescape(_TAG.sub("", text)))


def _literal_words(node: ast.expr) -> Iterator[ast.expr]:
    """The string literals (with words) that make up the text expression ``node``."""
    if is_translation(node):
        return
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if not is_wordless(node.value):
            yield node
    elif isinstance(node, ast.JoinedStr):
        wording = "".join(
            v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
        )
        if not is_wordless(wording):
            yield node
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                yield from _literal_words(value.value)
    elif isinstance(node, ast.BinOp):
        yield from _literal_words(node.left)
        yield from _literal_words(node.right)
    elif isinstance(node, ast.IfExp):
        yield from _literal_words(node.body)
        yield from _literal_words(node.orelse)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            yield from _literal_words(value)
    elif isinstance(node, ast.List | ast.Tuple):
        for element in node.elts:
            yield from _literal_words(element)
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Constant)
        and node.func.attr in ("join", "format")
    ):
        yield from _literal_words(node.func.value)
        for argument in node.args:
            yield from _literal_words(argument)


def _text_arguments(call: ast.Call) -> Iterator[ast.expr]:
    name = _name(call.func)
    if name in TEXT_ARGUMENTS:
        position, keywords = TEXT_ARGUMENTS[name]
        if len(call.args) > position:
            yield call.args[position]
        yield from (k.value for k in call.keywords if k.arg in keywords)
    yield from (k.value for k in call.keywords if k.arg == CAPTION_KEYWORD)


def untranslated_texts(files: list[Path] | None = None) -> list[str]:
    """``"path:line: text"`` for every literal with words sent to Telegram untranslated."""
    found = []
    for path in files if files is not None else bot_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            for argument in _text_arguments(node):
                for literal in _literal_words(argument):
                    found.append(f"{_relative(path)}:{literal.lineno}: {ast.unparse(literal)}")
    return found


# -- reading the catalogues ------------------------------------------------------------------


def catalogue_files() -> list[Path]:
    return sorted(LOCALES.glob("*/*.json"))


def read_catalogue(path: Path) -> dict[str, str | dict[str, str]]:
    """One catalogue file; fails on invalid JSON, a non-string entry or a key given twice.
    A plural entry is an object of CLDR category -> non-empty text."""

    def no_duplicates(pairs: list[tuple[str, object]]) -> dict:
        keys = [k for k, _ in pairs]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        assert not twice, f"{path}: keys given twice: {twice}"
        return dict(pairs)

    try:
        entries = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=no_duplicates)
    except ValueError as exc:
        pytest.fail(f"{path} is not valid JSON: {exc}")
    assert isinstance(entries, dict), f"{path}: expected an object of id -> translation"

    def text(v: object) -> bool:
        return isinstance(v, str) and bool(v.strip())

    wrong = [
        k
        for k, v in entries.items()
        if not (text(v) or (isinstance(v, dict) and v and all(text(f) for f in v.values())))
    ]
    assert not wrong, f"{path}: translations that are not (non-empty) strings: {wrong}"
    return entries


def language_entries(language: str) -> dict[str, tuple[str | dict[str, str], Path]]:
    """All entries of one language across its files: id -> (translation, file)."""
    merged: dict[str, tuple[str | dict[str, str], Path]] = {}
    for path in sorted((LOCALES / language).glob("*.json")):
        for key, value in read_catalogue(path).items():
            assert key not in merged, f"{key!r} is in both {merged[key][1]} and {path}"
            merged[key] = (value, path)
    return merged


def tags(text: str) -> list[str]:
    """The HTML tags of a text, in a canonical order (translations may move them)."""
    return sorted(_TAG.findall(text))


TRANSLATED = [lang for lang in LANGUAGES if lang != DEFAULT_LANGUAGE]


# -- (a) every id is translated, in every language, and nothing else ------------------------


def test_message_ids_are_literals_with_matching_placeholders():
    uses, errors = message_ids()
    assert len({u.message_id for u in uses}) > 100  # the extraction finds the bot's texts
    for use in uses:
        # N_() only marks (values come where it is translated); _() gets exactly the
        # placeholders of its id, or the text would go out with "{name}" in it.
        expected = placeholders(use.message_id if use.plural is None else use.plural)
        if use.plural is not None:
            expected |= {COUNT}  # filled in by ngettext unless given
            if not placeholders(use.message_id) <= expected:
                errors.append(f"{use.where}: {use.message_id[:60]!r} has names its plural lacks")
        if not use.marker and use.keywords is not None and use.keywords != expected:
            errors.append(
                f"{use.where}: {use.message_id[:60]!r} needs {sorted(expected)}, "
                f"gets {sorted(use.keywords)}"
            )
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("path", catalogue_files(), ids=lambda p: p.relative_to(LOCALES).as_posix())
def test_catalogue_files_are_valid_json(path: Path):
    read_catalogue(path)


def test_every_locale_folder_is_a_supported_language_and_back():
    folders = {p.name for p in LOCALES.iterdir() if p.is_dir()}
    assert folders == set(TRANSLATED), "a locale folder per language in LANGUAGES but English"


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalogues_are_complete_and_have_no_stale_entries(language: str):
    uses, _ = message_ids()
    used = {u.message_id: u.where for u in uses}
    entries = language_entries(language)
    missing = [f"{where}: {mid!r}" for mid, where in used.items() if mid not in entries]
    plural_ids = {u.message_id for u in uses if u.plural is not None}
    categories = plural_categories(language)
    for mid, (text, path) in entries.items():
        if mid not in used:
            continue
        if mid in plural_ids and (not isinstance(text, dict) or set(text) != categories):
            missing.append(f"{path.name}: {mid!r} needs the plural forms {sorted(categories)}")
        if mid not in plural_ids and not isinstance(text, str):
            missing.append(f"{path.name}: {mid!r} is no plural text: one translation")
    assert not missing, f"{len(missing)} texts without a {language} translation:\n" + "\n".join(
        missing
    )
    stale = [f"{path.name}: {mid!r}" for mid, (_, path) in entries.items() if mid not in used]
    assert not stale, f"{language} entries no code uses:\n" + "\n".join(stale)


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_placeholders_and_html(language: str):
    problems = []
    uses, _ = message_ids()
    plurals = {u.message_id: u.plural for u in uses if u.plural is not None}
    for message_id, (entry, path) in language_entries(language).items():
        if isinstance(entry, dict):
            # Every form names only what the English plural names (German's "eine Stimme"
            # may leave the count out); the "other" form names all of it.
            english = plurals.get(message_id, message_id)
            for category, text in entry.items():
                named = placeholders(text)
                if not named <= placeholders(english) | {COUNT} or (
                    category == "other" and named != placeholders(english)
                ):
                    problems.append(f"{path.name}: {message_id[:50]!r}/{category}: {named}")
                if tags(text) != tags(english) or text.count("\n") != english.count("\n"):
                    problems.append(f"{path.name}: {message_id[:50]!r}/{category}: tags, lines")
            continue
        text = entry
        if placeholders(text) != placeholders(message_id):
            problems.append(f"{path.name}: {message_id[:50]!r}: placeholders {placeholders(text)}")
        if tags(text) != tags(message_id):
            problems.append(f"{path.name}: {message_id[:50]!r}: tags {tags(text)}")
        if text.count("\n") != message_id.count("\n"):
            problems.append(f"{path.name}: {message_id[:50]!r}: line breaks differ")
    assert not problems, "\n".join(problems)


def test_the_extraction_rules(tmp_path: Path):
    source = tmp_path / "sample.py"
    source.write_text(
        "A = N_('Marked {x}')\n"
        "def f(update, name):\n"
        "    _ = translator_for(update)\n"
        "    _('Hello {name}', name=name)\n"
        "    _(A, x=1)\n"
        "    translator('de')('On the spot')\n"
        "    _(f'Hi {name}')\n"
        "    other('Not an id')\n"
        "    _.ngettext('{count} vote for {t}', '{count} votes for {t}', 2, t=name)\n"
        "    _.ngettext(A, 'Two', 2)\n"
    )
    uses, errors = message_ids([source])
    assert [(u.message_id, u.keywords, u.marker, u.plural) for u in uses] == [
        ("Marked {x}", frozenset(), True, None),
        ("Hello {name}", frozenset({"name"}), False, None),
        ("On the spot", frozenset(), False, None),
        ("{count} vote for {t}", frozenset({"t", "count"}), False, "{count} votes for {t}"),
    ]
    assert errors == [
        f"{_relative(source)}:7: an f-string as message id cannot be translated",
        f"{_relative(source)}:10: ngettext needs literal singular and plural ids",
    ]


def test_plural_forms_and_numbers_follow_each_languages_rules():
    english, german = translator("en"), translator("de")
    assert [english.ngettext("{count} vote", "{count} votes", n) for n in (0, 1, 2, 1200)] == [
        "0 votes",
        "1 vote",
        "2 votes",
        "1,200 votes",
    ]
    assert [german.ngettext("{count} vote", "{count} votes", n) for n in (1, 1.5, 1200)] == [
        "1 Stimme",
        "1,5 Stimmen",  # CLDR: a fraction is never "one", in either language
        "1.200 Stimmen",
    ]
    # A text without a German entry falls back to the English form for the count.
    assert german.ngettext("{count} apple", "{count} apples", 1) == "1 apple"
    assert german.ngettext("{count} apple for {x}", "{count} apples for {x}", 3, x="Al") == (
        "3 apples for Al"
    )
    assert [english.number(v) for v in (9742, 2.5, 0.01, 1234567.5)] == [
        "9,742",
        "2.5",
        "0.01",
        "1,234,567.5",
    ]
    assert [german.number(v) for v in (9742, 2.5, 0.01)] == ["9.742", "2,5", "0,01"]
    assert german.number(3.14159, 1) == "3,1" and english.number(1234.5, 0) == "1,234"
    assert plural_categories("en") == plural_categories("de") == {"one", "other"}


# -- (b) nothing with words reaches Telegram untranslated ---------------------------------


def test_no_untranslated_text_is_sent():
    found = untranslated_texts()
    assert not found, "texts sent without _():\n" + "\n".join(found)


def test_the_untranslated_text_rules(tmp_path: Path):
    source = tmp_path / "sample.py"
    source.write_text(
        "async def f(bot, message, query, k, label, _):\n"
        "    await bot.send_message(1, 'Hello there')\n"  # 2: words
        "    await message.reply_text(f'{k} posters')\n"  # 3: words in an f-string
        "    await message.reply_html('<b>' + _('Fine') + '</b>\\n\\n' + label)\n"
        "    await query.answer('★' if k else 'Saved')\n"  # 5: one branch has words
        "    InlineKeyboardButton(f'• {k} •', callback_data='set:k')\n"
        "    InlineKeyboardButton('✅ ' + label, callback_data='x')\n"
        "    await bot.send_photo(1, b'', caption='<b>Picks</b>')\n"  # 8: caption words
        "    await message.reply_text(_('Ok {k}', k=k), reply_markup='Not text')\n"
        "    await message.reply_text('\\n'.join(['Line', label]))\n"  # 10: joined words
    )
    found = [f.split(":")[1] for f in untranslated_texts([source])]
    assert found == ["2", "3", "5", "8", "10"]
    assert is_wordless("★5") and is_wordless("<b>•</b> 10 🎬") and not is_wordless("<b>Heat</b>")


# -- (c) the same interaction in German and in English, end to end ---------------------------

GERMAN = translator("de")
ENGLISH_CLIENTS = ["en", None, "fr"]  # English itself, no language given, an unsupported one


def shown(server, chat_id: int) -> list[str]:
    """The messages of a chat as the person sees them (HTML tags parsed away)."""
    return [r.result["text"] for r in server.calls("sendMessage", chat_id) if r.ok]


async def _ask(server, chat_id: int, command: str, args: str = "", **kw) -> str:
    """Send one command or text and wait for the reply (updates run concurrently, so one
    at a time keeps the replies in order)."""
    before = len(shown(server, chat_id))
    if command:
        server.push_command(chat_id, command, args, **kw)
    else:
        server.push_text(chat_id, args, **kw)
    await server.wait_for(lambda: len(shown(server, chat_id)) > before)
    return shown(server, chat_id)[before]


@pytest.mark.timeout(60)
async def test_german_clients_get_german_and_others_english(server, bot_config, reelpick_app):
    replies: dict[str | None, list[str]] = {}
    async with running(build_application(bot_config(), reelpick_app)):
        for chat, code in enumerate(["de", *ENGLISH_CLIENTS], start=USER):
            replies[code] = [
                await _ask(server, chat, "help", language_code=code),
                await _ask(server, chat, "", "xqzvwjk", language_code=code),  # no such title
                await _ask(server, chat, "settings", language_code=code),
                await _ask(server, chat, "forme", language_code=code),  # a profile command
            ]
        # A settings button pressed by a German client: a German toast and view.
        settings = server.calls("sendMessage", USER)[2].result
        assert buttons(settings)[0][1] == "set:k:3"
        query = server.push_callback(USER, settings["message_id"], "set:k:3", language_code="de")
        await server.wait_for(lambda: server.callback_queries[query]["answered"])
        await server.wait_for(lambda: server.calls("editMessageText", USER))
    for code in ENGLISH_CLIENTS:
        help_text, no_match, settings_text, forme = replies[code]
        assert help_text.startswith("Send me a movie title and I answer"), code
        assert no_match.startswith("I found no movie called “xqzvwjk”."), code
        assert settings_text.startswith("Settings for this chat\nPosters per album: 5"), code
        assert forme.startswith("I don't know your taste yet."), code
    help_text, no_match, settings_text, forme = replies["de"]
    assert help_text.startswith("Schick mir einen Filmtitel, und ich antworte")
    assert "/similar TITEL - Filme, die TITEL ähneln" in help_text
    assert no_match.startswith("Ich habe keinen Film namens „xqzvwjk“ gefunden.")
    assert settings_text.startswith("Einstellungen für diesen Chat\nPoster pro Album: 5")
    assert forme.startswith("Ich kenne deinen Geschmack noch nicht.")
    assert server.callback_queries[query]["answered"]["text"] == "3 Poster pro Album"
    edited = server.calls("editMessageText", USER)[-1]
    assert edited.result["text"].startswith("Einstellungen für diesen Chat\nPoster pro Album: 3")


@pytest.mark.timeout(60)
async def test_group_answers_use_the_askers_language(server, bot_config, reelpick_app):
    async with running(build_application(bot_config(), reelpick_app)):
        server.push_command(GROUP, "similar", "Heat", user_id=7, language_code="de")
        await server.wait_for(lambda: albums(server, GROUP))
        server.push_command(GROUP, "similar", "Heat", user_id=8, language_code="en")
        await server.wait_for(lambda: len(albums(server, GROUP)) == 2)
    german, english = albums(server, GROUP)
    assert german.result[0]["caption"].startswith("cosine-CF · ähnlich wie Heat (1995)")
    assert english.result[0]["caption"].startswith("cosine-CF · like Heat (1995)")
    german_header, english_header = texts(server, GROUP)
    assert "Action · Krimi · Thriller" in german_header
    assert "Action · Crime · Thriller" in english_header


@pytest.mark.timeout(60)
async def test_commands_and_descriptions_are_set_per_language(server, bot_config, reelpick_app):
    async with running(build_application(bot_config(), reelpick_app)) as application:
        bot = application.bot
        found = {}
        for code in (None, "de"):
            found[code] = {
                "default": await bot.get_my_commands(language_code=code),
                "private": await bot.get_my_commands(
                    BotCommandScopeAllPrivateChats(), language_code=code
                ),
                "groups": await bot.get_my_commands(
                    BotCommandScopeAllGroupChats(), language_code=code
                ),
                "description": (await bot.get_my_description(code)).description,
                "short": (await bot.get_my_short_description(code)).short_description,
            }
    english, german = found[None], found["de"]
    for scope in ("default", "private", "groups"):
        # The same commands in the same order, described in each language.
        assert [c.command for c in german[scope]] == [c.command for c in english[scope]]
    described = {c.command: c.description for c in german["groups"]}
    assert described["similar"] == "Ähnliche Filme zu einem Titel"
    assert described["rate"] == GERMAN("Rate movies, one tap each, for personal picks")
    assert {c.command: c.description for c in english["private"]}["similar"] == (
        "Movies similar to a title"
    )
    assert german["description"].startswith("Schick mir einen Filmtitel")
    assert english["description"].startswith("Send me a movie title")
    assert german["short"] != english["short"] and 0 < len(german["short"]) <= 120
    assert len(german["description"]) <= 512
    assert described["movienight"] == "Filmabend starten: /movienight TITEL; TITEL"
    assert {c.command: c.description for c in english["groups"]}["night_vote"] == (
        "Movie night: start the poll (opener or admin)"
    )


@pytest.mark.timeout(90)
async def test_a_movie_night_speaks_the_language_of_whoever_sets_it_off(
    server, bot_config, reelpick_app
):
    german, english = 7, 8  # the German opener, an English member of the same group
    server.chat(GROUP, "supergroup")
    async with running(build_application(bot_config(), reelpick_app)) as application:
        intro = await _ask(server, GROUP, "movienight", user_id=german, language_code="de")
        status = await _ask(server, GROUP, "night_status", user_id=german, language_code="de")
        status_en = await _ask(server, GROUP, "night_status", user_id=english, language_code="en")
        added = await _ask(
            server, GROUP, "night_suggest", "Heat; xqzvwjk", user_id=german, language_code="de"
        )
        question = await server.wait_for(
            lambda: [t for t in shown(server, GROUP) if "Meintest du" in t]
        )
        server.push_command(GROUP, "night_vote", user_id=german, language_code="de")
        await server.wait_for(lambda: server.calls("sendPoll", GROUP), timeout=30)
        refused = await _ask(server, GROUP, "night_close", user_id=english, language_code="en")
        # The deadline (no one to take a language from): the night's, its German opener's.
        feature = application.bot_data[SERVICES].features.get(MovieNight)
        before = len(shown(server, GROUP))
        await feature.lifecycle.close_night(application.bot, feature.store.current(GROUP).id)
        closed = shown(server, GROUP)[before]
    assert intro.startswith("🎬 Filmabend! Eröffnet von User7.\nSchlag Titel, die du magst")
    assert status.startswith(
        "🎬 Filmabend, eröffnet von User7: Titel werden gesammelt.\n\nVorschläge (0/20):\n"
        "noch keine: /night_suggest TITEL"
    )
    assert status_en.startswith("🎬 Movie night opened by User7: collecting titles.")
    assert added == (
        "Hinzugefügt: Heat (1995).\nKein Film passt zu „xqzvwjk“.\n"
        "Bitte wähl unten aus, was du gemeint hast (Buttons)."
    )
    assert question == [
        "Ich habe keinen Film namens „xqzvwjk“ gefunden. Meintest du einen von diesen?"
    ]
    poll = server.calls("sendPoll", GROUP)[-1].params
    assert poll["question"] == "🎬 Filmabend: Was schauen wir? Die Abstimmung endet in 10 min."
    assert refused.startswith("Sorry, only User7 (who opened this movie night)")
    # Nobody voted: a German announcement and button for the whole group.
    assert closed.startswith("🗳 Niemand hat abgestimmt, deshalb gibt es diesmal keinen Gewinner.")
    announcement = server.calls("sendMessage", GROUP)[-1]
    assert buttons(announcement.params)[0][0] == "🎲 Zufallsauswahl aus den Top 3"


@pytest.mark.timeout(60)
async def test_inline_answers_speak_the_language_of_whoever_typed(server, bot_config, reelpick_app):
    async with running(build_application(bot_config(), reelpick_app)):
        answers = {}
        for user, code in ((USER, "de"), (USER + 1, "en"), (USER, "de")):
            query = server.push_inline_query(user, "Heat 1995", language_code=code)
            answers.setdefault(code, []).append(
                await server.wait_for(lambda q=query: server.inline_queries[q]["answered"])
            )
    german, again = answers["de"]
    [english] = answers["en"]
    cards = {
        code: answer["results"][0]["input_message_content"]["message_text"]
        for code, answer in (("de", german), ("en", english), ("again", again))
    }
    assert cards["de"].startswith("<b>Heat (1995)</b>\n<b>cosine-CF</b> ähnlich: ")
    assert cards["en"].startswith("<b>Heat (1995)</b>\n<b>cosine-CF</b> similar: ")
    assert cards["again"] == cards["de"]  # the cached card, worded again in German
    # Telegram's shared cache does not know languages: a German answer stays with its user.
    assert german["is_personal"] is True and english["is_personal"] is False
