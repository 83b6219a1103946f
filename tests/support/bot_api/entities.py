"""Message text and its entities: what clients attach (commands, mentions), and the HTML and
MarkdownV2 parse modes with Telegram's errors for bad markup."""

from __future__ import annotations

import html
import re
from typing import Any

from tests.support.bot_api.state import bad_request

HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
}
MARKDOWN_V2_RESERVED = "_*[]()~`>#+-=|{}.!"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def client_entities(text: str) -> list[dict]:
    """Entities Telegram's clients attach: a leading /command and @mentions."""
    entities = []
    command = re.match(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{5,32})?", text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command.group())})
    for mention in re.finditer(r"(?<![\w@/])@[A-Za-z0-9_]{5,32}", text):
        offset = utf16_len(text[: mention.start()])
        entities.append({"type": "mention", "offset": offset, "length": utf16_len(mention.group())})
    return entities


_TAG = re.compile(
    r"<(/?)([a-zA-Z][\w-]*)((?:\s+[\w-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*>"
)
_ATTRIBUTE = re.compile(r"([\w-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+)))?")
_ENTITY_REF = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


def parse_text(
    text: Any, parse_mode: Any, what: str, limit: int | None = None
) -> tuple[str, list[dict]]:
    """Text as the user will see it and its entities; Telegram's errors for bad markup."""
    text = "" if text is None else str(text)
    mode = (parse_mode or "").lower()
    if mode == "html":
        plain, entities = _parse_html(text)
    elif mode == "markdownv2":
        plain, entities = _parse_markdown_v2(text)
    elif mode in ("", "markdown"):
        plain, entities = text, []
    else:
        raise bad_request("unsupported parse_mode")
    if limit is not None and utf16_len(plain) > limit:
        raise bad_request(f"message {what} is too long")
    return plain, entities


def _parse_html(text: str) -> tuple[str, list[dict]]:
    out: list[str] = []
    entities: list[dict] = []
    stack: list[tuple[str, int, dict]] = []  # (tag, utf-16 offset, entity extras)
    pos = 0

    def offset_now() -> int:
        return utf16_len("".join(out))

    def byte_offset(i: int) -> int:
        return len(text[:i].encode())

    while pos < len(text):
        char = text[pos]
        if char == "<":
            match = _TAG.match(text, pos)
            if match is None:
                raise bad_request(
                    f'can\'t parse entities: Unsupported start tag "" at byte offset {byte_offset(pos)}'
                )
            closing, tag, attributes = match.group(1), match.group(2).lower(), match.group(3)
            if closing:
                if not stack or stack[-1][0] != tag:
                    raise bad_request(
                        f"can't parse entities: Unexpected end tag at byte offset {byte_offset(pos)}"
                    )
                open_tag, start, extra = stack.pop()
                length = offset_now() - start
                if length:
                    entities.append(
                        {"offset": start, "length": length, "type": HTML_TAGS[open_tag], **extra}
                    )
            else:
                if tag not in HTML_TAGS:
                    raise bad_request(
                        f'can\'t parse entities: Unsupported start tag "{tag}" at byte offset {byte_offset(pos)}'
                    )
                extra: dict = {}
                attrs = {
                    m.group(1).lower(): html.unescape(m.group(2) or m.group(3) or m.group(4) or "")
                    for m in _ATTRIBUTE.finditer(attributes)
                }
                if tag == "a":
                    href = attrs.get("href", "")
                    if not href:
                        raise bad_request(
                            "can't parse entities: Can't find end tag corresponding to start tag \"a\""
                        )
                    extra["url"] = href
                if tag == "span" and attrs.get("class") != "tg-spoiler":
                    raise bad_request(
                        f'can\'t parse entities: Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(pos)}'
                    )
                stack.append((tag, offset_now(), extra))
            pos = match.end()
        elif char == ">":
            # Telegram accepts a bare '>' in HTML text.
            out.append(char)
            pos += 1
        elif char == "&":
            match = _ENTITY_REF.match(text, pos)
            if match:
                out.append(html.unescape(match.group()))
                pos = match.end()
            else:
                out.append(char)
                pos += 1
        else:
            out.append(char)
            pos += 1
    if stack:
        raise bad_request(
            f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1][0]}\""
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _parse_markdown_v2(text: str) -> tuple[str, list[dict]]:
    """Enough of MarkdownV2 to reject what Telegram rejects: unescaped reserved characters."""
    out: list[str] = []
    open_marks: dict[str, int] = {}
    entities: list[dict] = []
    kinds = {"*": "bold", "_": "italic", "~": "strikethrough", "`": "code"}
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
            continue
        if char in kinds:
            if char in open_marks:
                start = open_marks.pop(char)
                entities.append(
                    {
                        "offset": start,
                        "length": utf16_len("".join(out)) - start,
                        "type": kinds[char],
                    }
                )
            else:
                open_marks[char] = utf16_len("".join(out))
            pos += 1
            continue
        if char in MARKDOWN_V2_RESERVED:
            raise bad_request(
                f"can't parse entities: Character '{char}' is reserved and must be escaped "
                "with the preceding '\\'"
            )
        out.append(char)
        pos += 1
    if open_marks:
        mark, start = next(iter(open_marks.items()))
        raise bad_request(
            f"can't parse entities: Can't find end of {kinds[mark].capitalize()} entity at byte "
            f"offset {start}"
        )
    return "".join(out), entities
