"""``fit``: train one config on one dataset, on one process or as one rank of a Ray Train run.

``crnn train`` calls ``fit`` in-process; the Ray Train worker calls the same ``fit`` on every worker
with its rank and a ``wrap_model`` (DDP). Only rank 0 writes and logs. The work is the ``Trainer``'s
(``crnn.training.trainer``), assembled by ``build_trainer`` (``crnn.training.build``).

``train.batch_size`` is the global batch: with N workers each takes ``batch_size / N`` per step, so
a config trains the same way whatever the number of workers.
"""

from __future__ import annotations

from pathlib import Path

from crnn.config import RunConfig
from crnn.data.store import Dataset
from crnn.training.build import build_trainer, pick_device, worker_batch_size
from crnn.training.options import FitOptions
from crnn.training.rundir import read_metrics

__all__ = ["FitOptions", "fit", "pick_device", "read_metrics", "worker_batch_size"]


def fit(data: Dataset, out: str | Path, config: RunConfig, opts: FitOptions | None = None) -> dict:
    """Train ``config`` on ``data``, writing the run into ``out``; returns the best epoch's metrics."""
    return build_trainer(data, out, config, opts or FitOptions()).fit()
