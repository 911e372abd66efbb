"""A CAPTCHA scheme that is not the `captcha` package's: PIL's own font, colour, 200x75 images,
4-6 characters rotated up to 30 degrees, and noise lines. Written as labelled PNG files, the way a
researcher brings their own scheme to `crnn data import`."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

CHARSET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def render(label: str, rng: random.Random, width: int = 200, height: int = 75) -> Image.Image:
    bg = tuple(rng.randint(200, 255) for _ in range(3))
    image = Image.new("RGB", (width, height), bg)
    font = ImageFont.load_default(size=34)
    x = rng.randint(4, 14)
    for ch in label:
        glyph = Image.new("RGBA", (44, 52), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((6, 4), ch, font=font, fill=tuple(rng.randint(0, 120) for _ in range(3)))
        glyph = glyph.rotate(rng.uniform(-30, 30), resample=Image.Resampling.BICUBIC, expand=False)
        image.paste(glyph, (x, rng.randint(2, height - 56)), glyph)
        x += rng.randint(26, 32)
    draw = ImageDraw.Draw(image)
    for _ in range(3):  # noise lines across the text
        pts = [(rng.randint(0, width), rng.randint(0, height)) for _ in range(2)]
        draw.line(pts, fill=tuple(rng.randint(0, 160) for _ in range(3)), width=rng.randint(1, 2))
    return image


def write_scheme(out: Path, count: int, seed: int = 0) -> Path:
    """``count`` labelled PNGs named LABEL_i.png."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        label = "".join(rng.choices(CHARSET, k=rng.randint(4, 6)))
        render(label, rng).save(out / f"{label}_{i}.png")
    return out
