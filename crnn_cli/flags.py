"""Flags several subcommands share."""

from __future__ import annotations

import argparse


def add_tracking_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--logger", default="tensorboard", choices=["tensorboard", "mlflow", "none"],
                   help="experiment tracking: TensorBoard event files (default), MLflow, or none")  # fmt: skip
    p.add_argument("--tracking-uri", help="MLflow store (default: sqlite:///OUT/mlflow.db beside the run or experiment)")


def add_trust_flag(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--trust-experiment", action="store_true",
        help=f"resume a remote {what}, or one whose Tune state another user wrote: Ray unpickles that state, which "
        "can run code, so pass this only if you trust who can write it",
    )  # fmt: skip
