"""Render a fourth scheme for results/assess: `claptcha` 0.3.3 (PyPI), 200x80, 5 characters of 36,
each glyph warped by its own random quadrilateral, a warped strike-through line and white noise,
in Roboto (the `font-roboto` package from PyPI: faces the base model never saw), written as labelled
PNGs for `crnn data import`.

    pip install --no-deps --target /tmp/clap claptcha==0.3.3 font-roboto==0.0.1
    PYTHONPATH=/tmp/clap python research/generators/claptcha_gen.py OUT_DIR COUNT SEED

claptcha 0.3.3 predates Pillow 10, which dropped ``FreeTypeFont.getsize``; it is given back here from
``getbbox``. claptcha draws from Python's global `random`, so it is reseeded per image: the same seed
gives the same labels and pixels.
"""

import random
import sys
from pathlib import Path

import font_roboto
from claptcha import Claptcha
from PIL import ImageFont

CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
FACES = ["Roboto-Regular.ttf", "Roboto-Medium.ttf", "Roboto-Bold.ttf"]


def _getsize(font: ImageFont.FreeTypeFont, text: str) -> tuple[int, int]:
    left, top, right, bottom = font.getbbox(text)
    return right, bottom


def main() -> None:
    out, count, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    ImageFont.FreeTypeFont.getsize = _getsize
    files = Path(font_roboto.__file__).parent / "files"
    rng = random.Random(seed)
    for i in range(count):
        label = "".join(rng.choices(CHARS, k=5))
        random.seed(seed * 1_000_003 + i)
        face = str(files / random.choice(FACES))
        _, image = Claptcha(label, face, size=(200, 80), margin=(20, 20), noise=0.3).image
        image.convert("RGB").save(out / f"{label}_{i}.png")


if __name__ == "__main__":
    main()
