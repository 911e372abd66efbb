"""Render a large-image scheme of this project's own making (not the `captcha` package's, not wheezy's,
not the base model's family): 256x144 colour, 4 characters of 32 (no 0/O, 1/I), Pillow's bundled Aileron
face (a face the base model's renderer never draws) at 56-72 px, each glyph rotated up to 25 degrees in
its own dark colour, on a blotched gradient under heavy clutter: 8 lines, 3 arcs and 300 dots. Written
as labelled PNGs (LABEL_i.png) for `crnn data import`; `--unlabeled` writes the same images without labels.

    python research/generators/large_gen.py OUT_DIR COUNT SEED
"""

import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
W, H = 256, 144


def render(label: str, rng: random.Random) -> Image.Image:
    top, bottom = (tuple(rng.randint(150, 255) for _ in range(3)) for _ in range(2))
    image = Image.new("RGB", (W, H))
    draw = ImageDraw.Draw(image)
    for y in range(H):  # a vertical gradient
        t = y / (H - 1)
        draw.line([(0, y), (W, y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    for _ in range(12):  # soft blotches
        x, y, r = rng.randint(0, W), rng.randint(0, H), rng.randint(10, 40)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(rng.randint(140, 230) for _ in range(3)))
    x = rng.randint(6, 24)
    for ch in label:
        font = ImageFont.load_default(size=rng.randint(56, 72))
        glyph = Image.new("RGBA", (80, 96), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((8, 4), ch, font=font, fill=(*(rng.randint(0, 110) for _ in range(3)), 255))
        glyph = glyph.rotate(rng.uniform(-25, 25), resample=Image.Resampling.BICUBIC, expand=False)
        image.paste(glyph, (x, rng.randint(10, H - 96)), glyph)
        x += rng.randint(48, 58)
    for _ in range(8):
        pts = [(rng.randint(0, W), rng.randint(0, H)) for _ in range(2)]
        draw.line(pts, fill=tuple(rng.randint(0, 170) for _ in range(3)), width=rng.randint(1, 3))
    for _ in range(3):
        x0, y0 = rng.randint(-40, W // 2), rng.randint(-40, H // 2)
        box = [x0, y0, x0 + rng.randint(80, 220), y0 + rng.randint(60, 160)]
        draw.arc(box, rng.randint(0, 180), rng.randint(180, 360), fill=tuple(rng.randint(0, 150) for _ in range(3)), width=2)
    for _ in range(300):
        px, py = rng.randint(0, W - 1), rng.randint(0, H - 1)
        draw.point((px, py), fill=tuple(rng.randint(0, 255) for _ in range(3)))
    return image


def main() -> None:
    out, count, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        rng = random.Random(seed * 1_000_003 + i)
        label = "".join(rng.choices(CHARS, k=4))
        render(label, rng).save(out / f"{label}_{i}.png")


if __name__ == "__main__":
    main()
