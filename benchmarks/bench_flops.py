"""Training FLOPs per image of a preset at an image size, and the rate this machine reaches.

    python benchmarks/bench_flops.py [--preset cpu-fast] [--set model.channels=[32,64,128]] [--width 192 --height 64 --length 4]

FLOPs are counted by ``torch.utils.flop_counter`` over one forward and backward pass (convolutions,
matmuls and the LSTM's gates; element-wise ops are not counted, so this is a floor). The measured
training rate on this machine gives the achieved GFLOP/s; dividing a run's images by the rate another
device reaches gives its time, which is how results/README.md estimates GPU runs.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from crnn.charset import Charset, resolve_charset
from crnn.config import PRESETS, resolve_config
from crnn.data.batches import Batch
from crnn.errors import UserError
from crnn.model import build_model, count_parameters
from crnn.training.loop import ctc_loss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="cpu-fast", choices=list(PRESETS))
    ap.add_argument("--width", type=int, default=192)
    ap.add_argument("--height", type=int, default=64)
    ap.add_argument("--length", type=int, default=4)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override the preset, as in crnn train")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    cs = Charset(resolve_charset("alnum-upper"))
    try:
        cfg = resolve_config(args.preset, sets=args.set)
    except UserError as exc:
        ap.error(f"--set: {exc}")
    model = build_model(cfg.model, cs.num_classes, args.height, args.width, args.length).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.rand(args.batch, 1, args.height, args.width).contiguous(memory_format=torch.channels_last)  # (B, 1, H, W)
    targets = torch.randint(1, cs.num_classes, (args.batch, args.length))
    batch = Batch(x, targets, torch.full((args.batch,), args.length), torch.arange(args.batch))

    def step() -> None:
        loss = ctc_loss(model(x), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()

    with FlopCounterMode(display=False) as counter:
        step()
    per_image = counter.get_total_flops() / args.batch
    step()  # warm-up
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    rate = args.steps * args.batch / (time.perf_counter() - start)
    model_name = " ".join([args.preset, *args.set])
    print(f"{model_name} at {args.width}x{args.height}: {count_parameters(model) / 1e6:.2f}M parameters")
    print(f"training FLOPs per image (forward + backward): {per_image / 1e6:.1f} MFLOP")
    print(f"this machine ({torch.get_num_threads()} threads): {rate:.0f} images/s = {rate * per_image / 1e9:.1f} GFLOP/s")
    for name, tflops in (("10 TFLOP/s achieved (a GPU at ~5-10% of bf16 peak)", 10.0), ("50 TFLOP/s achieved", 50.0)):
        print(f"at {name}: {tflops * 1e12 / per_image:,.0f} images/s if compute-bound")


if __name__ == "__main__":
    main()
