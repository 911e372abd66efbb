"""Fresh synthetic images: is generation or training the bottleneck?

    python benchmarks/bench_fresh.py [--images 1536] [--width 150 --height 40 --length 5] [--threads 2]

Measures, in one run, on the same model (cpu-fast) and batch:
  - rendering alone: images/s of the captcha generator in one process;
  - training on a stored pool (in-memory ``Batches``): the ceiling;
  - training on fresh images rendered in the training process (``synth_workers=0``): the naive way;
  - training on fresh images rendered ahead in one worker process (``synth_workers=1``).
"""

from __future__ import annotations

import argparse
import time

import torch

from crnn.charset import Charset, resolve_charset
from crnn.config import PRESETS
from crnn.data.batches import Batches, Sampling
from crnn.data.fresh import FreshBatches, FreshJob, FreshStream, render_fresh
from crnn.data.synth import SynthSpec
from crnn.model import build_model
from crnn.training.loop import Optimization, train_one_epoch
from crnn.training.step import StepContext


def train_rate(model, batches, channels_last: bool) -> float:
    optim = Optimization(torch.optim.AdamW(model.parameters(), lr=1e-3), torch.amp.GradScaler("cpu", enabled=False), 5.0)
    stats = train_one_epoch(model, batches, StepContext(batches.charset, channels_last=channels_last), optim)
    return stats.images_per_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=1536, help="images per measurement")
    ap.add_argument("--width", type=int, default=150)
    ap.add_argument("--height", type=int, default=40)
    ap.add_argument("--length", type=int, default=5)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2, help="torch threads of the training process")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    charset = resolve_charset("alnum-upper")
    spec = SynthSpec(charset=charset, length=(args.length, args.length), width=args.width, height=args.height, seed=1)
    cfg = PRESETS["cpu-fast"]
    cs = Charset(charset)

    start = time.perf_counter()
    images, labels = render_fresh(FreshJob(spec, 0, 0, args.images))
    render_rate = args.images / (time.perf_counter() - start)

    def model():
        torch.manual_seed(0)
        return build_model(cfg.model, cs.num_classes, args.height, args.width, args.length).to(memory_format=torch.channels_last)

    pool = Batches(images, labels, cs, args.batch, Sampling(shuffle=True, drop_last=True))
    pool.set_epoch(1)
    train_rate(model(), pool, True)  # warm-up: allocator, thread pool
    rows = [("render only (1 process)", render_rate), ("train on a stored pool (ceiling)", train_rate(model(), pool, True))]
    for workers, name in ((0, "train on fresh, rendered inline (naive)"), (1, "train on fresh, 1 render process ahead")):
        fresh = FreshBatches(spec, cs, args.batch, FreshStream(args.images, 10**7), workers=workers)
        try:
            rows.append((name, train_rate(model(), fresh, True)))
        finally:
            fresh.close()
    what = f"{args.width}x{args.height}, {args.length} chars, batch {args.batch}, {args.images} images"
    print(f"{what}, torch threads {args.threads}")
    print(f"{'what':<44} {'images/s':>9} {'vs pool':>8}")
    for name, rate in rows:
        print(f"{name:<44} {rate:9.0f} {rate / rows[1][1]:7.2f}x")
    print(f"rendering one image costs {1000 / render_rate:.2f} ms, one training step per image {1000 / rows[1][1]:.2f} ms")


if __name__ == "__main__":
    main()
