"""``crnn tune`` and ``crnn results``."""

from __future__ import annotations

import argparse

from crnn.errors import UserError
from crnn_cli.flags import add_alias, add_experiments_flag, add_tracking_flags, add_trust_flag

SORTABLE = ("exact_acc", "char_acc", "edit_distance", "cer", "val_loss", "epochs", "wall_s")


def cmd_tune(args: argparse.Namespace) -> int:
    from tune.search.experiment import Experiment  # noqa: PLC0415
    from tune.search.results import print_results  # noqa: PLC0415
    from tune.search.run import TuneOptions, run_tune  # noqa: PLC0415

    opts = TuneOptions(
        data=args.data, name=args.name, preset=args.preset, samples=args.samples, max_epochs=args.max_epochs,
        max_concurrent=args.max_concurrent, workers_per_trial=args.workers_per_trial,
        gpus_per_worker=args.gpus_per_worker, space=args.space, scheduler=args.scheduler, storage=args.experiments,
        address=args.address, seed=args.seed, max_failures=args.max_failures, logger=args.logger,
        tracking_uri=args.tracking_uri, trust_experiment=args.trust_experiment,
    )  # fmt: skip
    exp = Experiment.load(run_tune(opts))
    print_results(exp.rows(), "table", top=args.top, sort="exact_acc", exp=exp.path)  # run_tune wrote the reports
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    from tune.search.experiment import Experiment  # noqa: PLC0415
    from tune.search.results import print_results  # noqa: PLC0415

    if args.sort not in SORTABLE:
        raise UserError(f"--sort {args.sort!r}: accepted: {', '.join(SORTABLE)}")
    if args.top is not None and args.top < 1:
        raise UserError(f"--top {args.top}: must be at least 1")
    exp = Experiment.find(args.exp, args.experiments)
    print_results(exp.refresh(plots=not args.no_plots), args.format, top=args.top, sort=args.sort, exp=exp.path)
    return 0


def cmd_retrain(args: argparse.Namespace) -> int:
    from tune.search.experiment import Experiment  # noqa: PLC0415
    from tune.search.retrain import RetrainOptions, retrain  # noqa: PLC0415

    opts = RetrainOptions(
        exp=Experiment.find(args.exp, args.experiments).path, data=args.data, out=args.out, trial=args.trial,
        epochs=args.epochs, workers=args.workers, gpus_per_worker=args.gpus_per_worker, address=args.address,
        storage=args.storage, max_minutes=args.max_minutes, sets=tuple(args.set), logger=args.logger,
        tracking_uri=args.tracking_uri,
    )  # fmt: skip
    m = retrain(opts)
    print(
        f"test ({m['count']} images, beam {m['beam_width']}): exact {m['exact_acc']:.2%}, char {m['char_acc']:.2%}, "
        f"edit distance {m['edit_distance']:.3f}, CER {m['cer']:.2%}, exact ignoring case {m['exact_acc_nocase']:.2%}; "
        f"report: {args.out}/report.md"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tune", help="search hyperparameters with Ray Tune + Optuna (TPE) + ASHA")
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--name", required=True, help="experiment name: the same name again resumes it")
    p.add_argument("--preset", help="tiny (tests), quick (the demo, ~5 min on 2 cores) or default (the default)")
    p.add_argument("--samples", type=int, help="number of trials (default: the preset's)")
    p.add_argument("--max-epochs", type=int, help="epochs per trial at most (default: the preset's)")
    p.add_argument("--max-concurrent", type=int, help="trials at once (default: what the cluster fits)")
    p.add_argument("--workers", dest="workers_per_trial", type=int,
                   help="Ray Train (DDP) workers per trial (default 1; >1: a TorchTrainer per trial)")  # fmt: skip
    add_alias(p, "--workers-per-trial", "--workers", "workers_per_trial", type=int)
    p.add_argument("--gpus-per-worker", type=float, help="GPUs per worker (default 0)")
    p.add_argument("--space", help="YAML search space replacing or extending tune/search/space.yaml")
    p.add_argument("--scheduler", help="asha (the default: early stopping on val exact accuracy) or none")
    add_experiments_flag(p)
    p.add_argument("--address", help="attach to a Ray cluster: auto or HOST:PORT (default: a local Ray)")
    p.add_argument("--seed", type=int, help="seed of the TPE sampler and of every trial (default 0)")
    p.add_argument("--max-failures", type=int, default=1, help="retries of a crashing trial before it is marked errored")
    add_trust_flag(p, "experiment")
    add_tracking_flags(p)
    p.add_argument("--top", type=int, help="rows of the final table")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("results", help="the trial results table of an experiment, from its files")
    p.add_argument("exp", help="experiment name (under --storage) or folder")
    p.add_argument("--top", type=int, help="show the best K trials")
    p.add_argument("--sort", default="exact_acc", help=f"metric to sort by: {', '.join(SORTABLE)}")
    p.add_argument("--format", default="table", choices=["table", "csv", "markdown", "json"],
                   help="an aligned table, CSV, a Markdown table, or JSON with every field")  # fmt: skip
    add_experiments_flag(p)
    p.add_argument("--no-plots", action="store_true", help="skip writing the PNG plots")
    p.set_defaults(func=cmd_results)

    p = sub.add_parser("retrain", help="retrain an experiment's best configuration on the full training split")
    p.add_argument("exp", help="experiment name (under --experiments) or folder")
    p.add_argument("--data", required=True, help="dataset folder (its test split is scored at the end)")
    p.add_argument("--out", required=True, help="run folder: checkpoint, model.onnx, metrics.json, report.md")
    p.add_argument("--trial", help="retrain this trial id instead of the best")
    p.add_argument("--epochs", type=int, help="epochs (default: the trial's)")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop after the epoch that passes this much training time")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override the trial's config, e.g. train.schedule.name=onecycle (repeatable)",
    )  # fmt: skip
    add_experiments_flag(p, old="--exp-storage")
    add_tracking_flags(p)
    ray = p.add_argument_group("Ray Train (as for crnn train)")
    ray.add_argument("--workers", type=int, help="Ray Train workers; without it, one process")
    ray.add_argument("--gpus-per-worker", type=float, default=0.0, help="GPUs per worker (0: CPU workers, gloo)")
    ray.add_argument("--address", help="attach to a Ray cluster: auto or HOST:PORT")
    ray.add_argument("--storage", help="Ray Train checkpoint storage: a path, s3://..., gs://... (shared on multi-node)")
    p.set_defaults(func=cmd_retrain)
