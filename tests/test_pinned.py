"""Seeded tiny runs whose losses are pinned: the trainer's arithmetic must not move when its code does.

The numbers were recorded before the trainer was split into parts (CPU, fp32, 2 threads, AVX2
kernels). A change that alters them changes what every published model's recipe computes, and must
say so. oneDNN and ATen pick other fp32 kernels on an AVX-512 CPU, which moves a 2-epoch val loss by
6e-5 (AMD EPYC Zen 4), so each run goes in a child process held to AVX2 kernels (every x86-64 CPU
this project runs on has them; elsewhere the variables are ignored) and the tolerance is relative 1e-5.

``fixtures/run-v1`` is a run folder checkpointed after epoch 2 of 3 by the code of that day (a
micro model, FixMatch with the weight average and alignment): resuming it must go on as the
uninterrupted run did.
"""

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from crnn.config import ModelConfig, apply_overrides, resolve_config
from crnn.data.store import load_dataset
from crnn.data.synth import SynthSpec, synthesize
from crnn.training.fit import FitOptions, fit, read_metrics

FIXTURES = Path(__file__).parent / "fixtures"
QUIET = {"progress": False, "log": lambda line: None}

CASES = {
    "plain": {
        "train.augment": True,
        "train.optim.name": "adamw",
        "train.optim.weight_decay": 1e-4,
        "train.schedule.warmup_steps": 4,
    },
    "fixmatch": {
        "train.semi.method": "fixmatch",
        "train.eval.ema_decay": 0.9,
        "train.semi.threshold": 1e-6,
        "train.semi.align": True,
        "train.semi.rampup": 1,
    },
    "pseudo": {
        "train.semi.method": "pseudo",
        "train.semi.threshold": 1e-6,
        "train.semi.round_epochs": 1,
        "train.augment": True,
        "train.schedule.name": "onecycle",
    },
}
# (train_loss, val_loss) per epoch, recorded on the trainer before its split into parts
PINNED = {
    "plain": [(4.46935920715332, 3.7072243690490723), (2.7903082847595213, 2.57647705078125)],
    "fixmatch": [(3.827179718017578, 3.5218803882598877), (2.7348443984985353, 2.589890956878662)],
    "pseudo": [(3.769107294082642, 3.251560688018799), (2.7821296215057374, 2.5751538276672363)],
}
MICRO = ModelConfig(channels=(8, 16, 16), pools=("2x2", "2x2", "2x2"), hidden=16, lstm_layers=1, normalize=True)
RUN_V1_EPOCH3 = (2.844393825531006, 2.9166786670684814)  # the uninterrupted run's epoch 3
AVX2 = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}  # read when torch loads: a child process


def _data(out: Path):
    """96 labelled 5-digit CAPTCHAs and 64 unlabelled ones."""
    synthesize(out, SynthSpec(charset="0123456789", seed=5), 96, workers=1, progress=False, unlabeled=64)
    return load_dataset(out, mmap=True)


@pytest.fixture(scope="module")
def pin_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("pin") / "data"
    _data(out)
    return out


def _config(epochs: int, model: ModelConfig | None = None, sets: dict | None = None):
    cfg = apply_overrides(resolve_config("tiny"), {"train.epochs": epochs, "train.amp": "off", **(sets or {})})
    return replace(cfg, model=model) if model is not None else cfg


def _fit_in_a_child(data: Path, out: Path, case: str, resume: bool = False) -> list[dict]:
    """``main`` below, run by a fresh interpreter held to AVX2 kernels; the run's metrics rows."""
    args = [sys.executable, __file__, str(data), str(out), case, "resume" if resume else "new"]
    proc = subprocess.run(args, env={**os.environ, **AVX2}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return read_metrics(out)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_seeded_tiny_run_gives_the_pinned_losses(pin_data, tmp_path, case):
    rows = _fit_in_a_child(pin_data, tmp_path / case, case)
    got = [loss for r in rows for loss in (r["train_loss"], r["val_loss"])]
    assert got == pytest.approx([loss for pair in PINNED[case] for loss in pair], rel=1e-5)


def test_a_run_checkpointed_by_the_code_of_before_resumes_where_it_stopped(pin_data, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(FIXTURES / "run-v1", out)
    rows = _fit_in_a_child(pin_data, out, "run-v1", resume=True)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert (rows[2]["train_loss"], rows[2]["val_loss"]) == pytest.approx(RUN_V1_EPOCH3, rel=1e-5)


def main(data: str, out: str, case: str, mode: str) -> None:
    """One pinned run at 2 threads: a CASES entry for 2 epochs, or ``run-v1`` resumed to its epoch 3."""
    torch.set_num_threads(2)
    config = _config(3, MICRO, CASES["fixmatch"]) if case == "run-v1" else _config(2, sets=CASES[case])
    fit(load_dataset(data, mmap=True), Path(out), config, FitOptions(resume=mode == "resume", **QUIET))


if __name__ == "__main__":
    main(*sys.argv[1:5])
