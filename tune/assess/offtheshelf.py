"""Off-the-shelf attackers: a free OCR that needs no labels, scored on the test split as a run is.

    ddddocr   the ``ddddocr`` package's own CAPTCHA model (its weights ship inside the wheel: nothing is
              downloaded), told the scheme's characters (its ``set_ranges``), in both cases where the scheme
              has one: it answers mostly in lower case. On a scheme of one case its answers are put in that
              case; a scheme of both cases is scored as it answers, and ``exact_acc_nocase`` gives the figure
              ignoring case.

Its row is one point at 0 labels on the curve: does a free tool already break the scheme? It is optional
(``pip install 'crnn-tune[ddddocr]'``) and never the default.
"""

from __future__ import annotations

import importlib.metadata
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image

from crnn.errors import UserError

try:
    import ddddocr
except ImportError:  # the optional extra; check_available says how to install it
    ddddocr = None

OFF_THE_SHELF = ("ddddocr",)
LATENCY_IMAGES = 200  # test images timed one at a time for the solve latency, at most (each once)


def check_available(name: str) -> None:
    """Refuse an off-the-shelf attacker whose package is not installed, before Ray starts."""
    if ddddocr is None:
        raise UserError(f"--attackers {name}: needs the optional package; install it with: pip install 'crnn-tune[{name}]'")


def describe(name: str) -> str:
    """The report's phrase for where the attacker starts."""
    return f"`{name}` {importlib.metadata.version(name)}, off the shelf: no labels, no training"


def case_rule(charset: str) -> str:
    """How a lower-case answer is read against the scheme: ``upper``, ``lower`` or ``as is`` (both cases)."""
    upper, lower = any(c.isupper() for c in charset), any(c.islower() for c in charset)
    if upper and not lower:
        return "upper"
    return "as is" if upper else "lower"


@dataclass
class Reader:
    """ddddocr restricted to the scheme's characters (both cases for a scheme of one), answers put in its case."""

    charset: str

    def __post_init__(self) -> None:
        self.rule = case_rule(self.charset)
        self.ocr = ddddocr.DdddOcr(show_ad=False)
        allowed = self.charset if self.rule == "as is" else self.charset.lower() + self.charset.upper()
        self.ocr.set_ranges("".join(sorted(set(allowed))))

    def read(self, image: np.ndarray) -> str:
        """Its answer in the scheme's case. ddddocr gives a confidence only in a mode that costs twice the
        time (a list of every class's probability per step), so this attacker answers without one."""
        return {"upper": str.upper, "lower": str.lower, "as is": str}[self.rule](self.ocr.classification(Image.fromarray(image)))


def reads(charset: str) -> str:
    """What the report says the attacker reads, and how its answers are cased for this scheme."""
    rule = case_rule(charset)
    cased = {"upper": "put in upper case, as the scheme is", "lower": "put in lower case, as the scheme is"}
    how = cased.get(rule, "scored in the case it answers (mostly lower; see exact ignoring case)")
    return f"the image as ddddocr reads it (height 64, greyscale), its answers {how}"


def read_split(reader: Reader, images: np.ndarray) -> list[str]:
    return [reader.read(image) for image in images]


def latency(reader: Reader, images: np.ndarray) -> dict:
    """Solve time per CAPTCHA at batch 1 (its preprocessing + model + decoding), p50/p95, and images/s."""
    reader.read(images[0])  # warm-up
    times = []
    for image in images[:LATENCY_IMAGES]:
        start = time.perf_counter()
        reader.read(image)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "p50": float(np.percentile(times, 50)),
        "p95": float(np.percentile(times, 95)),
        "batch1_device": "cpu",
        "threads": None,  # ddddocr's onnxruntime session picks its own
        "throughput_per_s_batch256": 1000 / float(np.mean(times)),  # it reads one image at a time
        "beam_width": None,
    }
