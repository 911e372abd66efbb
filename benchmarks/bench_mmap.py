"""Memory of concurrent trials on one node: a train split read into each process vs memory-mapped.

    python benchmarks/bench_mmap.py [--images 200000] [--procs 2] [--batches 200] [--data DIR]

Starts ``--procs`` processes at once, as Ray Tune starts concurrent trials (or Ray Train its
workers) on one node. Each loads the train split, either read whole (``np.load``, the naive way
and what training did before) or memory-mapped (``load_dataset(mmap=True)``, what training does
now), then gathers ``--batches`` shuffled batches of 128 into model input. Printed per mode:
seconds to load, batches/s of the gather, and the node's memory for the processes together as
the sum of their PSS (shared pages counted once) measured while all of them hold the split.
Without ``--data`` the split is ``--images`` random 150x40 pixels written to a temporary folder
(the figures depend on bytes, not content). Linux only (reads /proc/self/smaps_rollup).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import numpy as np


def pss_mib() -> float:
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no Pss line in /proc/self/smaps_rollup")


def trial(root: str, mmap: bool, batches: int, barrier, out) -> None:
    import torch

    from crnn.data.batches import Batches, Sampling
    from crnn.data.store import load_dataset

    torch.set_num_threads(1)
    start = time.perf_counter()
    data = load_dataset(root, splits=("train",), mmap=mmap)
    train = data.split("train")
    loaded = time.perf_counter() - start
    sampling = Sampling(shuffle=True, seed=1, epoch_images=128 * batches)
    it = iter(Batches(train.images, train.labels, data.charset, 128, sampling))
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    rate = batches / (time.perf_counter() - start)
    barrier.wait()  # every process holds its split now: the node's memory is the sum of what they hold
    out.put((loaded, rate, pss_mib()))
    barrier.wait()  # keep it until every process has measured


def run(root: str, mmap: bool, procs: int, batches: int) -> tuple[float, float, float]:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(procs), ctx.Queue()
    workers = [ctx.Process(target=trial, args=(root, mmap, batches, barrier, out)) for _ in range(procs)]
    for w in workers:
        w.start()
    rows = [out.get(timeout=600) for _ in workers]
    for w in workers:
        w.join()
    return max(r[0] for r in rows), min(r[1] for r in rows), sum(r[2] for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=200_000, help="train images of the temporary dataset")
    ap.add_argument("--procs", type=int, default=2, help="concurrent trials on the node")
    ap.add_argument("--batches", type=int, default=200, help="batches of 128 each process gathers")
    ap.add_argument("--data", help="an existing dataset folder instead of a temporary one")
    args = ap.parse_args()
    from crnn.data.store import load_dataset, write_dataset

    with tempfile.TemporaryDirectory() as tmp:
        root = args.data
        if root is None:
            root = str(Path(tmp) / "pool")
            Path(root).mkdir()
            rng = np.random.default_rng(0)
            images = rng.integers(0, 256, (args.images, 40, 150), dtype=np.uint8)
            labels = ["".join(rng.choice(list("0123456789"), 5)) for _ in range(args.images)]
            write_dataset(Path(root), {"train": (images, labels)}, "0123456789", (5, 5), {"kind": "benchmark"})
            del images
        n = int(load_dataset(root, splits=()).manifest["splits"]["train"])
        size_mib = Path(root, "train.npy").stat().st_size / 2**20
        print(f"train split: {n} images, {size_mib:.0f} MiB on disk; {args.procs} processes at once")
        print(f"{'mode':<28} {'load s':>7} {'batches/s':>10} {'node memory (sum of PSS)':>26}")
        results = {}
        for mmap, name in ((False, "read whole (naive)"), (True, "memory-mapped")):
            loaded, rate, pss = run(root, mmap, args.procs, args.batches)
            results[mmap] = pss
            print(f"{name:<28} {loaded:>7.2f} {rate:>10.0f} {pss:>22.0f} MiB")
        print(f"memory-mapped holds {results[True] / results[False]:.2f}x the memory of reading the split in each process")


if __name__ == "__main__":
    main()
