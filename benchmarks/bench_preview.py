"""`crnn data preview` on a large dataset: the sheet reads only its sampled rows of the mapped split.

    python benchmarks/bench_preview.py [--images 100000] [--count 16]

Builds a dataset of ``--images`` real 150x40 CAPTCHAs (a few thousand rendered, tiled to the size;
what is timed does not depend on the pixels), then times the preview as shipped and a naive one
that loads the whole split into memory before it samples, each from a cold page cache where the
OS lets it drop one (else warm, said in the output).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from crnn.data.sheet import preview, render_sheet
from crnn.data.store import load_dataset, write_dataset
from crnn.data.synth import SynthSpec, synthesize


def drop_cache(path: Path) -> bool:
    """Ask the kernel to forget the file's cached pages (posix_fadvise DONTNEED); False where it cannot."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        return True
    except (AttributeError, OSError):
        return False


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=100_000)
    p.add_argument("--count", type=int, default=16)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed"
        synthesize(seed, SynthSpec(charset="0123456789"), 2000, (1.0, 0.0, 0.0), workers=1, progress=False)
        small = load_dataset(seed)
        reps = -(-args.images // 2000)
        images = np.tile(small.split("train").images, (reps, 1, 1))[: args.images]
        labels = (small.split("train").labels * reps)[: args.images]
        big = Path(tmp) / "big"
        empty = (images[:0], [])
        big.mkdir()
        write_dataset(big, {"train": (images, labels), "val": empty, "test": empty}, small.charset.chars, (5, 5), {})
        del images
        cold = drop_cache(big / "train.npy")
        start = time.perf_counter()
        preview(big, Path(tmp) / "sheet.png", count=args.count)
        shipped = time.perf_counter() - start
        drop_cache(big / "train.npy")
        start = time.perf_counter()
        data = load_dataset(big)  # the naive way: the whole split in memory, checksum verified
        whole = data.split("train")
        picked = np.sort(np.random.default_rng(0).choice(len(whole.images), args.count, replace=False))
        render_sheet(whole.images[picked], [whole.labels[i] for i in picked]).save(Path(tmp) / "naive.png")
        naive = time.perf_counter() - start
        size_mb = (big / "train.npy").stat().st_size / 1e6
    cache = "cold" if cold else "warm"
    print(f"{args.images} images ({size_mb:.0f} MB), sheet of {args.count}, {cache} page cache")
    print(f"  crnn data preview (mapped, sampled rows only): {shipped:.3f} s")
    print(f"  naive (load the split, then sample):           {naive:.3f} s  ({naive / shipped:.0f}x slower)")


if __name__ == "__main__":
    main()
