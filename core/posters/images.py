"""Checks on downloaded or supplied image bytes: size, sides, pixel count, decodability."""

from __future__ import annotations

import io
import warnings

from PIL import Image

# A poster or a photo of one is never this long on a side, nor this elongated; a 1 x 40,000,000
# picture passes any pixel cap yet costs hundreds of MB to decode and scale.
MAX_SIDE = 16_000
MAX_ASPECT = 10.0


class BadImage(ValueError):
    """Image bytes that must not be stored or shown (the message says why)."""


def check_image(
    data: bytes,
    max_bytes: int,
    max_pixels: int,
    *,
    max_side: int = MAX_SIDE,
    max_aspect: float = MAX_ASPECT,
) -> tuple[int, int]:
    """Raise :class:`BadImage` unless ``data`` is a whole, decodable, reasonably sized image.

    The sides, their ratio and the pixel count are read from the header before anything is
    decoded, so a decompression bomb (a small file declaring a huge image) is refused
    without allocating it. Every "too large" message names a limit.
    """
    if len(data) > max_bytes:
        raise BadImage(f"{len(data):,} bytes is over the {max_bytes:,}-byte limit")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                _check_shape(width, height, max_pixels, max_side, max_aspect)
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
    except BadImage:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise BadImage(f"over the pixel limit, a decompression bomb ({exc})") from None
    except Exception as exc:
        # Pillow raises OSError, SyntaxError, ValueError, ... for broken files.
        raise BadImage(f"not a decodable image ({type(exc).__name__}: {exc})") from None
    return width, height


def _check_shape(width: int, height: int, max_pixels: int, max_side: int, aspect: float) -> None:
    if width * height > max_pixels:
        raise BadImage(f"{width}x{height} is over the {max_pixels:,}-pixel limit")
    if max(width, height) > max_side:
        raise BadImage(f"{width}x{height} is over the {max_side:,}-pixel limit for a side")
    if min(width, height) < 1 or max(width, height) > aspect * min(width, height):
        raise BadImage(f"{width}x{height} is over the {aspect:g}:1 limit for its aspect ratio")
