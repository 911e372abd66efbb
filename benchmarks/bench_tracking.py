"""What experiment tracking costs a training epoch: one real run with `--logger none` gives the epoch time;
each tracker's per-epoch call (a metrics row to TensorBoard event files or to a local MLflow store) is
timed over many rows and reported against it, with the end-of-run hparams call.

    python benchmarks/bench_tracking.py [--preset cpu-fast] [--count 2000] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crnn.config import resolve_config
from crnn.tracking import make_tracker


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="cpu-fast")
    p.add_argument("--count", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--rows", type=int, default=200)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        crnn = [sys.executable, "-m", "crnn"]
        subprocess.run([*crnn, "data", "synth", "--out", str(work / "d"), "--count", str(args.count), "--charset", "digits"],
                       check=True, capture_output=True)  # fmt: skip
        subprocess.run([*crnn, "train", "--data", str(work / "d"), "--out", str(work / "run"), "--preset", args.preset,
                        "--set", f"train.epochs={args.epochs}", "--logger", "none"], check=True, capture_output=True)  # fmt: skip
        rows = [json.loads(line) for line in (work / "run/metrics.jsonl").read_text().splitlines()]
        epoch_s = sum(r["epoch_s"] for r in rows) / len(rows)
        print(f"{args.preset} on {int(args.count * 0.9)} images: {epoch_s:.2f} s an epoch (mean of {len(rows)}, --logger none)")
        config = resolve_config(args.preset).to_dict()
        for kind in ("tensorboard", "mlflow"):
            tracker = make_tracker(kind, work / kind)
            start = time.perf_counter()
            for i in range(args.rows):
                tracker.log_epoch({**rows[-1], "epoch": i + 1})
            per_epoch = (time.perf_counter() - start) / args.rows
            start = time.perf_counter()
            tracker.finish(config, rows[-1])
            end = time.perf_counter() - start
            print(f"{kind:<12} {per_epoch * 1000:7.2f} ms an epoch = {per_epoch / epoch_s:.2%} of the epoch; "
                  f"end of run (hparams) {end * 1000:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
