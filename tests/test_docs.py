"""The documentation cannot drift from the code: every `crnn` command line in a bash block of README.md,
docs/, results/README.md and research/README.md parses under the real argument parser (its `--set`
overrides resolve to a valid config), and every `model.*` / `train.*` key the pages name exists.

Synopses in tables and prose (`crnn tune --data DIR [--preset P]`) are patterns, not command lines,
and are not parsed; the worked examples in bash blocks are."""

import argparse
import re
import shlex
from pathlib import Path

import pytest

from crnn.config import PRESETS, RENAMED, resolve_config
from crnn.config.overrides import LEAVES, SECTIONS
from crnn.errors import UserError
from crnn_cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "results/README.md", ROOT / "research/README.md", *sorted((ROOT / "docs").glob("*.md"))]
SEPARATORS = {"&&", "||", ";", "|"}
NOT_KEYS = {"py", "npy", "txt", "onnx", "pt", "json", "csv", "jsonl", "png", "md", "yaml", "export"}  # file names, model.export


def _bash_lines(text: str) -> list[str]:
    """Each logical line (continuations joined) of the ```bash blocks."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        lines += [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    return lines


def _crnn_commands(line: str) -> list[list[str]]:
    """The argument lists of every `crnn ...` in a shell line (after env assignments, between separators)."""
    tokens = shlex.split(line, comments=True)
    commands, current = [], []
    for tok in [*tokens, ";"]:
        if tok in SEPARATORS:
            while current and re.fullmatch(r"[A-Z_]+=\S*", current[0]):
                current = current[1:]
            if current and current[0] == "crnn":
                commands.append(current[1:])
            current = []
        else:
            current.append(tok)
    return commands


def _cases() -> list[tuple[str, str]]:
    return [(f"{p.relative_to(ROOT)}: {line.strip()}", line) for p in PAGES for line in _bash_lines(p.read_text())]


def _parse(parser: argparse.ArgumentParser, argv: list[str], where: str) -> argparse.Namespace:
    try:
        return parser.parse_args(argv)
    except SystemExit:
        pytest.fail(f"does not parse: {where}")


def test_the_pages_have_command_lines():
    assert sum(len(_crnn_commands(line)) for _, line in _cases()) > 50


@pytest.mark.parametrize(("where", "line"), _cases(), ids=[c[0][:90] for c in _cases()])
def test_every_command_line_parses(where, line, capsys):
    parser = build_parser()
    for argv in _crnn_commands(line):
        args = _parse(parser, argv, where)
        if argv[0] == "submit":  # the job's own command, after `--`
            args = _parse(parser, argv[argv.index("--") + 1 :], where)
        sets = getattr(args, "set", None)
        if sets:
            preset = args.preset if getattr(args, "preset", None) in PRESETS else "cpu-fast"
            try:
                resolve_config(preset, None, sets)
            except (UserError, ValueError) as exc:
                pytest.fail(f"{where}: --set does not resolve: {exc}")
    capsys.readouterr()


def test_every_config_key_named_exists():
    known = set(LEAVES) | SECTIONS  # today's keys and section names: an old flat name in a page fails here
    named = set()
    for page in PAGES:
        for line in page.read_text().splitlines():
            for section, key in re.findall(r"(?<![\w./])(model|train)\.([a-z_]+(?:\.[a-z_]+)*)\b(?!\()", line):
                old = f"{section}.{key}" in RENAMED and RENAMED[f"{section}.{key}"] in line  # "X is now Y"
                if key.split(".")[-1] not in NOT_KEYS and key not in NOT_KEYS and not old:
                    named.add((page.relative_to(ROOT), f"{section}.{key}"))
    unknown = sorted(f"{page}: {key}" for page, key in named if key not in known)
    assert not unknown, unknown
    assert len(named) > 20
