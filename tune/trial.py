"""What one Tune trial runs: the crnn training function with the sampled hyperparameters.

A trial with one worker calls ``fit`` directly (it starts in seconds); a trial with more builds a
``TorchTrainer`` the way Ray's Train-V2 docs prescribe: a small driver function per trial, the run
named after the trial id, and ``TuneReportCallback`` carrying every epoch's metrics back to Tune.
Either way every epoch reports val exact/char accuracy, edit distance, CER, both losses, the
learning rate, images/s and ``epoch`` (ASHA's clock: ``training_iteration`` restarts on resume).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crnn.config import RunConfig, apply_overrides
from crnn.data.store import load_dataset
from crnn.training.fit import FitOptions, fit
from crnn.training.ray_glue import loop_config, report_epoch, resume_path, torch_trainer
from tune.space import Param, apply_params

# Tests only: a path to a JSON object of parameter values; while the file exists, a trial whose
# sampled values match it raises as it starts, every time it runs.
CRASH_ENV = "CRNN_TEST_CRASH_TRIALS"


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
        base = apply_overrides(RunConfig.from_dict(self.base), {"train": {"epochs": self.max_epochs}})
        return apply_params(base, self.params(), values)


def _crashes_for_test(values: dict[str, Any]) -> bool:
    trigger = os.environ.get(CRASH_ENV)
    if not trigger or not Path(trigger).exists():
        return False
    return all(values.get(k) == v for k, v in json.loads(Path(trigger).read_text()).items())


def run_trial(values: dict[str, Any], setup: TrialSetup) -> None:
    """The Tune trainable (wrapped with ``tune.with_parameters`` and resources by the driver)."""
    for name in ("ray.tune", "ray.train"):  # one line per epoch comes from the driver; not Ray's chatter
        logging.getLogger(name).setLevel(logging.WARNING)
    if _crashes_for_test(values):
        raise RuntimeError("injected trial failure (CRNN_TEST_CRASH_TRIALS)")
    config = setup.config_for(values)
    if setup.workers > 1:
        _run_with_train(config, setup)
    else:
        _run_in_trial(config, setup)


def _run_in_trial(config: RunConfig, setup: TrialSetup) -> None:
    import ray.tune  # noqa: PLC0415

    # Ray sets OMP_NUM_THREADS to the trial's CPU count, so torch uses what the trial reserved.
    data = load_dataset(setup.data, splits=("train", "val"), mmap=True)  # concurrent trials share the page cache

    def report(row: dict, last_pt: Path | None, improved: bool) -> None:
        report_epoch(ray.tune.report, ray.tune.Checkpoint, row, last_pt)  # ray

    with tempfile.TemporaryDirectory() as scratch:
        device = "cuda" if setup.gpus_per_worker > 0 else "cpu"
        opts = FitOptions(
            device=device, on_epoch_end=report, progress=False, log=lambda line: None,
            resume_from=resume_path(ray.tune.get_checkpoint(), scratch),  # ray: set when the trial resumes
        )  # fmt: skip
        fit(data, Path(scratch) / "run", config, opts)


def _run_with_train(config: RunConfig, setup: TrialSetup) -> None:
    import ray.tune  # noqa: PLC0415
    from ray.tune.integration.ray_train import TuneReportCallback  # noqa: PLC0415

    from crnn.training.ray_train import train_worker  # noqa: PLC0415

    trainer = torch_trainer(
        train_worker, loop_config(config, setup.data), workers=setup.workers, gpus_per_worker=setup.gpus_per_worker,
        name=ray.tune.get_context().get_trial_id(), storage_path=setup.trial_storage,
        max_failures=setup.worker_failures, callbacks=[TuneReportCallback()],
    )  # fmt: skip
    trainer.fit()
