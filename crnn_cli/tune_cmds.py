"""``crnn tune`` and ``crnn results``."""

from __future__ import annotations

import argparse

from crnn_cli.flags import add_alias, add_experiments_flag, add_tracking_flags, add_trust_flag, command

SORTABLE = ("exact_acc", "char_acc", "edit_distance", "cer", "val_loss", "epochs", "wall_s")


def _add_tune(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tune", help="search hyperparameters with Ray Tune + Optuna (TPE) + ASHA")
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--name", required=True, help="experiment name: the same name again resumes it")
    p.add_argument("--preset", help="tiny (tests), quick (the demo, ~5 min on 2 cores) or default (the default)")
    p.add_argument("--samples", type=int, help="number of trials (default: the preset's)")
    p.add_argument("--max-epochs", type=int, help="epochs per trial at most (default: the preset's)")
    p.add_argument("--max-concurrent", type=int, help="trials at once (default: what the cluster fits)")
    p.add_argument(
        "--workers",
        dest="workers_per_trial",
        type=int,
        help="Ray Train (DDP) workers per trial (default 1; >1: a TorchTrainer per trial)",
    )
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
    p.set_defaults(func=command("tune", "cmd_tune"))


def _add_results(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("results", help="the trial results table of an experiment, from its files")
    p.add_argument("exp", help="experiment name (under --storage) or folder")
    p.add_argument("--top", type=int, help="show the best K trials")
    p.add_argument("--sort", default="exact_acc", help=f"metric to sort by: {', '.join(SORTABLE)}")
    p.add_argument(
        "--format",
        default="table",
        choices=["table", "csv", "markdown", "json"],
        help="an aligned table, CSV, a Markdown table, or JSON with every field",
    )
    add_experiments_flag(p)
    p.add_argument("--no-plots", action="store_true", help="skip writing the PNG plots")
    p.set_defaults(func=command("tune", "cmd_results"))


def _add_retrain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("retrain", help="retrain an experiment's best configuration on the full training split")
    p.add_argument("exp", help="experiment name (under --experiments) or folder")
    p.add_argument("--data", required=True, help="dataset folder (its test split is scored at the end)")
    p.add_argument("--out", required=True, help="run folder: checkpoint, model.onnx, metrics.json, report.md")
    p.add_argument("--trial", help="retrain this trial id instead of the best")
    p.add_argument("--epochs", type=int, help="epochs (default: the trial's)")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop after the epoch that passes this much training time")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override the trial's config, e.g. train.schedule.name=onecycle (repeatable)",
    )
    add_experiments_flag(p, old="--exp-storage")
    add_tracking_flags(p)
    ray = p.add_argument_group("Ray Train (as for crnn train)")
    ray.add_argument("--workers", type=int, help="Ray Train workers; without it, one process")
    ray.add_argument("--gpus-per-worker", type=float, default=0.0, help="GPUs per worker (0: CPU workers, gloo)")
    ray.add_argument("--address", help="attach to a Ray cluster: auto or HOST:PORT")
    ray.add_argument("--storage", help="Ray Train checkpoint storage: a path, s3://..., gs://... (shared on multi-node)")
    p.set_defaults(func=command("tune", "cmd_retrain"))


def register(sub: argparse._SubParsersAction) -> None:
    _add_tune(sub)
    _add_results(sub)
    _add_retrain(sub)
