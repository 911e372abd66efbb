"""Synthetic CAPTCHAs, reproducible from a seed: the ``captcha`` package's ``ImageCaptcha`` (the reference
task), or ``crnn.data.family``'s wide family of styles (``--generator family``, for base models).

``captcha`` 0.7.1 draws every random choice (fonts, offsets, rotation, warp, colours, noise) from
the ``secrets`` module, which cannot be seeded. While rendering, we point the module's ``secrets``
name at an object with the same three methods backed by ``random.Random(seed, index)``, so the
same seed gives the same labels *and* the same pixels, whatever the number of worker processes.
"""

from __future__ import annotations

import multiprocessing as mp
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import captcha
import captcha.image
import numpy as np
from captcha.image import ImageCaptcha

from crnn.atomic import staging_dir
from crnn.data import family
from crnn.data.store import is_dataset, write_dataset
from crnn.errors import UserError
from crnn.progress import Progress


class SeededSecrets:
    """The part of the ``secrets`` API that ``captcha.image`` uses, from a seeded PRNG."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def randbelow(self, n: int) -> int:
        return self._rng.randrange(n)

    def randbits(self, k: int) -> int:
        return self._rng.getrandbits(k)

    def choice(self, seq):
        return self._rng.choice(seq)


@dataclass(frozen=True)
class SynthSpec:
    """What to render. Defaults are the reference task: 150x40, 5 characters of 62."""

    charset: str
    length: tuple[int, int] = (5, 5)
    width: int = 150
    height: int = 40
    seed: int = 0
    colour: bool = False  # keep the RGB image (H, W, 3); greyscale (H, W) otherwise
    generator: str = "captcha"  # captcha (ImageCaptcha) | family (crnn.data.family, for base models)

    def __post_init__(self) -> None:
        if self.width < 16 or self.height < 16:
            raise UserError(f"--width/--height {self.width}x{self.height}: both must be at least 16 pixels")
        if self.generator not in GENERATORS:
            raise UserError(f"--generator {self.generator!r}: accepted: {', '.join(GENERATORS)}")


def make_labels(spec: SynthSpec, count: int) -> list[str]:
    """Uniformly random labels; the label stream depends on the seed only."""
    rng = random.Random(f"labels:{spec.seed}")
    lo, hi = spec.length
    return ["".join(rng.choices(spec.charset, k=rng.randint(lo, hi))) for _ in range(count)]


_GENERATORS: dict[tuple[int, int], ImageCaptcha] = {}


@contextmanager
def seeded_secrets(key: str) -> Iterator[SeededSecrets]:
    """Within the block, ``captcha.image`` draws its random numbers from ``random.Random(key)``."""
    saved = captcha.image.secrets
    captcha.image.secrets = seeded = SeededSecrets(random.Random(key))
    try:
        yield seeded
    finally:
        captcha.image.secrets = saved


def render_with(gen: ImageCaptcha, spec: SynthSpec, label: str, index: int) -> np.ndarray:
    """Sample ``index`` of ``spec``'s stream drawn by ``gen`` (an ``ImageCaptcha`` of the spec's size,
    or a subclass that observes the drawing) as uint8 (H, W) greyscale or (H, W, 3) RGB."""
    with seeded_secrets(f"image:{spec.seed}:{index}"):
        image = gen.generate_image(label)
    return np.asarray(image.convert("RGB" if spec.colour else "L"), dtype=np.uint8)  # (H, W) or (H, W, 3)


def render(spec: SynthSpec, label: str, index: int) -> np.ndarray:
    """Render sample ``index`` of the stream as uint8 (H, W) greyscale or (H, W, 3) RGB."""
    if spec.generator == "family":
        return family.render_family(label, index, spec.seed, spec.width, spec.height, spec.colour)
    key = (spec.width, spec.height)
    if key not in _GENERATORS:  # fonts are loaded once per process
        _GENERATORS[key] = ImageCaptcha(width=spec.width, height=spec.height)
    return render_with(_GENERATORS[key], spec, label, index)


def _render_chunk(args: tuple[SynthSpec, int, list[str]]) -> np.ndarray:
    spec, start, labels = args
    return np.stack([render(spec, label, start + i) for i, label in enumerate(labels)])  # (n, H, W[, 3])


def render_many(
    spec: SynthSpec,
    labels: list[str],
    workers: int = 1,
    on_progress: Callable[[int], None] | None = None,
    chunk: int = 256,
) -> np.ndarray:
    """Render ``labels`` in ``workers`` processes; returns uint8 (N, H, W[, 3]) in label order."""
    out = np.empty((len(labels), spec.height, spec.width, *((3,) if spec.colour else ())), dtype=np.uint8)
    jobs = [(spec, s, labels[s : s + chunk]) for s in range(0, len(labels), chunk)]
    if workers <= 1:
        results = map(_render_chunk, jobs)
        pool = None
    else:
        pool = mp.get_context("spawn").Pool(workers)
        results = pool.imap(_render_chunk, jobs)
    try:
        for (_, start, part), images in zip(jobs, results, strict=True):
            out[start : start + len(part)] = images
            if on_progress:
                on_progress(len(part))
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    return out


def split_counts(count: int, fractions: tuple[float, float, float]) -> dict[str, int]:
    """90/5/5 by default; val and test are rounded, train takes the rest."""
    n_val = round(count * fractions[1])
    n_test = round(count * fractions[2])
    return {"train": count - n_val - n_test, "val": n_val, "test": n_test}


GENERATORS = {"captcha": "captcha.image.ImageCaptcha", "family": family.GENERATOR}  # --generator -> manifest name


def generator_info(generator: str = "captcha") -> dict:
    if generator == "family":
        return {"generator": family.GENERATOR, "family_version": family.VERSION}
    return {"generator": GENERATORS["captcha"], "captcha_version": captcha.__version__}


def synthesize(
    out: Path,
    spec: SynthSpec,
    count: int,
    fractions: tuple[float, float, float] = (0.9, 0.05, 0.05),
    workers: int = 1,
    overwrite: bool = False,
    progress: bool = True,
    unlabeled: int = 0,
) -> dict:
    """Generate ``count`` CAPTCHAs into dataset folder ``out``, and ``unlabeled`` more whose labels are
    dropped (kept only as ``unlabeled.truth.txt``, to measure pseudo-labels); returns the manifest."""
    if count < 1:
        raise UserError(f"--count {count}: must be at least 1")
    if unlabeled < 0:
        raise UserError(f"--unlabeled {unlabeled}: must be 0 or more")
    counts = split_counts(count, fractions)
    labels = make_labels(spec, count + unlabeled)  # the unlabelled ones are the stream's next samples
    with (
        staging_dir(out, overwrite, is_dataset, "dataset") as tmp,
        Progress(count + unlabeled, "rendering", enabled=progress) as bar,
    ):
        rendered = render_many(spec, labels, workers=workers, on_progress=bar.update)
        images, labels, extra, truth = rendered[:count], labels[:count], rendered[count:], labels[count:]
        bounds = np.cumsum([0, counts["train"], counts["val"], counts["test"]])
        splits = {
            name: (images[bounds[i] : bounds[i + 1]], labels[bounds[i] : bounds[i + 1]])
            for i, name in enumerate(("train", "val", "test"))
        }
        source = {
            # "count" is every sample stored under this seed: a fresh stream (train.data.synth_per_epoch) starts past it
            **generator_info(spec.generator),
            "seed": spec.seed,
            "count": count + unlabeled,
            "labelled": count,
            "fractions": list(fractions),
            "reproducible_pixels": True,
            "colour": spec.colour,
        }
        manifest = write_dataset(tmp, splits, spec.charset, spec.length, source, extra if unlabeled else None, truth)
    return manifest
