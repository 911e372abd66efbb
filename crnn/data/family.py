"""A wide family of text CAPTCHAs, for pretraining a base model that any scheme can start from.

Not the ``captcha`` package's renderer and not wheezy's: an attacker who has a scheme's own generator
needs no labels, which is another question. Each image draws its own style from a seeded PRNG: one of
the fonts matplotlib ships (DejaVu Sans/Serif/Mono, STIX, Computer Modern; read from the installed
package, never downloaded), glyph size, per-glyph rotation, shear, vertical jitter and colour, spacing
from overlapping to spread out, a plain, gradient, speckled or dark background, noise lines, arcs and
dots, a sine warp and blur. Sample ``index`` of seed ``seed`` is a pure function of both.
"""

from __future__ import annotations

import functools
import math
import random
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

GENERATOR = "crnn.data.family"
VERSION = 1
FONT_FILES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf",
    "STIXGeneralBolIta.ttf",
    "cmr10.ttf",
    "cmb10.ttf",
    "cmss10.ttf",
    "cmtt10.ttf",
    "cmti10.ttf",
)


def font_paths() -> list[Path]:
    root = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return [root / name for name in FONT_FILES if (root / name).is_file()]


@functools.lru_cache(maxsize=512)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _colour(rng: random.Random, dark: bool) -> tuple[int, int, int]:
    lo, hi = (0, 120) if dark else (150, 255)
    return tuple(rng.randint(lo, hi) for _ in range(3))  # type: ignore[return-value]


def _background(rng: random.Random, width: int, height: int) -> tuple[Image.Image, bool]:
    """The canvas, and whether the text should be light (on a dark background)."""
    kind = rng.random()
    dark = kind < 0.12
    base = np.empty((height, width, 3), dtype=np.float32)
    a, b = np.array(_colour(rng, dark), np.float32), np.array(_colour(rng, dark), np.float32)
    if kind < 0.45:
        base[:] = a
    else:  # a gradient, left to right or top to bottom
        t = np.linspace(0, 1, width if rng.random() < 0.5 else height, dtype=np.float32)
        t = t[None, :, None] if len(t) == width else t[:, None, None]
        base[:] = a * (1 - t) + b * t
    if rng.random() < 0.4:  # speckle
        np_rng = np.random.default_rng(rng.getrandbits(32))
        base += np_rng.normal(0, rng.uniform(5, 30), base.shape).astype(np.float32)
    return Image.fromarray(base.clip(0, 255).astype(np.uint8)), dark


def _glyph(rng: random.Random, ch: str, font: ImageFont.FreeTypeFont, fill: tuple[int, int, int]) -> Image.Image:
    """One character on a transparent tile, rotated and sheared."""
    left, top, right, bottom = font.getbbox(ch)
    w, h = max(1, right - left), max(1, bottom - top)
    pad = max(w, h) // 2 + 2
    tile = Image.new("RGBA", (w + 2 * pad, h + 2 * pad), (0, 0, 0, 0))
    ImageDraw.Draw(tile).text((pad - left, pad - top), ch, font=font, fill=(*fill, 255))
    shear = rng.uniform(-0.35, 0.35) if rng.random() < 0.5 else 0.0
    if shear:
        tile = tile.transform(
            tile.size, Image.Transform.AFFINE, (1, shear, -shear * tile.size[1] / 2, 0, 1, 0), Image.Resampling.BILINEAR
        )
    tile = tile.rotate(rng.uniform(-30, 30) if rng.random() < 0.8 else 0.0, resample=Image.Resampling.BILINEAR, expand=True)
    box = tile.getbbox()
    return tile.crop(box) if box else tile


def _noise(rng: random.Random, draw: ImageDraw.ImageDraw, width: int, height: int, dark: bool, ink: tuple[int, int, int]) -> None:
    for _ in range(rng.choice((0, 0, 1, 1, 2, 3, 4))):  # lines and arcs across the text
        fill = ink if rng.random() < 0.5 else _colour(rng, not dark)
        thick = rng.randint(1, max(1, height // 15))
        if rng.random() < 0.5:
            start = (rng.uniform(0, width * 0.3), rng.uniform(0, height))
            draw.line([start, (rng.uniform(width * 0.7, width), rng.uniform(0, height))], fill=fill, width=thick)
        else:
            x0, y0 = rng.uniform(-width * 0.2, width * 0.5), rng.uniform(-height, height * 0.5)
            box = [x0, y0, x0 + rng.uniform(width * 0.5, width * 1.2), y0 + rng.uniform(height * 0.8, height * 2.5)]
            start = rng.uniform(0, 360)
            draw.arc(box, start, start + rng.uniform(60, 200), fill=fill, width=thick)
    for _ in range(rng.choice((0, 0, 30, 100, 300))):  # dots
        x, y, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0.5, max(1.0, height / 40))
        draw.ellipse([x - r, y - r, x + r, y + r], fill=_colour(rng, not dark) if rng.random() < 0.5 else ink)


def _warp(image: Image.Image, rng: random.Random) -> Image.Image:
    """A sine displacement of the columns up and down (a wavy baseline)."""
    arr = np.asarray(image)
    h, w = arr.shape[:2]
    amp, period, phase = rng.uniform(1, h * 0.08), rng.uniform(w * 0.5, w * 2), rng.uniform(0, 2 * math.pi)
    shift = (amp * np.sin(2 * math.pi * np.arange(w) / period + phase)).round().astype(int)  # (W,)
    rows = (np.arange(h)[:, None] - shift[None, :]) % h  # (H, W)
    return Image.fromarray(arr[rows, np.arange(w)[None, :]])


def render_family(label: str, index: int, seed: int, width: int, height: int, colour: bool) -> np.ndarray:
    """Sample ``index`` of seed ``seed``: uint8 (H, W) greyscale or (H, W, 3) RGB."""
    rng = random.Random(f"family:{seed}:{index}")
    fonts = font_paths()
    canvas, dark = _background(rng, width, height)
    same_font, same_colour = rng.random() < 0.6, rng.random() < 0.6
    font_path = str(rng.choice(fonts))
    ink = _colour(rng, not dark)
    size = int(height * rng.uniform(0.45, 0.9))
    glyphs = []
    for ch in label:
        path = font_path if same_font else str(rng.choice(fonts))
        glyph = _glyph(
            rng, ch, _font(path, max(8, int(size * rng.uniform(0.85, 1.15)))), ink if same_colour else _colour(rng, not dark)
        )
        glyphs.append(glyph)
    spacing = rng.uniform(-0.25, 0.3)  # overlapping to spread out, as a share of the glyph width
    total = sum(g.size[0] for g in glyphs) * (1 + spacing) - glyphs[-1].size[0] * spacing
    scale = min(1.0, (width * 0.95) / max(total, 1), (height * 0.98) / max(g.size[1] for g in glyphs))
    if scale < 1.0:
        glyphs = [
            g.resize((max(1, int(g.size[0] * scale)), max(1, int(g.size[1] * scale))), Image.Resampling.BILINEAR) for g in glyphs
        ]
        total *= scale
    x = rng.uniform(0, max(0.0, width - total))
    for g in glyphs:
        y = (height - g.size[1]) / 2 + rng.uniform(-0.15, 0.15) * height
        y = min(max(0.0, y), max(0.0, height - g.size[1]))
        canvas.paste(g, (int(x), int(y)), g)
        x += g.size[0] * (1 + spacing)
    _noise(rng, ImageDraw.Draw(canvas), width, height, dark, ink)
    if rng.random() < 0.4:
        canvas = _warp(canvas, rng)
    if rng.random() < 0.4:
        canvas = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    return np.asarray(canvas.convert("RGB" if colour else "L"), dtype=np.uint8)
