"""Training throughput (images/s) of the presets, in-memory batches vs a naive PNG DataLoader.

    python benchmarks/bench_train.py [--steps 30] [--presets reference cpu-fast]

The naive baseline is what a notebook does: a torch DataLoader whose Dataset opens one PNG per
sample with PIL and converts it. Both feed the same model, optimiser and CTC loss, in one run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from crnn.charset import Charset, resolve_charset
from crnn.config import PRESETS
from crnn.data.batches import Batch, Batches, Sampling, encode_labels
from crnn.data.synth import SynthSpec, make_labels, render_many
from crnn.model import build_model, count_parameters
from crnn.training.loop import Optimization, train_one_epoch
from crnn.training.step import StepContext


class PngDataset(torch.utils.data.Dataset):
    def __init__(self, paths: list[Path], labels: list[str], charset) -> None:
        self.paths = paths
        self.targets, self.lengths = encode_labels(labels, charset)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        with Image.open(self.paths[i]) as im:
            x = torch.from_numpy(np.asarray(im.convert("L"), dtype=np.float32) / 255.0).unsqueeze(0)  # (1, H, W)
        return x, self.targets[i], self.lengths[i], i


def collate(items) -> Batch:
    xs, ts, ls, ix = zip(*items, strict=True)
    return Batch(torch.stack(xs), torch.stack(ts), torch.stack(ls), torch.tensor(ix))


def throughput(model, batches, steps: int, batch_size: int, channels_last: bool) -> float:
    optim = Optimization(torch.optim.AdamW(model.parameters(), lr=1e-3), torch.amp.GradScaler("cpu", enabled=False), 5.0)
    ctx = StepContext(Charset("0123456789"), channels_last=channels_last)
    limited = (b for i, b in enumerate(batches) if i < steps + 3)
    it = iter(limited)
    warm = [next(it) for _ in range(3)]  # warm-up steps are not timed
    train_one_epoch(model, warm, ctx, optim)
    stats = train_one_epoch(model, it, ctx, optim)
    return stats.images_per_s


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=30, help="timed steps per measurement")
    p.add_argument("--presets", nargs="+", default=["reference", "cpu-fast"])
    args = p.parse_args()
    charset = resolve_charset("alnum")
    spec = SynthSpec(charset=charset, seed=0)
    n = 64 * (args.steps + 3)
    labels = make_labels(spec, n)
    images = render_many(spec, labels, workers=2)  # (N, 40, 150) uint8
    from crnn.charset import Charset

    cs = Charset(charset)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, image in enumerate(images):
            paths.append(Path(tmp) / f"{i}.png")
            Image.fromarray(image).save(paths[-1])
        print(f"{torch.get_num_threads()} threads, {args.steps} timed steps, 150x40 images, 62 classes")
        print(f"{'preset':<10} {'params':>8} {'batch':>5}  {'in-memory':>10}  {'PNG loader':>10}  speed-up")
        for name in args.presets:
            cfg = PRESETS[name]
            bs = cfg.train.batch_size
            torch.manual_seed(0)
            model = build_model(cfg.model, cs.num_classes, 40, 150, 5)
            if cfg.train.channels_last:
                model = model.to(memory_format=torch.channels_last)
            fast = throughput(
                model, Batches(images, labels, cs, bs, Sampling(shuffle=True)), args.steps, bs, cfg.train.channels_last
            )
            loader = torch.utils.data.DataLoader(PngDataset(paths, labels, cs), batch_size=bs, shuffle=True, collate_fn=collate)
            naive = throughput(model, loader, args.steps, bs, cfg.train.channels_last)
            params = count_parameters(model) / 1e6
            print(f"{name:<10} {params:7.2f}M {bs:>5}  {fast:8.0f}/s  {naive:8.0f}/s  {fast / naive:6.2f}x")


if __name__ == "__main__":
    main()
