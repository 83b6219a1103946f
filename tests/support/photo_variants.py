"""Posters "re-photographed": the altered copies the photo identification must see through.

Shared by the photo tests and bench/bench_photo.py. Each variant changes one thing, as a
phone photo of a poster would: smaller, cropped, a little rotated, badly compressed, darker.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image, ImageEnhance


def jpeg(image: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def _scaled(image: Image.Image) -> Image.Image:
    w, h = image.size
    return image.resize((max(1, round(w * 0.6)), max(1, round(h * 0.6))), Image.LANCZOS)


def _cropped(image: Image.Image) -> Image.Image:
    # 10 % of each dimension gone, unevenly, as a hand-held framing would cut it.
    w, h = image.size
    return image.crop((round(0.04 * w), round(0.06 * h), round(0.94 * w), round(0.96 * h)))


def _rotated(image: Image.Image) -> Image.Image:
    return image.convert("RGB").rotate(
        3, resample=Image.BICUBIC, expand=True, fillcolor=(128, 128, 128)
    )


def _darker(image: Image.Image) -> Image.Image:
    return ImageEnhance.Brightness(image.convert("RGB")).enhance(0.8)


VARIANTS: dict[str, tuple[Callable[[Image.Image], Image.Image], int]] = {
    # name -> (change, JPEG quality of the result)
    "scaled 60%": (_scaled, 85),
    "cropped 10%": (_cropped, 85),
    "rotated 3°": (_rotated, 85),
    "JPEG quality 40": (lambda image: image, 40),
    "brightness -20%": (_darker, 85),
}


def variants(data: bytes) -> dict[str, bytes]:
    """The five altered copies of the poster ``data``, as JPEG bytes, by variant name."""
    with Image.open(io.BytesIO(data)) as original:
        original.load()
        return {
            name: jpeg(change(original), quality) for name, (change, quality) in VARIANTS.items()
        }
