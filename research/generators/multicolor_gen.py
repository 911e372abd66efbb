"""Render a third scheme for results/assess: `multicolorcaptcha` 1.2.0 (PyPI), 256x144 colour, 4
characters of 36 (A-Z, 0-9), each glyph in a random face of the package's bundled fonts on its own
random colour, at its hardest level (5 lines and 70 circles), written as labelled PNGs for
`crnn data import`.

    pip install --no-deps --target /tmp/mcc multicolorcaptcha==1.2.0
    PYTHONPATH=/tmp/mcc python research/generators/multicolor_gen.py OUT_DIR COUNT SEED

The package draws from Python's global `random`, so it is reseeded per image: the same seed gives the
same labels and pixels.
"""

import random
import sys
from pathlib import Path

from multicolorcaptcha import CaptchaGenerator


def main() -> None:
    out, count, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    gen = CaptchaGenerator(0)  # 256x144
    for i in range(count):
        random.seed(seed * 1_000_003 + i)
        captcha = gen.gen_captcha_image(difficult_level=5, chars_mode="ascii", multicolor=True)
        captcha.image.convert("RGB").save(out / f"{captcha.characters}_{i}.png")


if __name__ == "__main__":
    main()
