"""Contact sheets: a sample of a split's images with each label under its image and, for a model's
config, the image as that model reads it (``model.crop`` cut off, greyscale where the model reads one
channel, resized to ``model.input_height``, by the model's own code). Only the sampled images are read from a mapped split, so a
sheet of a 100,000-image dataset costs what a sheet of 32 does."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from crnn.atomic import atomic_write_bytes
from crnn.data.store import SPLITS, UNLABELED, Dataset, load_dataset, load_unlabeled, load_unlabeled_truth
from crnn.errors import UserError

PAD = 6


def sample(data: Dataset, split: str, count: int, seed: int) -> tuple[np.ndarray, list[str | None], np.ndarray]:
    """``count`` images of ``split`` (sorted, seeded positions) as (N, H, W[, 3]) uint8, their labels, their positions."""
    if count < 1:
        raise UserError(f"--count {count}: must be at least 1")
    if split == UNLABELED:
        images = load_unlabeled(data, mmap=True)
        if images is None:
            raise UserError(f"{data.root}: has no unlabeled split (splits: {', '.join(data.manifest['splits'])})")
        truth = load_unlabeled_truth(data)
    elif split in SPLITS:
        images, truth = data.require_images(split).images, data.split(split).labels
    else:
        raise UserError(f"--split {split!r}: accepted: {', '.join((*SPLITS, UNLABELED))}")
    n = len(images)
    picked = np.sort(np.random.default_rng(seed).choice(n, size=min(count, n), replace=False))
    labels: list[str | None] = [truth[i] for i in picked] if truth is not None else [None] * len(picked)
    return np.asarray(images[picked]), labels, picked  # fancy indexing reads only these rows of a memmap


def render_sheet(
    images: np.ndarray, captions: list[str], views: np.ndarray | None = None, columns: int = 4, title: str = ""
) -> Image.Image:
    """A grid: each cell the image, the model's view of it below (if given), and its caption."""
    font = ImageFont.load_default(size=13)
    scale = max(1, 300 // max(images.shape[2], 1))  # a 150x40 CAPTCHA drawn at 2x, in whole pixels
    tiles = [_grown(im, scale) for im in images]
    vtiles = [_grown(v, scale) for v in views] if views is not None else []
    cell_w = max(t.width for t in tiles + vtiles) + 2 * PAD
    text_h = 18
    cell_h = tiles[0].height + (vtiles[0].height + PAD if vtiles else 0) + text_h + 2 * PAD
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    head = 22 if title else 0
    sheet = Image.new("RGB", (columns * cell_w, head + rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((PAD, 4), title, fill="black", font=font)
    for i, tile in enumerate(tiles):
        x, y = (i % columns) * cell_w + PAD, head + (i // columns) * cell_h + PAD
        sheet.paste(tile, (x, y))
        y += tile.height
        if vtiles:
            sheet.paste(vtiles[i], (x, y + PAD))
            y += vtiles[i].height + PAD
        draw.text((x, y + 2), captions[i], fill="black", font=font)
    return sheet


def _grown(image: np.ndarray, scale: int) -> Image.Image:
    """(H, W[, 3]) uint8 -> an RGB image ``scale`` times larger, each pixel a square (nothing smoothed away)."""
    return Image.fromarray(image).convert("RGB").resize((image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST)


def preview(
    data: str | Path,
    out: str | Path,
    split: str = "train",
    count: int = 16,
    seed: int = 0,
    model: Mapping[str, object] | None = None,
    title: str = "",
) -> Path:
    """Write a contact sheet PNG of ``count`` images of ``split`` (with ``model``'s view of each, if given)."""
    dataset = load_dataset(data, splits=(split,) if split in SPLITS else (), mmap=True)
    images, labels, picked = sample(dataset, split, count, seed)
    captions = [f"{label if label is not None else '?'}  #{i}" for label, i in zip(labels, picked, strict=True)]
    views = None
    if model is not None:
        from crnn.data.model_view import model_view  # noqa: PLC0415 - torch only with a model: a plain sheet stays quick

        views = model_view(images, model)
    if not title:
        h, w = images.shape[1:3]
        total = int(dataset.manifest["splits"].get(split, 0))
        title = f"{Path(data).name} [{split}] {w}x{h}, {len(picked)} of {total} images"
        if views is not None:
            title += f"; below each: what the model reads ({views.shape[2]}x{views.shape[1]})"
    sheet = render_sheet(images, captions, views, title=title)
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise UserError(f"--out {out}: a contact sheet is a .png file")
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    atomic_write_bytes(out, buf.getvalue())
    return out
