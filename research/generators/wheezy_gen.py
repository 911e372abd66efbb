"""Render the second scheme of results/assess: `wheezy.captcha` 3.2.2 (PyPI), 200x75, 5 characters of
36, blue warped and rotated glyphs on a beige background with a curve and noise, written as labelled
PNGs for `crnn data import`.

    pip install --no-deps --target /tmp/wheezy wheezy.captcha==3.2.2
    PYTHONPATH=/tmp/wheezy python research/generators/wheezy_gen.py OUT_DIR COUNT SEED

Fonts are DejaVu Sans and DejaVu Serif Bold from the system (Debian's fonts-dejavu-core).
wheezy draws from Python's global `random`, so it is reseeded per image: the same seed gives the
same labels and pixels.
"""

import random
import sys
from pathlib import Path

from wheezy.captcha.image import background, captcha, curve, noise, offset, rotate, smooth, text, warp

CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
FONTS = ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf"]


def main() -> None:
    out, count, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    draw = captcha(
        width=200, height=75,
        drawings=[
            background(color="#EEEECC"),
            text(
                fonts=FONTS, font_sizes=(34, 38, 42), drawings=[warp(), rotate(), offset()], color="#5C87B2",
                squeeze_factor=0.9,
            ),
            curve(), noise(), smooth(),
        ],
    )  # fmt: skip
    for i in range(count):
        label = "".join(rng.choices(CHARS, k=5))
        random.seed(seed * 1_000_003 + i)
        draw(label).convert("RGB").save(out / f"{label}_{i}.png")


if __name__ == "__main__":
    main()
