"""Render a fifth scheme for results/assess: `kaptcha` 1.0.1 (PyPI), 260x125 colour, 4 characters of
55 (letters and digits less 0, i, I, j, l, q, Q), each in a random colour and one of kaptcha's 4 fonts at
a random size and place (neighbours overlap), with 20 coloured rectangles, ellipses and lines drawn over
the text, written as labelled PNGs for `crnn data import`.

    pip install --no-deps --target /tmp/kap kaptcha==1.0.1
    PYTHONPATH=/tmp/kap python research/generators/kaptcha_gen.py OUT_DIR COUNT SEED

260x125 is kaptcha's own painter size: at its `Captcha` default of 200x80 it asks Pillow for chips of
negative height, which Pillow 10 refuses. kaptcha draws from Python's global `random`, so it is
reseeded per image: the same seed gives the same labels and pixels.
"""

import random
import sys
from pathlib import Path

from kaptcha.captcha import Captcha


def main() -> None:
    out, count, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    maker = Captcha(width=260, height=125, imageObj=True)
    for i in range(count):
        random.seed(seed * 1_000_003 + i)
        label, image = maker.letter_digit(4)
        image.convert("RGB").save(out / f"{label}_{i}.png")


if __name__ == "__main__":
    main()
