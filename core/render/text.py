"""Text for people: fonts (DejaVu Sans where installed), word wrapping to a pixel width, and
shortening that cuts at a word with an ellipsis, never inside one ("(Léon) (199")."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from PIL import ImageFont

FONT_FILES = {
    True: ["DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"],
    False: ["DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"],
}


@lru_cache(maxsize=64)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans where installed, else Pillow's built-in scalable font."""
    for name in FONT_FILES[bold]:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


ELLIPSIS = "…"

Face = ImageFont.FreeTypeFont | ImageFont.ImageFont


def shorten(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters: whole words and an ellipsis when cut (a
    single word longer than ``width`` is the only thing ever cut inside)."""
    return _shorten(" ".join(text.split()), lambda t: len(t) <= width)


def fit_pixels(text: str, face: Face, width: int) -> str:
    """``text`` in at most ``width`` pixels of ``face``, cut at a word with an ellipsis."""
    return _shorten(" ".join(text.split()), lambda t: face.getlength(t) <= width)


def _shorten(text: str, fits: Callable[[str], bool]) -> str:
    if fits(text):
        return text
    words = text.split(" ")
    for n in range(len(words) - 1, 0, -1):
        candidate = " ".join(words[:n]).rstrip(",;:-–([{/") + ELLIPSIS
        if fits(candidate):
            return candidate
    cut = text  # one word is already too long: the only case cut inside a word
    while cut and not fits(cut + ELLIPSIS):
        cut = cut[:-1]
    return cut + ELLIPSIS if cut else ""


def wrap(text: str, face: Face, width: int, max_lines: int | None = None) -> list[str]:
    """Greedy word wrap to ``width`` pixels; words longer than a line are split. With
    ``max_lines``, the last line ends at a word with an ellipsis when the text goes on."""
    lines = _wrap(text, face, width)
    if max_lines is not None and len(lines) > max_lines:
        rest = " ".join(lines[max_lines - 1 :])
        lines = [*lines[: max_lines - 1], fit_pixels(rest, face, width)]
    return lines


def _wrap(text: str, face: Face, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        while face.getlength(word) > width:  # a single over-long word
            cut = max(
                1, next(i for i in range(len(word), 0, -1) if face.getlength(word[:i]) <= width)
            )
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:cut])
            word = word[cut:]
        candidate = f"{line} {word}".strip()
        if face.getlength(candidate) <= width:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines
