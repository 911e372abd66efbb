"""Margins a scheme (almost) never draws in: edge rows and columns outside the band where its
characters sit. A model that reads them spends compute on nothing and, once it downscales the image
to a model input height, reads the characters smaller than it needs to; ``model.crop`` cuts them off.

    crop = quiet_margins(train_images)   # (top, bottom, left, right) in pixels

Each pixel's *activity* is how far it strays from the scheme's background (the per-pixel median of
the images), on average over the images. The band is the rows (columns) whose mean activity rises
above the quietest one's by at least ``BAND`` of what the busiest one's does: a noise curve or a speck
that crosses a margin in a few images does not widen it, and noise spread over the whole image
lifts every row alike. The band is padded by ``PAD`` of its size for characters that reach a little
further, but never by more than ``KEEP`` pixels into edges that are the same in every image.
"""

from __future__ import annotations

import math

import numpy as np

SAMPLE = 1000  # images compared: enough to see where any scheme ever draws
BACKGROUND_SAMPLE = 200  # images whose per-pixel median is the background
TOLERANCE = 12  # grey levels a background pixel may vary by (JPEG noise), of 255
CHUNK = 64  # images compared at once
BAND = 0.15  # a row or column is in the band when its activity over the quietest one's is this share of the busiest one's
PAD = 0.10  # the band is widened by this share of its size on each side ...
KEEP = 2  # ... but by at most this many pixels into edges no image draws in
MIN_SHARE = 0.10  # an axis is cropped only where its margins together are at least this share of it


def _activity(images: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(activity, varies), both (H, W): how far each pixel strays from the background on average over
    the first ``n`` images (grey levels, the largest channel's), and whether it ever strays by more
    than ``TOLERANCE``."""
    background = np.median(np.asarray(images[: min(n, BACKGROUND_SAMPLE)]), axis=0).astype(np.int16)  # (H, W[, 3])
    total = np.zeros(background.shape[:2], np.int64)  # (H, W)
    varies = np.zeros(background.shape[:2], bool)  # (H, W)
    for start in range(0, n, CHUNK):  # a block at a time: a memory-mapped split is never read whole
        block = np.asarray(images[start : min(n, start + CHUNK)]).astype(np.int16)  # (B, H, W[, 3])
        off = np.abs(block - background)
        off = off.reshape(*off.shape[:3], -1).max(axis=3)  # (B, H, W)
        total += off.sum(axis=0)
        varies |= (off > TOLERANCE).any(axis=0)
    return total / n, varies


def _band(profile: np.ndarray, varies: np.ndarray) -> tuple[int, int]:
    """(before, after): how much of one axis to cut, given its activity profile and which of its
    lines ever vary; (0, 0) where the cut would be under ``MIN_SHARE`` of it."""
    size = len(profile)
    floor = profile.min()
    busy = np.flatnonzero(profile - floor >= BAND * (profile.max() - floor))
    lo, hi = int(busy[0]), int(busy[-1])
    pad = math.ceil(PAD * (hi - lo + 1))
    moving = np.flatnonzero(varies)  # the pad stops short of edges no image draws in; the band itself is kept
    lo = max(lo - pad, min(lo, int(moving[0]) - KEEP), 0)
    hi = min(hi + pad, max(hi, int(moving[-1]) + KEEP), size - 1)
    before, after = lo, size - 1 - hi
    return (before, after) if before + after >= MIN_SHARE * size else (0, 0)


def quiet_margins(images: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right): the edges of ``images`` (N, H, W) or (N, H, W, 3) uint8 outside the
    band where the scheme draws (judged on the first ``SAMPLE``); (0, 0, 0, 0) where nothing worth
    cutting is quiet."""
    n = min(len(images), SAMPLE)
    if n < 2:
        return (0, 0, 0, 0)
    activity, varies = _activity(images, n)  # (H, W), (H, W)
    if not varies.any():
        return (0, 0, 0, 0)
    rows = _band(activity.mean(axis=1), varies.any(axis=1))
    cols = _band(activity.mean(axis=0), varies.any(axis=0))
    return (*rows, *cols)
