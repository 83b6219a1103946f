"""Contact sheets drawn from the real ml-latest-small, cosine-CF and the shared posters."""

from __future__ import annotations

import argparse
import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from reelpick.app import Reelpick
from reelpick.cli.show import cmd_show
from reelpick.posters import PosterStore
from reelpick.render.contact_sheet import (
    CAPTION_H,
    CELL_H,
    CELL_W,
    GAP,
    HEADER_H,
    LABEL_W,
    MARGIN,
    QUERY_GAP,
    contact_sheet_png,
)
from reelpick.types import Neighbour, PluginAnswer
from tests.support.fixtures import ML_SMALL, POSTERS, write_config

TOY_STORY = 1


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Reelpick:
    folder = tmp_path_factory.mktemp("sheet")
    config = write_config(
        folder,
        f'[data]\nsource = "{ML_SMALL}"\n[cache]\ndir = "{folder / "cache"}"\n'
        f'[plugins]\nenabled = ["cosine-cf"]\n[posters]\ndir = "{POSTERS}"\n',
    )
    return Reelpick.open(config)


def sheet(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.convert("RGB")


def cell_matches_poster(image: Image.Image, x: int, y: int, movie_id: int) -> bool:
    """The cell at (x, y) shows this movie's real poster (not a placeholder, not another)."""
    return cell_shows(image, x, y, (POSTERS / f"{movie_id}.jpg").read_bytes())


def cell_shows(image: Image.Image, x: int, y: int, data: bytes) -> bool:
    """The cell at (x, y) shows the image ``data``, fitted to the cell."""
    with Image.open(io.BytesIO(data)) as poster:
        expected = np.asarray(ImageOps.fit(poster.convert("RGB"), (CELL_W, CELL_H)), dtype=float)
    shown = np.asarray(image.crop((x, y, x + CELL_W, y + CELL_H)), dtype=float)
    return float(np.abs(shown - expected).mean()) < 8


def placeholder_of(app, movie_id: int) -> bytes:
    return PosterStore(app.config, app.dataset).placeholder(movie_id).data


def test_one_row_per_plugin_with_query_then_neighbours(app):
    answer = app.similar(TOY_STORY, 5)[0]
    image = sheet(contact_sheet_png(app, TOY_STORY, k=5))
    x_query = MARGIN + LABEL_W
    y = HEADER_H + GAP
    assert cell_matches_poster(image, x_query, y, TOY_STORY)
    x_first = image.width - MARGIN - 5 * CELL_W - 4 * GAP
    first = answer.neighbours[0].movie_id
    # Toy Story's nearest neighbour (Toy Story 2) has a poster in the shared folder: the
    # cell must show that poster, so the check below is never skipped.
    assert (POSTERS / f"{first}.jpg").exists()
    assert cell_matches_poster(image, x_first, y, first)
    assert not cell_matches_poster(image, x_first, y, TOY_STORY)


def test_rows_grow_with_plugins_and_show_problems(app):
    real = app.similar(TOY_STORY, 3)[0]
    answers = [
        real,
        PluginAnswer("other", "Other plugin", neighbours=[Neighbour(2, 0.5), Neighbour(3, 0.4)]),
        PluginAnswer("vgg16-poster", "VGG16 posters", no_answer="no poster on file"),
        PluginAnswer("broken", "Broken", error="ValueError: boom"),
    ]
    one = sheet(contact_sheet_png(app, TOY_STORY, k=3, answers=answers[:1]))
    four = sheet(contact_sheet_png(app, TOY_STORY, k=3, answers=answers))
    assert one.width == four.width
    assert four.height - one.height == 3 * (CELL_H + CAPTION_H + 2 * GAP)
    # The query poster leads every row.
    for row in range(4):
        y = HEADER_H + row * (CELL_H + CAPTION_H + 2 * GAP) + GAP
        assert cell_matches_poster(four, MARGIN + LABEL_W, y, TOY_STORY)


def test_movies_without_posters_get_placeholders(app):
    not_in_folder = next(m for m in app.dataset.movies.index if not (POSTERS / f"{m}.jpg").exists())
    answers = [PluginAnswer("x", "X", neighbours=[Neighbour(not_in_folder, 0.9)])]
    image = sheet(contact_sheet_png(app, TOY_STORY, k=1, answers=answers))
    x_first = image.width - MARGIN - CELL_W
    y = HEADER_H + GAP
    assert cell_shows(image, x_first, y, placeholder_of(app, not_in_folder))
    assert not cell_shows(image, x_first, y, placeholder_of(app, TOY_STORY))
    assert cell_matches_poster(image, MARGIN + LABEL_W, y, TOY_STORY)  # the query stays real


def run_show(app, tmp_path, capsys, title: str, k: int = 5, output=None):
    out = output or tmp_path / "sheet.png"
    args = argparse.Namespace(title=title, k=k, output=str(out), plugin=["cosine-cf"])
    code = cmd_show(app.config, args)
    return code, out, capsys.readouterr()


def test_show_writes_a_png(app, tmp_path, capsys):
    code, out, printed = run_show(app, tmp_path, capsys, "toy story 1995", k=4)
    assert code == 0 and "Toy Story (1995)" in printed.out
    image = sheet(out.read_bytes())
    assert image.width == 2 * MARGIN + LABEL_W + CELL_W + QUERY_GAP + 4 * CELL_W + 3 * GAP


def test_show_explains_bad_input(app, tmp_path, capsys):
    code, _, printed = run_show(app, tmp_path, capsys, "qqqqxxxxzzzz")
    assert code == 3 and "No movie matches" in printed.err
    code, _, printed = run_show(app, tmp_path, capsys, "Toy Story", k=0)
    assert code == 2 and "-k must be" in printed.err
    code, _, printed = run_show(app, tmp_path, capsys, "Toy Story", output=tmp_path / "no/x.png")
    assert code == 1 and "is not a folder" in printed.err
