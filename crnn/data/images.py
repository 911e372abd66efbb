"""Decoding an image file that anyone could have written: a bad file is a ``UserError`` naming it, never
a traceback, and a file that claims a huge size (a "decompression bomb": 99 bytes that say 20000x20000)
is refused from its header, before a pixel is decoded."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from crnn.errors import UserError

MAX_SIDE = 8192  # pixels; a CAPTCHA is a few hundred wide: anything past this is not one
MAX_PIXELS = 4096 * 4096


def check_size(width: int, height: int, name: object) -> None:
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise UserError(
            f"{name}: claims {width}x{height} pixels; images up to {MAX_SIDE} a side and {MAX_PIXELS:,} pixels are read"
        )


def read_image(path: Path, mode: str) -> np.ndarray:
    """uint8 (H, W) for mode ``L`` or (H, W, 3) for ``RGB``, or a UserError that names the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                check_size(*im.size, path)
                im.load()
                return np.asarray(im.convert(mode), dtype=np.uint8)
    except UserError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UserError(
            f"{path}: its header claims far more pixels than it holds (a decompression bomb); images up to "
            f"{MAX_SIDE} a side and {MAX_PIXELS:,} pixels are read"
        ) from None
    except FileNotFoundError:
        raise UserError(f"{path}: no such image file") from None
    except Exception as exc:  # Pillow raises many types (OSError, SyntaxError, struct.error, ...) for a bad file
        raise UserError(f"{path}: unreadable or corrupt image ({type(exc).__name__})") from None
