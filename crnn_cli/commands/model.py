"""``crnn train`` and ``crnn export``: what each does with the parsed flags of ``crnn_cli/model_cmds.py``."""

from __future__ import annotations

import argparse
from pathlib import Path

from crnn.errors import UserError
from crnn.lock import writer_lock
from crnn.tracking import make_tracker
from crnn.training.launch import Launch, run, run_config
from crnn.training.options import FitOptions


def cmd_train(args: argparse.Namespace) -> int:
    with writer_lock(args.out, "run"):
        return _train(args)


def _train(args: argparse.Namespace) -> int:
    if args.overfit < 0:
        raise UserError(f"--overfit {args.overfit}: must be a positive number of samples")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers {args.workers}: must be at least 1 (leave it out to train in this process)")
    config = run_config(args.out, args.preset, args.config, args.set, args.resume)
    launch = Launch(
        workers=args.workers or 0,
        gpus_per_worker=args.gpus_per_worker,
        address=args.address,
        storage=args.storage,
        max_failures=args.max_failures,
    )
    opts = FitOptions(
        resume=args.resume,
        overfit=args.overfit,
        device=args.device,
        max_minutes=args.max_minutes,
        tracker=make_tracker(args.logger, args.out, args.tracking_uri),  # checked before anything starts
    )
    best = run(args.data, Path(args.out), config, launch, opts, init_from=args.init_from)
    if best:
        print(
            f"best epoch {best['epoch']}: val exact {best['exact_acc']:.2%}, char {best['char_acc']:.2%}, "
            f"edit distance {best['edit_distance']:.3f}; model in {Path(args.out) / 'checkpoints' / 'best.pt'}"
        )
    return 0
