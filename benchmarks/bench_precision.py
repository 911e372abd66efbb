"""Training and inference speed on a CPU by precision and conv-block order, against the naive fp32 model.

    python benchmarks/bench_precision.py [--steps 12] [--rounds 3] [--batch 32]

Four variants of the same weights, timed in interleaved rounds (the median is printed, so a noisy
neighbour on a shared machine hits every variant alike):

    naive fp32   each block conv -> BN -> ReLU -> max-pool (the reference report's order), fp32: the baseline
    pooled fp32  conv -> BN -> max-pool -> ReLU (what crnn builds: the same function, ReLU on 1/4 of the values)
    naive auto   the report's order at what train.amp=auto picks here (bf16 autocast where the CPU has AMX or AVX512-BF16)
    crnn         pooled at train.amp=auto: what a run here trains with

One thread, as each Ray worker of a CPU run has. Models: the cpu-fast preset on 150x40 images and
the base model's shape (32-64-128 channels, LSTM 192) reading 200x75 images at height 48.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from crnn.charset import Charset
from crnn.config import PRESETS, ModelConfig
from crnn.data.batches import Batch
from crnn.model import build_model
from crnn.training.amp import choose_precision
from crnn.training.loop import Optimization, train_one_epoch
from crnn.training.step import StepContext

CASES = {
    "cpu-fast 150x40": (PRESETS["cpu-fast"].model, 40, 150),
    "base shape 200x75 @48": (ModelConfig(channels=(32, 64, 128), pools=("2x2",) * 3, hidden=192, input_height=48), 75, 200),
}


def relu_before_pool(model: nn.Module) -> nn.Module:
    """The same weights with each block's ReLU and pool swapped back to conv -> BN -> ReLU -> pool."""
    mods = list(model.cnn)
    for i in range(0, len(mods), 4):
        mods[i + 2], mods[i + 3] = mods[i + 3], mods[i + 2]
    model.cnn = nn.Sequential(*mods)
    return model


def batches(n: int, batch: int, height: int, width: int, classes: int) -> list[Batch]:
    gen = torch.Generator().manual_seed(0)
    out = []
    for i in range(n):
        images = torch.rand(batch, 1, height, width, generator=gen)  # (B, 1, H, W)
        targets = torch.randint(1, classes, (batch, 5), generator=gen)  # (B, 5)
        out.append(Batch(images, targets, torch.full((batch,), 5), torch.arange(i * batch, (i + 1) * batch)))
    return out


def train_rate(model: nn.Module, data: list[Batch], mode: str) -> float:
    precision = choose_precision(mode, torch.device("cpu"))
    optim = Optimization(torch.optim.AdamW(model.parameters(), lr=1e-4), precision.scaler(), 5.0)
    ctx = StepContext(Charset("0123456789"), autocast=precision.autocast, channels_last=True)
    train_one_epoch(model, data[:2], ctx, optim)  # warm-up
    return train_one_epoch(model, data, ctx, optim).images_per_s


@torch.no_grad()
def eval_rate(model: nn.Module, data: list[Batch], mode: str) -> float:
    precision = choose_precision(mode, torch.device("cpu"))
    model.eval()
    with precision.autocast():
        model(data[0].images.contiguous(memory_format=torch.channels_last))  # warm-up
        start = time.perf_counter()
        for b in data:
            model(b.images.contiguous(memory_format=torch.channels_last))  # (T, B, K)
    return sum(len(b.images) for b in data) / (time.perf_counter() - start)


def setup(doc: str) -> tuple[argparse.Namespace, str]:
    """The flags both CPU benchmarks take, one thread (as a Ray worker of a CPU run has), and what auto picks here."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--steps", type=int, default=12, help="timed training steps per measurement")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is printed")
    p.add_argument("--batch", type=int, default=32)
    torch.set_num_threads(1)
    return p.parse_args(), choose_precision("auto", torch.device("cpu")).mode


def main() -> None:
    args, auto = setup(__doc__)
    print(f"1 thread, batch {args.batch}, {args.steps} timed steps x {args.rounds} rounds; train.amp=auto here: {auto}")
    print(f"{'model':<24} {'what':<6} {'naive fp32':>11} {'pooled fp32':>12} {'naive auto':>11} {'crnn':>9}  speed-up")
    for name, (cfg, height, width) in CASES.items():
        data = batches(args.steps, args.batch, height, width, 63)
        torch.manual_seed(0)
        pooled = build_model(cfg, 63, height, width, 5).to(memory_format=torch.channels_last)
        naive = relu_before_pool(build_model(cfg, 63, height, width, 5).to(memory_format=torch.channels_last))
        naive.load_state_dict(pooled.state_dict())
        for what, rate in (("train", train_rate), ("eval", eval_rate)):
            variants = {
                "naive": (naive, "off"),
                "pooled": (pooled, "off"),
                "naive auto": (naive, "auto"),
                "crnn": (pooled, "auto"),
            }
            runs: dict[str, list[float]] = {k: [] for k in variants}
            for _ in range(args.rounds):
                for key, (model, mode) in variants.items():
                    runs[key].append(rate(model, data, mode))
            med = {k: statistics.median(v) for k, v in runs.items()}
            print(
                f"{name:<24} {what:<6} {med['naive']:9.0f}/s {med['pooled']:10.0f}/s {med['naive auto']:9.0f}/s "
                f"{med['crnn']:7.0f}/s  {med['crnn'] / med['naive']:6.2f}x"
            )


if __name__ == "__main__":
    main()
