"""Contact sheets: a title and its most similar movies, one row per plugin, as one PNG.

``reelpick show "TITLE" -k 5 -o out.png`` draws the article's figures through
:func:`contact_sheet_png` (the bot sends poster albums instead, see ``reelpick.bot.media``).
"""

from __future__ import annotations

import io
import logging
from concurrent.futures import ThreadPoolExecutor

from PIL import Image, ImageDraw, ImageOps

from ..app import Reelpick
from ..posters import Poster, PosterSource, PosterStore
from ..profiles.export import app_movies
from ..types import PluginAnswer
from .text import fit_pixels, font, wrap

log = logging.getLogger(__name__)

CELL_W, CELL_H = 160, 240  # poster area of one cell (2:3)
CAPTION_H = 62  # title (two lines) and year under each poster
GAP = 14  # between cells
LABEL_W = 170  # the plugin-name column
MARGIN = 28
HEADER_H = 92
FOOTER_H = 24
QUERY_GAP = 34  # extra space between the query poster and the results

BACKGROUND = (250, 250, 248)
INK = (30, 30, 34)
MUTED = (110, 110, 118)
ACCENT = (214, 92, 38)
MAX_K = 12


def contact_sheet(
    app: Reelpick,
    movie_id: int,
    k: int = 5,
    plugins: list[str] | None = None,
    store: PosterStore | None = None,
    answers: list[PluginAnswer] | None = None,
) -> Image.Image:
    """Draw the sheet for ``movie_id``: per plugin, the query poster then its ``k`` neighbours.

    ``answers`` may be passed when the caller already asked the plugins.
    """
    if answers is None:
        answers = app.similar(movie_id, k, plugins)
    own_store = store is None
    store = store or PosterStore(app.config, app.dataset)
    try:
        wanted = {movie_id} | {n.movie_id for a in answers for n in a.neighbours[:k]}
        workers = max(1, int(app.config.section("posters")["concurrency"]))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            posters = dict(zip(wanted, pool.map(store.get, wanted), strict=True))
    finally:
        if own_store:
            store.close()

    rows = max(1, len(answers))
    width = MARGIN * 2 + LABEL_W + CELL_W + QUERY_GAP + k * CELL_W + (k - 1) * GAP
    row_h = CELL_H + CAPTION_H + GAP * 2
    footer = f"reelpick  ·  {len(app.dataset.movies):,} movies  ·  #rank  ·  similarity score"
    if any(p.source == PosterSource.TMDB for p in posters.values()):
        from ..posters.tmdb import TMDB_ATTRIBUTION

        footer += f"  ·  Posters: TMDB. {TMDB_ATTRIBUTION}"
    footer_lines = wrap(footer, font(12), width - 2 * MARGIN)
    height = HEADER_H + rows * row_h + FOOTER_H + 17 * (len(footer_lines) - 1) + MARGIN // 2
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)

    draw.text((MARGIN, MARGIN - 4), "Similar to", font=font(18), fill=MUTED)
    draw.text(
        (MARGIN, MARGIN + 18),
        _fit(app.movie_title(movie_id), 30, width - 2 * MARGIN),
        font=font(30, bold=True),
        fill=INK,
    )
    x_query = MARGIN + LABEL_W
    x_results = x_query + CELL_W + QUERY_GAP

    if not answers:
        draw.text((x_query, HEADER_H + 20), "No plugin is enabled.", font=font(18), fill=MUTED)
    for index, answer in enumerate(answers):
        top = HEADER_H + index * row_h
        if index:
            draw.line((MARGIN, top, width - MARGIN, top), fill=(222, 222, 218), width=1)
        y = top + GAP
        face = font(19, bold=True)
        label_lines = wrap(answer.label, face, LABEL_W - 16, max_lines=3)
        for n, line in enumerate(label_lines):
            draw.text((MARGIN, y + 4 + n * 24), line, font=face, fill=INK)
        draw.text((MARGIN, y + 8 + len(label_lines) * 24), answer.plugin, font=font(13), fill=MUTED)
        _cell(sheet, draw, app, posters[movie_id], movie_id, x_query, y, caption="query")
        arrow_y = y + CELL_H // 2
        draw.line((x_query + CELL_W + 8, arrow_y, x_results - 10, arrow_y), fill=ACCENT, width=3)
        draw.polygon(
            [
                (x_results - 6, arrow_y),
                (x_results - 14, arrow_y - 6),
                (x_results - 14, arrow_y + 6),
            ],
            fill=ACCENT,
        )
        message = _no_results(answer)
        if message:
            lines = wrap(message, font(16), width - x_results - MARGIN, max_lines=4)
            for n, line in enumerate(lines):
                draw.text(
                    (x_results + 6, arrow_y - 12 * len(lines) + n * 24 + 12 - 12),
                    line,
                    font=font(16),
                    fill=MUTED,
                )
            continue
        for rank, neighbour in enumerate(answer.neighbours[:k], 1):
            x = x_results + (rank - 1) * (CELL_W + GAP)
            _cell(
                sheet,
                draw,
                app,
                posters[neighbour.movie_id],
                neighbour.movie_id,
                x,
                y,
                caption=f"#{rank}  ·  {neighbour.score:.2f}",
            )

    for n, line in enumerate(footer_lines):
        draw.text((MARGIN, HEADER_H + rows * row_h + 4 + n * 17), line, font=font(12), fill=MUTED)
    return sheet


def contact_sheet_png(
    app: Reelpick,
    movie_id: int,
    k: int = 5,
    plugins: list[str] | None = None,
    store: PosterStore | None = None,
    answers: list[PluginAnswer] | None = None,
) -> bytes:
    """The sheet as PNG bytes, ready to send (e.g. as a Telegram photo or document)."""
    out = io.BytesIO()
    contact_sheet(app, movie_id, k, plugins, store, answers).save(out, format="PNG", optimize=True)
    return out.getvalue()


def _cell(
    sheet: Image.Image,
    draw: ImageDraw.ImageDraw,
    app: Reelpick,
    poster: Poster,
    movie_id: int,
    x: int,
    y: int,
    caption: str,
) -> None:
    """One poster at (x, y) with its title (up to two lines) and year below."""
    try:
        with Image.open(io.BytesIO(poster.data)) as image:
            thumb = ImageOps.fit(image.convert("RGB"), (CELL_W, CELL_H), Image.Resampling.LANCZOS)
    except OSError:  # PosterStore validated it; this is only belt and braces
        thumb = Image.new("RGB", (CELL_W, CELL_H), (200, 200, 200))
    sheet.paste(thumb, (x, y))
    draw.rectangle((x - 1, y - 1, x + CELL_W, y + CELL_H), outline=(205, 205, 200))
    movie = app_movies(app)(movie_id)  # dataset or catalogue; None for an id gone from both
    name, year = (movie.title, movie.year) if movie is not None else (f"Movie {movie_id}", None)
    face = font(13, bold=True)
    lines = wrap(name, face, CELL_W, max_lines=2)
    ty = y + CELL_H + 6
    for line in lines:
        draw.text((x, ty), line, font=face, fill=INK)
        ty += 17
    draw.text(
        (x, ty + 1),
        f"{year}   {caption}" if year is not None else caption,
        font=font(12),
        fill=MUTED,
    )


def _fit(text: str, size: int, width: int, bold: bool = True) -> str:
    """``text`` cut at a word with an ellipsis to fit ``width`` pixels."""
    return fit_pixels(text, font(size, bold=bold), width)


def _no_results(answer: PluginAnswer) -> str | None:
    if answer.error:
        return f"{answer.label} had a problem with this movie ({answer.error})"
    if answer.no_answer:
        return answer.no_answer
    if not answer.neighbours:
        return "no similar movies found"
    return None
