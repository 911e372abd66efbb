"""Flags several subcommands share."""

from __future__ import annotations

import argparse


def add_tracking_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--logger", default="tensorboard", choices=["tensorboard", "mlflow", "none"],
                   help="experiment tracking: TensorBoard event files (default), MLflow, or none")  # fmt: skip
    p.add_argument("--tracking-uri", help="MLflow store (default: sqlite:///OUT/mlflow.db beside the run or experiment)")
