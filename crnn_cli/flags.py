"""Flags several subcommands share."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable


def add_tracking_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--logger",
        default="tensorboard",
        choices=["tensorboard", "mlflow", "none"],
        help="experiment tracking: TensorBoard event files (default), MLflow, or none",
    )
    p.add_argument("--tracking-uri", help="MLflow store (default: sqlite:///OUT/mlflow.db beside the run or experiment)")


def add_trust_flag(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--trust-experiment",
        action="store_true",
        help=f"resume a remote {what}, or one whose Tune state another user wrote: Ray unpickles that state, which "
        "can run code, so pass this only if you trust who can write it",
    )


class _Deprecated(argparse.Action):
    """An old spelling of a flag: it still works for one release, with a one-line note on stderr."""

    def __init__(self, option_strings: list[str], dest: str, new: str, **kwargs: object) -> None:
        self.new = new
        super().__init__(option_strings, dest, **kwargs)  # type: ignore[arg-type]

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object, option_string: str | None = None
    ) -> None:
        print(
            f"{parser.prog}: {option_string} is deprecated; use {self.new} (the old spelling goes in the next release)",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)


def add_alias(
    p: argparse.ArgumentParser | argparse._ArgumentGroup,
    old: str,
    new: str,
    dest: str,
    *,
    switch: bool = False,
    type: Callable[[str], object] | None = None,
) -> None:
    """Accept ``old`` as a hidden, deprecated spelling of ``new`` (both set ``dest``); ``switch``: a store_true flag."""
    if switch:
        p.add_argument(
            old, dest=dest, action=_Deprecated, new=new, nargs=0, const=True, default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
    else:
        p.add_argument(old, dest=dest, action=_Deprecated, new=new, type=type, default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def add_experiments_flag(p: argparse.ArgumentParser, old: str = "--storage") -> None:
    p.add_argument(
        "--experiments",
        default="experiments",
        metavar="ROOT",
        help="the folder or bucket (s3://bucket/path, gs://...) that holds experiments",
    )
    add_alias(p, old, "--experiments", "experiments")


def command(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """The function ``name`` of ``crnn_cli.commands.<module>``, imported when its subcommand runs.

    The command line's one lazy boundary: parsing (and ``crnn --help``) imports only the flag modules, and
    a command's module, imported here, brings its dependencies at its top: torch for ``crnn train``, Ray
    for ``crnn tune``, neither for ``crnn predict --model model.onnx``."""

    def run(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(f"crnn_cli.commands.{module}"), name)(args)

    return run
