"""Reading image files for ``crnn predict`` and running a model on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from crnn.data.batches import to_input
from crnn.decode import decode
from crnn.errors import UserError
from crnn.train.checkpoint import LoadedModel


def read_images(paths: list[str], height: int, width: int, resize: bool = False, channels: int = 1) -> np.ndarray:
    """uint8 (N, H, W) greyscale, or (N, H, W, 3) RGB for ``channels=3``; another size is refused unless ``resize``."""
    out = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise UserError(f"{path}: no such image file")
        try:
            with Image.open(path) as im:
                grey = im.convert("RGB" if channels == 3 else "L")
                if grey.size != (width, height):
                    if not resize:
                        raise UserError(
                            f"{path}: size {grey.size[0]}x{grey.size[1]}, the model takes {width}x{height} "
                            "(pass --resize to resize it)"
                        )
                    grey = grey.resize((width, height), Image.Resampling.BILINEAR)
                out.append(np.asarray(grey, dtype=np.uint8))
        except (UnidentifiedImageError, OSError) as exc:
            raise UserError(f"{path}: unreadable or corrupt image ({type(exc).__name__})") from None
    return np.stack(out) if out else np.zeros((0, height, width, *((3,) if channels == 3 else ())), dtype=np.uint8)


@torch.no_grad()
def predict_arrays(
    loaded: LoadedModel, images: np.ndarray, beam_width: int, batch_size: int = 256
) -> tuple[list[str], list[float]]:
    preds: list[str] = []
    confs: list[float] = []
    for start in range(0, len(images), batch_size):
        x = to_input(images[start : start + batch_size], loaded.channels)  # (B, C, H, W)
        ids, conf = decode(loaded.model(x), beam_width)
        preds += [loaded.charset.decode(i) for i in ids]
        confs += conf
    return preds, confs
