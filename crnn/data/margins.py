"""Margins a scheme never draws in: rows and columns at the image's edges that hold the same pixels in
every image. A model that reads them spends compute on nothing and, once it downscales the image to a
model input height, reads the characters smaller than it needs to; ``model.crop`` cuts them off.

    crop = constant_margins(train_images)   # (top, bottom, left, right) in pixels
"""

from __future__ import annotations

import numpy as np

SAMPLE = 1000  # images compared: enough to see where any scheme ever draws
TOLERANCE = 12  # grey levels a margin pixel may vary by (JPEG noise), of 255
CHUNK = 64  # images compared at once
KEEP = 2  # pixels of each margin kept next to the part that changes, for an image that draws a little further
MIN_SHARE = 0.10  # an axis is cropped only where its margins together are at least this share of it


def constant_margins(images: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right): how many pixels of each edge are the same in all of ``images``
    (N, H, W) or (N, H, W, 3) uint8 (the first ``SAMPLE``), less ``KEEP``; (0, 0, 0, 0) where nothing
    worth cutting is constant."""
    n = min(len(images), SAMPLE)
    if n < 2:
        return (0, 0, 0, 0)
    first = np.asarray(images[0]).astype(np.int16)  # (H, W[, 3])
    spread = np.zeros(first.shape, np.int16)  # how far each pixel ever strays from the first image's
    for start in range(1, n, CHUNK):  # a block at a time: a memory-mapped split is never read whole
        block = np.asarray(images[start : min(n, start + CHUNK)]).astype(np.int16)  # (B, H, W[, 3])
        spread = np.maximum(spread, np.abs(block - first).max(axis=0))
    varies = spread.reshape(*spread.shape[:2], -1).max(axis=2) > TOLERANCE  # (H, W)
    rows, cols = np.flatnonzero(varies.any(axis=1)), np.flatnonzero(varies.any(axis=0))
    if not len(rows):
        return (0, 0, 0, 0)
    height, width = varies.shape

    def cut(lo: int, hi: int, size: int) -> tuple[int, int]:  # lo..hi: the first and last index that varies
        before, after = max(0, lo - KEEP), max(0, size - 1 - hi - KEEP)
        return (int(before), int(after)) if before + after >= MIN_SHARE * size else (0, 0)

    return (*cut(rows[0], rows[-1], height), *cut(cols[0], cols[-1], width))
