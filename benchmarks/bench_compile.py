"""torch.compile on a CPU: training and eval images/s of the compiled model against eager, in one run.

    python benchmarks/bench_compile.py [--steps 12] [--rounds 3] [--batch 32]

The same weights eager (the baseline) and through ``torch.compile`` (inductor, its default mode), each at
fp32 and at what ``train.amp=auto`` picks here, timed in interleaved rounds (medians printed), one thread
as each Ray worker of a CPU run has. The first compiled call's time (the compilation) is printed apart:
a run pays it once per process and per input shape.
"""

from __future__ import annotations

import copy
import statistics
import time

import torch
from bench_precision import CASES, batches, eval_rate, setup, train_rate

from crnn.model import build_model


def compile_seconds(model: torch.nn.Module, data: list, mode: str) -> float:
    """The compiled model's first training step and first eval pass: what compiling costs."""
    start = time.perf_counter()
    train_rate(model, data[:2], mode)
    eval_rate(model, data[:1], mode)
    return time.perf_counter() - start


def main() -> None:
    args, auto = setup(__doc__)
    modes = ["off"] + (["auto"] if auto != "off" else [])
    print(
        f"torch {torch.__version__}, 1 thread, batch {args.batch}, {args.steps} steps x {args.rounds} rounds; auto here: {auto}"
    )
    for name, (cfg, height, width) in CASES.items():
        data = batches(args.steps, args.batch, height, width, 63)
        torch.manual_seed(0)
        eager = build_model(cfg, 63, height, width, 5).to(memory_format=torch.channels_last)
        compiled = torch.compile(copy.deepcopy(eager))  # the same weights
        for mode in modes:
            precision = "fp32" if mode == "off" else auto
            first = compile_seconds(compiled, data, mode)
            for what, rate in (("train", train_rate), ("eval", eval_rate)):
                runs: dict[str, list[float]] = {"eager": [], "compiled": []}
                for _ in range(args.rounds):
                    runs["eager"].append(rate(eager, data, mode))
                    runs["compiled"].append(rate(compiled, data, mode))
                e, c = statistics.median(runs["eager"]), statistics.median(runs["compiled"])
                print(
                    f"{name:<24} {precision:<5} {what:<6} eager {e:7.0f}/s  compiled {c:7.0f}/s  {c / e:5.2f}x"
                    + (f"  (compiling: {first:.0f} s)" if what == "train" else "")
                )


if __name__ == "__main__":
    main()
