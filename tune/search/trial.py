"""What one Tune trial runs: the crnn training function with the sampled hyperparameters.

A trial with one worker trains in its own process (it starts in seconds); a trial with more runs a
``TorchTrainer`` the way Ray's Train-V2 docs prescribe: a small driver function per trial, the run
named after the trial id, and ``TuneReportCallback`` carrying every epoch's metrics back to Tune.
Both go through the one launcher, ``crnn.training.launch.run``.
Either way every epoch reports val exact/char accuracy, edit distance, CER, both losses, the
learning rate, images/s and ``epoch`` (ASHA's clock: ``training_iteration`` restarts on resume).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray.tune

from crnn.config import RunConfig, apply_overrides
from crnn.data.store import load_dataset
from crnn.training.launch import Launch, run
from crnn.training.options import FitOptions
from crnn.training.ray_glue import report_epoch, resume_path
from tune.search.space import Param, apply_params


@dataclass(frozen=True)
class TrialSetup:
    """Everything a trial needs, picklable; stored in the experiment so a resume rebuilds it."""

    data: str
    base: dict  # RunConfig.to_dict() of the base preset
    space: list[dict] = field(default_factory=list)  # Param fields
    max_epochs: int = 10
    workers: int = 1
    gpus_per_worker: float = 0.0
    trial_storage: str = ""  # where multi-worker trials keep their Ray Train runs
    worker_failures: int = 1  # dead Train workers a multi-worker trial replaces before it fails

    def params(self) -> list[Param]:
        return [Param(p["key"], p["kind"], tuple(p["args"])) for p in self.space]

    def config_for(self, values: dict[str, Any]) -> RunConfig:
        base = apply_overrides(RunConfig.from_dict(self.base), {"train.epochs": self.max_epochs})
        return apply_params(base, self.params(), values)


def run_trial(values: dict[str, Any], setup: TrialSetup) -> None:
    """The Tune trainable (wrapped with ``tune.with_parameters`` and resources by the driver): the run in the
    trial's own process (it starts in seconds), or on ``setup.workers`` Ray Train workers named after the trial."""
    for name in ("ray.tune", "ray.train"):  # one line per epoch comes from the driver; not Ray's chatter
        logging.getLogger(name).setLevel(logging.WARNING)
    config = setup.config_for(values)
    launch = Launch(
        workers=setup.workers if setup.workers > 1 else 0,
        gpus_per_worker=setup.gpus_per_worker,
        storage=setup.trial_storage if setup.workers > 1 else None,
        max_failures=setup.worker_failures,
        in_trial=True,
    )

    def report(row: dict, last_pt: Path | None, improved: bool) -> None:
        report_epoch(ray.tune.report, ray.tune.Checkpoint, row, last_pt)  # ray

    with tempfile.TemporaryDirectory() as scratch:
        # Ray sets OMP_NUM_THREADS to the trial's CPU count, so torch uses what the trial reserved.
        data = setup.data if launch.workers else load_dataset(setup.data, splits=("train", "val"), mmap=True)
        opts = FitOptions(
            device="cuda" if setup.gpus_per_worker > 0 else "cpu",
            on_epoch_end=report,
            progress=False,
            log=lambda line: None,
            resume_from=resume_path(ray.tune.get_checkpoint(), scratch),  # ray: set when the trial resumes
        )
        run(data, Path(scratch) / "run", config, launch, opts)
