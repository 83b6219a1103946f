"""Checks on downloaded or supplied image bytes: size, pixel count, decodability."""

from __future__ import annotations

import io
import warnings

from PIL import Image


class BadImage(ValueError):
    """Image bytes that must not be stored or shown (the message says why)."""


def check_image(data: bytes, max_bytes: int, max_pixels: int) -> tuple[int, int]:
    """Raise :class:`BadImage` unless ``data`` is a whole, decodable, reasonably sized image.

    The pixel count is read from the header before anything is decoded, so a decompression
    bomb (a small file declaring a huge image) is refused without allocating it.
    """
    if len(data) > max_bytes:
        raise BadImage(f"{len(data):,} bytes is over the {max_bytes:,}-byte limit")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise BadImage(f"{width}x{height} is over the {max_pixels:,}-pixel limit")
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
