"""Seeded tiny runs whose losses are pinned: the trainer's arithmetic must not move when its code does.

The numbers were recorded before the trainer was split into parts (CPU, fp32, 2 threads). A change
that alters them changes what every published model's recipe computes, and must say so. The
tolerance is relative 1e-5: the same code gives the same bits here, and oneDNN picks other fp32
kernels on other CPUs (AVX2 against AVX-512), which moves the last digits.

``fixtures/run-v1`` is a run folder checkpointed after epoch 2 of 3 by the code of that day (a
micro model, FixMatch with the weight average and alignment): resuming it must go on as the
uninterrupted run did.
"""

import shutil
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


@pytest.fixture(scope="module")
def pin_data(tmp_path_factory):
    """96 labelled 5-digit CAPTCHAs and 64 unlabelled ones."""
    out = tmp_path_factory.mktemp("pin") / "data"
    synthesize(out, SynthSpec(charset="0123456789", seed=5), 96, workers=1, progress=False, unlabeled=64)
    return load_dataset(out, mmap=True)


def _config(epochs: int, model: ModelConfig | None = None, sets: dict | None = None):
    cfg = apply_overrides(resolve_config("tiny"), {"train.epochs": epochs, "train.amp": "off", **(sets or {})})
    return replace(cfg, model=model) if model is not None else cfg


@pytest.fixture(autouse=True)
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_seeded_tiny_run_gives_the_pinned_losses(pin_data, tmp_path, case):
    fit(pin_data, tmp_path / case, _config(2, sets=CASES[case]), FitOptions(**QUIET))
    got = [loss for r in read_metrics(tmp_path / case) for loss in (r["train_loss"], r["val_loss"])]
    assert got == pytest.approx([loss for pair in PINNED[case] for loss in pair], rel=1e-5)


def test_a_run_checkpointed_by_the_code_of_before_resumes_where_it_stopped(pin_data, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(FIXTURES / "run-v1", out)
    fit(pin_data, out, _config(3, MICRO, CASES["fixmatch"]), FitOptions(resume=True, **QUIET))
    rows = read_metrics(out)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert (rows[2]["train_loss"], rows[2]["val_loss"]) == pytest.approx(RUN_V1_EPOCH3, rel=1e-5)
