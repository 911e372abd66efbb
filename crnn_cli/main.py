"""The ``crnn`` command. Each subcommand lives in a small module that adds its parser here.

A ``UserError`` anywhere becomes one line on stderr and exit code 2; argparse's own errors exit 2
as well. Nothing a user can get wrong ends in a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from crnn import __version__
from crnn.errors import UserError
from crnn_cli import assess_cmds, config_cmds, data_cmds, jobs_cmds, model_cmds, tune_cmds


class DefaultsFormatter(argparse.HelpFormatter):
    """argparse's ArgumentDefaultsHelpFormatter, less its noise: a flag's default is added to its help
    unless the help already says it, and never for a default that means "not given" (None, False, [])."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or action.default == []:
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return f"{text} (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """Every (sub)command's parser shows its flags' defaults: subparsers are built as this class."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="crnn",
        description="Train, tune, evaluate and export CRNN-CTC models for text CAPTCHA recognition (offline).",
    )
    parser.add_argument("--version", action="version", version=f"crnn-tune {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data_cmds.register(sub)
    model_cmds.register(sub)
    tune_cmds.register(sub)
    assess_cmds.register(sub)
    jobs_cmds.register(sub)
    config_cmds.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"crnn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"crnn {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `crnn predict ... | head`: the reader left; stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes stdout
        return 141


if __name__ == "__main__":
    sys.exit(main())
