"""Posters "re-photographed": the altered copies the photo identification must see through.

Shared by the photo tests and bench/bench_photo.py. The first five variants change one thing
each (smaller, cropped, a little rotated, badly compressed, darker); the last three are what a
phone actually hands over: all five at once ("combined"), a poster shot at an angle
("perspective") and one under a lamp ("glare"). Every change is deterministic: the same
poster always gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

BACKGROUND = (128, 128, 128)  # what shows around a rotated or slanted poster


def jpeg(image: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def _scaled(image: Image.Image, factor: float = 0.6) -> Image.Image:
    w, h = image.size
    return image.resize((max(1, round(w * factor)), max(1, round(h * factor))), Image.LANCZOS)


def _cropped(image: Image.Image) -> Image.Image:
    # 10 % of each dimension gone, unevenly, as a hand-held framing would cut it.
    w, h = image.size
    return image.crop((round(0.04 * w), round(0.06 * h), round(0.94 * w), round(0.96 * h)))


def _cropped_each_side(image: Image.Image, share: float = 0.05) -> Image.Image:
    w, h = image.size
    return image.crop(
        (round(share * w), round(share * h), round((1 - share) * w), round((1 - share) * h))
    )


def _rotated(image: Image.Image) -> Image.Image:
    return image.convert("RGB").rotate(3, resample=Image.BICUBIC, expand=True, fillcolor=BACKGROUND)


def _darker(image: Image.Image) -> Image.Image:
    return ImageEnhance.Brightness(image.convert("RGB")).enhance(0.8)


def _combined(image: Image.Image) -> Image.Image:
    """All five at once: scaled to 60 %, 5 % cut off each side, turned 3° (the corners show
    the background), 20 % darker; saved at JPEG quality 40."""
    return _darker(_rotated(_cropped_each_side(_scaled(image))))


def perspective_coefficients(
    corners: list[tuple[float, float]], size: tuple[int, int]
) -> list[float]:
    """PIL's PERSPECTIVE data mapping the output picture onto the source: ``corners`` are
    where the source's top-left, top-right, bottom-right and bottom-left corners land."""
    w, h = size
    source = [(0, 0), (w, 0), (w, h), (0, h)]
    rows, values = [], []
    for (x, y), (u, v) in zip(corners, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        values += [u, v]
    return np.linalg.solve(np.array(rows, float), np.array(values, float)).tolist()


def _perspective(image: Image.Image) -> Image.Image:
    """Shot from below and a little to the left: the top edge 12 % narrower, the right edge
    shorter than the left."""
    w, h = image.size
    corners = [(0.07 * w, 0.02 * h), (0.88 * w, 0.06 * h), (0.98 * w, 0.97 * h), (0.0, h)]
    return image.convert("RGB").transform(
        (w, h),
        Image.PERSPECTIVE,
        perspective_coefficients(corners, (w, h)),
        resample=Image.BICUBIC,
        fillcolor=BACKGROUND,
    )


def _glare(image: Image.Image) -> Image.Image:
    """A lamp's reflection: a soft bright ellipse over the upper right of the poster, up to
    70 % white at its centre."""
    rgb = image.convert("RGB")
    w, h = rgb.size
    mask = Image.new("L", (w, h), 0)
    box = (0.38 * w, 0.12 * h, 0.92 * w, 0.42 * h)
    ImageDraw.Draw(mask).ellipse(box, fill=round(0.7 * 255))
    mask = mask.filter(ImageFilter.GaussianBlur(0.06 * w))
    return Image.composite(Image.new("RGB", (w, h), (255, 255, 255)), rgb, mask)


Change = Callable[[Image.Image], Image.Image]

VARIANTS: dict[str, tuple[Change, int]] = {
    # name -> (change, JPEG quality of the result)
    "scaled 60%": (_scaled, 85),
    "cropped 10%": (_cropped, 85),
    "rotated 3°": (_rotated, 85),
    "JPEG quality 40": (lambda image: image, 40),
    "brightness -20%": (_darker, 85),
    "combined": (_combined, 40),
    "perspective": (_perspective, 85),
    "glare": (_glare, 85),
}
SINGLE = tuple(list(VARIANTS)[:5])  # one change each
PHONE = ("combined", "perspective", "glare")  # as phones take them


def variants(data: bytes, names: tuple[str, ...] | None = None) -> dict[str, bytes]:
    """Altered copies of the poster ``data`` (every variant, or ``names``), as JPEG bytes."""
    with Image.open(io.BytesIO(data)) as original:
        original.load()
        return {
            name: jpeg(change(original), quality)
            for name, (change, quality) in VARIANTS.items()
            if names is None or name in names
        }
