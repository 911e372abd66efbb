"""The one launcher: a run in this process, or on N Ray Train workers. Everything that trains calls
``run``: ``crnn train``, ``crnn.train``, search trials, assessment runs and retraining.

This is the lazy boundary of Ray: ``run`` imports ``crnn.training.ray_train`` (and with it Ray) only
when the run has workers, so ``crnn train`` without ``--workers`` never loads Ray.

Either way the run folder ``out`` ends up the same: config.json, metrics, curves and
checkpoints/{last,best}.pt, which every later step reads.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from crnn.config import RunConfig, resolve_config, resumed_config
from crnn.data.store import Dataset, load_dataset
from crnn.errors import UserError
from crnn.tracking import replay
from crnn.training.checkpoint import init_source
from crnn.training.fit import fit
from crnn.training.options import FitOptions, Launch
from crnn.training.rundir import RunDir, read_metrics

__all__ = ["Launch", "run", "run_config"]


def run(
    data: Dataset | str | Path,
    out: str | Path,
    config: RunConfig,
    launch: Launch | None = None,
    opts: FitOptions | None = None,
    *,
    init_from: str | Path | None = None,
    train_indices: list[int] | None = None,
) -> dict:
    """Train ``config`` on ``data`` (a dataset folder, or one already loaded) into ``out``; returns the best
    epoch's metrics. ``init_from``: a model to start from (workers load it themselves); ``train_indices``: train
    on these images of the train split only (``crnn assess``'s label budgets)."""
    launch, opts = launch or Launch(), opts or FitOptions()
    source = init_source(init_from)  # a clear error for a bad path before anything starts
    if not isinstance(data, Dataset):  # the checksums: a split whose rows were edited is refused, not trained on
        # (in a trial the driver that started the search checked them once: not again per trial)
        data = load_dataset(data, splits=("train", "val"), mmap=True, verify=not launch.in_trial)
    if not launch.workers:
        if train_indices is not None:
            data = data.with_train_subset(train_indices)
        return fit(data, Path(out), config, replace(opts, **source))
    if opts.overfit:
        raise UserError("--overfit runs in one process; drop --workers")
    from crnn.training import ray_train  # noqa: PLC0415 - the lazy boundary: Ray only for a run with workers

    job = ray_train.TrainJob(
        str(data.root.resolve()),
        Path(out),
        config,
        max_minutes=opts.max_minutes,
        init_from=str(Path(init_from).resolve()) if init_from else None,
        train_indices=train_indices,
    )
    best = ray_train.train_distributed(job, launch, data)
    if opts.tracker is not None:  # the workers do not track: their epochs are replayed from the run folder
        replay(opts.tracker, read_metrics(out), config.to_dict(), best or {})
    return best


def run_config(out: str | Path, preset: str, config_file: str | Path | None, sets: list[str] | None, resume: bool) -> RunConfig:
    """The config a run trains with: the preset with ``--config`` and ``--set`` on top, or on a resume the run's
    own config.json with them on top (it continues as it was configured, even after a preset changed)."""
    saved = RunDir(out).saved_config() if resume else None
    if saved is not None:
        return resumed_config(saved, config_file, sets)
    return resolve_config(preset, config_file, sets)
