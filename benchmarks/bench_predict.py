"""`crnn predict` on many image files: streamed from a checkpoint (torch) and from a model.onnx
(onnxruntime, no torch), against the naive path that reads every image into memory first and then
runs the model (what `crnn predict` did before it streamed). Each runs in a process of its own; its
peak resident memory is that process's.

    python benchmarks/bench_predict.py [--count 100000] [--model results/captcha-36x5] [--threads 2]

Writes COUNT PNGs (copies of a synthetic dataset's images) under --work, then prints images/s and
peak memory per path.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

NAIVE = """
import sys, time, numpy as np, torch
from pathlib import Path
from PIL import Image
from crnn.inference.predict import predict_arrays
from crnn.training.checkpoint import load_model
torch.set_num_threads(int(sys.argv[3]))
loaded = load_model(sys.argv[1])
paths = sorted(Path(sys.argv[2]).iterdir())
images = np.stack([np.asarray(Image.open(p).convert("L")) for p in paths])  # every image in memory at once
preds, _ = predict_arrays(loaded, images, 1)
with open(sys.argv[4], "w") as fh:
    fh.writelines(f"{p}\\t{t}\\n" for p, t in zip(paths, preds))
"""


def run(cmd: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=100_000)
    p.add_argument("--model", default="results/captcha-36x5")
    p.add_argument("--work", default="/tmp/bench_predict")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    work = Path(args.work)
    images = work / "images"
    if not images.is_dir() or len(list(images.iterdir())) != args.count:
        shutil.rmtree(work, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "crnn", "data", "synth", "--out", str(work / "src"), "--count", "2000",
                        "--charset", "alnum-upper", "--seed", "9"], check=True, capture_output=True)  # fmt: skip
        pool = np.load(work / "src/train.npy")
        images.mkdir(parents=True)
        for i in range(args.count):
            Image.fromarray(pool[i % len(pool)]).save(images / f"{i:06d}.png")
    onnx = work / "model.onnx"
    subprocess.run([sys.executable, "-m", "crnn", "export", "--model", args.model, "--format", "onnx", "--out", str(onnx)],
                   check=True, capture_output=True)  # fmt: skip
    crnn = [sys.executable, "-m", "crnn", "predict", "--threads", str(args.threads), "--beam-width", "1"]
    paths = {
        "naive: read all, then torch": [
            sys.executable,
            "-c",
            NAIVE,
            args.model,
            str(images),
            str(args.threads),
            str(work / "n.tsv"),
        ],
        "streamed, torch checkpoint": [*crnn, "--model", args.model, str(images), "--out", str(work / "t.tsv")],
        "streamed, model.onnx (no torch)": [*crnn, "--model", str(onnx), str(images), "--out", str(work / "o.tsv")],
    }
    width, height = Image.open(next(images.iterdir())).size
    print(f"{args.count} PNGs of {width}x{height}, model {args.model}, {args.threads} threads, greedy")
    print(f"{'path':<34} {'seconds':>8} {'images/s':>9} {'peak MiB':>9}")
    for name, cmd in paths.items():
        seconds, peak = run(cmd)
        print(f"{name:<34} {seconds:>8.1f} {args.count / seconds:>9.0f} {peak:>9.0f}", flush=True)
    same = [line.split("\t")[1] for line in (work / "t.tsv").read_text().splitlines()]
    onnx_preds = [line.split("\t")[1] for line in (work / "o.tsv").read_text().splitlines()]
    print(f"ONNX and torch agree on {sum(a == b for a, b in zip(same, onnx_preds, strict=True)) / len(same):.4%} of the labels")


if __name__ == "__main__":
    main()
