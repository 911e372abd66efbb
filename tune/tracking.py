"""Ray Tune's logger callbacks for ``--logger`` (the searches and assessments); a single run's tracker is
``crnn.tracking``."""

from __future__ import annotations

import os
from pathlib import Path

from ray.air.integrations.mlflow import MLflowLoggerCallback
from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback, TBXLoggerCallback

from crnn.tracking import check_logger, mlflow_uri


def tune_callbacks(kind: str, storage: str | Path, uri: str | None, experiment: str) -> list:
    """Ray Tune's logger callbacks for ``--logger``: the JSON and CSV results crnn reads back always, and
    TensorBoard (TBXLoggerCallback: scalars per report, HParams per trial) or MLflow (MLflowLoggerCallback)."""
    check_logger(kind)
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"  # exactly these, no TensorBoard files by accident
    callbacks = [JsonLoggerCallback(), CSVLoggerCallback()]
    if kind == "tensorboard":
        callbacks.append(TBXLoggerCallback())
    elif kind == "mlflow":
        callbacks.append(MLflowLoggerCallback(tracking_uri=mlflow_uri(storage, uri), experiment_name=experiment))
    return callbacks
