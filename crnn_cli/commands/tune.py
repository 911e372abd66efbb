"""``crnn tune``, ``crnn results`` and ``crnn retrain``: what each does with the parsed flags."""

from __future__ import annotations

import argparse

from crnn.errors import UserError
from crnn_cli.tune_cmds import SORTABLE
from tune.search.experiment import Experiment
from tune.search.results import print_results
from tune.search.retrain import RetrainOptions, retrain
from tune.search.run import TuneOptions, run_tune


def cmd_tune(args: argparse.Namespace) -> int:
    opts = TuneOptions(
        data=args.data,
        name=args.name,
        preset=args.preset,
        samples=args.samples,
        max_epochs=args.max_epochs,
        max_concurrent=args.max_concurrent,
        workers_per_trial=args.workers_per_trial,
        gpus_per_worker=args.gpus_per_worker,
        space=args.space,
        scheduler=args.scheduler,
        storage=args.experiments,
        address=args.address,
        seed=args.seed,
        max_failures=args.max_failures,
        logger=args.logger,
        tracking_uri=args.tracking_uri,
        trust_experiment=args.trust_experiment,
    )
    exp = Experiment.load(run_tune(opts))
    print_results(exp.rows(), "table", top=args.top, sort="exact_acc", exp=exp.path)  # run_tune wrote the reports
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    if args.sort not in SORTABLE:
        raise UserError(f"--sort {args.sort!r}: accepted: {', '.join(SORTABLE)}")
    if args.top is not None and args.top < 1:
        raise UserError(f"--top {args.top}: must be at least 1")
    exp = Experiment.find(args.exp, args.experiments)
    print_results(exp.refresh(plots=not args.no_plots), args.format, top=args.top, sort=args.sort, exp=exp.path)
    return 0


def cmd_retrain(args: argparse.Namespace) -> int:
    opts = RetrainOptions(
        exp=Experiment.find(args.exp, args.experiments).path,
        data=args.data,
        out=args.out,
        trial=args.trial,
        epochs=args.epochs,
        workers=args.workers,
        gpus_per_worker=args.gpus_per_worker,
        address=args.address,
        storage=args.storage,
        max_minutes=args.max_minutes,
        sets=tuple(args.set),
        logger=args.logger,
        tracking_uri=args.tracking_uri,
    )
    m = retrain(opts)
    print(
        f"test ({m['count']} images, beam {m['beam_width']}): exact {m['exact_acc']:.2%}, char {m['char_acc']:.2%}, "
        f"edit distance {m['edit_distance']:.3f}, CER {m['cer']:.2%}, exact ignoring case {m['exact_acc_nocase']:.2%}; "
        f"report: {args.out}/report.md"
    )
    return 0
