"""Ray Train throughput and start-up: 1 and 2 workers against the single-process path, one run.

    python benchmarks/bench_ray_train.py [--images 4096] [--epochs 2] [--presets tiny cpu-fast]

Every configuration trains the same preset on the same synthetic data for the same epochs.
images/s is the last epoch's (warm) rate summed over workers; "overhead" is the wall time of the
whole call minus the time spent inside training epochs (Ray start, worker group, DDP set-up,
checkpoint reports, teardown).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from crnn.config import resolve_config
from crnn.data.store import load_dataset
from crnn.data.synth import SynthSpec, synthesize
from crnn.training.fit import FitOptions, fit, read_metrics
from crnn.training.launch import Launch, run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=4096, help="training images")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--presets", nargs="+", default=["tiny", "cpu-fast"])
    args = p.parse_args()
    os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.25")
    import ray

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        total = int(args.images / 0.9) + 1
        synthesize(data_dir, SynthSpec(charset="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", seed=0), total, workers=2, progress=False)
        data = load_dataset(data_dir)
        ray.init(num_cpus=os.cpu_count(), include_dashboard=True, dashboard_host="127.0.0.1", log_to_driver=False)
        print(f"{len(data.split('train'))} training images, {args.epochs} epochs, {os.cpu_count()} CPUs, no GPU")
        print(f"{'preset':<9} {'how':<18} {'images/s':>9} {'wall s':>7} {'overhead s':>10}")
        try:
            for preset in args.presets:
                cfg = resolve_config(preset, None, [f"train.epochs={args.epochs}", "train.early_stop_patience=0"])
                runs = [("single process", None), ("Ray, 1 worker", 1), ("Ray, 2 workers", 2)]
                for label, workers in runs:
                    out = Path(tmp) / f"{preset}-{workers}"
                    start = time.perf_counter()
                    if workers is None:
                        fit(data, out, cfg, FitOptions(progress=False, log=lambda line: None))
                    else:
                        run(str(data_dir), out, cfg, Launch(workers=workers))
                    wall = time.perf_counter() - start
                    rows = read_metrics(out)
                    busy = sum(r["epoch_s"] for r in rows)
                    print(f"{preset:<9} {label:<18} {rows[-1]['images_per_s']:9.0f} {wall:7.1f} {wall - busy:10.1f}")
        finally:
            ray.shutdown()


if __name__ == "__main__":
    main()
