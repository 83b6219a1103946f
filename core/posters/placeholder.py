"""Placeholder posters: a clean 2:3 card with the title, year and genres, drawn with Pillow.

Marked ``placeholder=True`` by the store so that image models never treat it as content.
"""

from __future__ import annotations

import colorsys
import io
from functools import lru_cache

from PIL import Image, ImageDraw

from ..render.text import font, wrap

PLACEHOLDER_SIZE = (400, 600)  # 2:3, like a poster

# Hues (0-360) per MovieLens genre; the card blends the movie's first two genres.
GENRE_HUES = {
    "Action": 5,
    "Adventure": 28,
    "Animation": 45,
    "Children": 95,
    "Comedy": 50,
    "Crime": 215,
    "Documentary": 170,
    "Drama": 265,
    "Fantasy": 285,
    "Film-Noir": 230,
    "Horror": 350,
    "IMAX": 195,
    "Musical": 320,
    "Mystery": 250,
    "Romance": 335,
    "Sci-Fi": 190,
    "Thriller": 200,
    "War": 75,
    "Western": 22,
}


def genre_colours(genres: tuple[str, ...]) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Top and bottom colours of a placeholder: dark enough for white text, hue from genres."""
    hues = [GENRE_HUES[g] for g in genres if g in GENRE_HUES] or [210]
    first = hues[0]
    second = hues[1] if len(hues) > 1 else (first + 25) % 360
    saturation = 0.55 if genres else 0.12

    def rgb(hue: float, lightness: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hls_to_rgb(hue / 360, lightness, saturation)
        return int(r * 255), int(g * 255), int(b * 255)

    return rgb(first, 0.36), rgb(second, 0.16)


@lru_cache(maxsize=512)
def render_placeholder(title: str, year: int | None, genres: tuple[str, ...]) -> bytes:
    """A clean 2:3 card (PNG): title wrapped large, year below, genres at the foot."""
    width, height = PLACEHOLDER_SIZE
    top, bottom = genre_colours(genres)
    # A vertical gradient, built as a 1-pixel-wide strip and stretched.
    strip = Image.new("RGB", (1, height))
    for y in range(height):
        t = y / (height - 1)
        strip.putpixel(
            (0, y), tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        )
    image = strip.resize((width, height))
    draw = ImageDraw.Draw(image)
    margin = 30
    inner = width - 2 * margin
    draw.rectangle(
        (12, 12, width - 13, height - 13), outline=(255, 255, 255, 90), width=2
    )  # a thin frame

    genre_face = font(20)
    genre_lines = wrap("  ·  ".join(genres) if genres else "genre unknown", genre_face, inner)[:3]
    genre_top = height - 50 - 26 * len(genre_lines)

    # MovieLens keeps alternative titles in parentheses: "Porco Rosso (Crimson Pig) (...)".
    main, paren, alternative = title.partition(" (")
    alt_face = font(20)
    alt_lines = wrap(paren.strip() + alternative, alt_face, inner)[:3] if paren else []
    # The largest title size for which title, alternative title and year fit above the genres.
    room = genre_top - 20 - 90 - len(alt_lines) * 25 - (42 if year is not None else 0)
    for size in (46, 42, 38, 34, 30, 27, 24, 21, 18, 16):
        face = font(size, bold=True)
        lines = wrap(main, face, inner)
        if len(lines) * int(size * 1.2) <= room:
            break
    lines = lines[: max(1, room // int(size * 1.2))]
    y = 90
    for line in lines:
        draw.text((margin, y), line, font=face, fill=(255, 255, 255))
        y += int(size * 1.2)
    for line in alt_lines:
        draw.text((margin, y + 4), line, font=alt_face, fill=(225, 225, 225))
        y += 25
    if year is not None:
        y += 14
        draw.text((margin, y), str(year), font=font(28), fill=(235, 235, 235))
    accent = tuple(min(255, c + 120) for c in top)
    draw.line((margin, 70, margin + 60, 70), fill=accent, width=5)

    y = genre_top
    for line in genre_lines:
        draw.text((margin, y), line, font=genre_face, fill=(225, 225, 225))
        y += 26
    draw.text((margin, height - 44), "no poster available", font=font(15), fill=(190, 190, 190))

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
