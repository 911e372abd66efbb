"""Shared fixtures: small datasets from the real generator, and the CLI run in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crnn.cli.main import main
from crnn.data.synth import SynthSpec, synthesize

torch.set_num_threads(min(2, torch.get_num_threads()))


def make_dataset(
    out: Path, count: int = 240, seed: int = 0, charset: str = "0123456789", length: tuple[int, int] = (5, 5)
) -> Path:
    synthesize(out, SynthSpec(charset=charset, length=length, seed=seed), count, workers=1, progress=False)
    return out


@pytest.fixture(scope="session")
def digits_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """240 real 150x40 CAPTCHAs of 5 digits, split 216/12/12."""
    return make_dataset(tmp_path_factory.mktemp("data") / "digits")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture):
    """Run ``crnn ARGS`` in this process; returns (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse errors
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run
