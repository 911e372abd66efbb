"""Experiment tracking: per-epoch figures and, at the end, the hyperparameters with the metrics they
reached, to TensorBoard (``tensorboardX`` event files in ``RUN/tb``) or MLflow (a local SQLite store,
``RUN/mlflow.db`` unless ``--tracking-uri`` names another), so TensorBoard's HParams view and MLflow's
compare view show a search. ``crnn tune`` and ``crnn assess`` use Ray Tune's own logger callbacks
(``tune.tracking.tune_callbacks``); ``crnn train`` and ``crnn retrain`` a ``Tracker`` in the training loop.
"""

from __future__ import annotations

import importlib
import json
import math
import tempfile
from pathlib import Path

from tensorboardX import SummaryWriter

from crnn.errors import UserError

LOGGERS = ("tensorboard", "mlflow", "none")
EPOCH_KEYS = (
    "train_loss",
    "val_loss",
    "exact_acc",
    "char_acc",
    "edit_distance",
    "cer",
    "lr",
    "images_per_s",
    "pseudo_kept",
    "pseudo_right",
)
BEST_KEYS = ("exact_acc", "char_acc", "edit_distance", "cer")


# what each logger imports, and how to get it: checked before training, not after its first epoch
LOGGER_PACKAGES = {
    "tensorboard": ("tensorboardX", "tensorboardX is not installed; pip install tensorboardX, or pass --logger none"),
    "mlflow": ("mlflow", "MLflow is not installed; pip install 'crnn-tune[tracking]' (mlflow-skinny)"),
}


def check_logger(kind: str) -> None:
    if kind not in LOGGERS:
        raise UserError(f"--logger {kind!r}: accepted: {', '.join(LOGGERS)}")
    if kind in LOGGER_PACKAGES:
        package, advice = LOGGER_PACKAGES[kind]
        try:
            importlib.import_module(package)
        except ImportError:
            raise UserError(f"--logger {kind}: {advice}") from None


def mlflow_uri(out: str | Path, uri: str | None) -> str:
    """The MLflow store: ``uri`` as given, else a SQLite file in ``out`` (MLflow's own local store)."""
    return uri or f"sqlite:///{Path(out).resolve() / 'mlflow.db'}"


def flat_config(config: dict) -> dict[str, float | int | str | bool]:
    """``{"model": {"hidden": 96}}`` -> ``{"model.hidden": 96}``; lists as JSON text, ``[16, 32, 48]`` (HParams and
    MLflow params take scalars)."""
    out = {}
    for section, values in config.items():
        if isinstance(values, dict):
            for key, value in values.items():
                scalar = isinstance(value, (int, float, str, bool))
                out[f"{section}.{key}"] = value if scalar else json.dumps(list(value) if isinstance(value, tuple) else value)
    return out


class Tracker:
    """No tracking (``--logger none``); the base of the others."""

    def log_epoch(self, row: dict) -> None:
        pass

    def finish(self, config: dict, best: dict) -> None:
        pass


class TensorBoardTracker(Tracker):
    """Event files in ``OUT/tb``, created at the first epoch (a run refused before training writes nothing)."""

    def __init__(self, out: str | Path) -> None:
        self.folder, self._writer = Path(out) / "tb", None

    @property
    def writer(self):
        if self._writer is None:
            self._writer = SummaryWriter(str(self.folder))
        return self._writer

    def log_epoch(self, row: dict) -> None:
        for key in EPOCH_KEYS:
            if isinstance(row.get(key), (int, float)) and math.isfinite(row[key]):
                self.writer.add_scalar(key, row[key], global_step=int(row["epoch"]))
        self.writer.flush()

    def finish(self, config: dict, best: dict) -> None:
        metrics = {f"best/{k}": float(best[k]) for k in BEST_KEYS if k in best}
        self.writer.add_hparams(flat_config(config), metrics, name="hparams")
        self.writer.close()


class MlflowTracker(Tracker):
    """One MLflow run, created at the first epoch (a run refused before training writes nothing)."""

    def __init__(self, out: str | Path, uri: str | None, experiment: str) -> None:
        self.out, self.uri, self.experiment, self._run_id = Path(out), uri, experiment, None

    @property
    def run_id(self) -> str:
        if self._run_id is None:
            import mlflow  # noqa: PLC0415 - the optional `tracking` extra, only for --logger mlflow

            self.client = mlflow.MlflowClient(mlflow_uri(self.out, self.uri))
            found = self.client.get_experiment_by_name(self.experiment)
            # crnn's own store keeps its artifacts beside it in the run folder (MLflow's default: ./mlruns, wherever it runs)
            where = None if self.uri else (self.out.resolve() / "mlartifacts").as_uri()
            exp_id = found.experiment_id if found else self.client.create_experiment(self.experiment, artifact_location=where)
            self._run_id = self.client.create_run(exp_id, run_name=self.out.name).info.run_id
        return self._run_id

    def log_epoch(self, row: dict) -> None:
        step = int(row["epoch"])
        run_id = self.run_id
        for key in EPOCH_KEYS:
            if isinstance(row.get(key), (int, float)) and math.isfinite(row[key]):
                self.client.log_metric(run_id, key, float(row[key]), step=step)

    def finish(self, config: dict, best: dict) -> None:
        run_id = self.run_id
        for key, value in flat_config(config).items():
            self.client.log_param(run_id, key, value)
        for key in BEST_KEYS:
            if key in best:
                self.client.log_metric(self.run_id, f"best_{key}", float(best[key]))
        self._log_artifacts(run_id)
        self.client.set_terminated(self.run_id)

    def _log_artifacts(self, run_id: str) -> None:
        """The run's config.json, curves.png and metrics.csv, and its best model as ``model/model.onnx`` (with the
        ``crnn.*`` metadata that `crnn predict` and `crnn eval` read)."""
        for name in ("config.json", "curves.png", "metrics.csv"):
            if (self.out / name).is_file():
                self.client.log_artifact(run_id, str(self.out / name))
        best = self.out / "checkpoints" / "best.pt"
        if best.is_file():
            from crnn.inference.export import export_checkpoint  # noqa: PLC0415 - torch and onnx only at a tracked run's end

            with tempfile.TemporaryDirectory() as tmp:
                onnx = export_checkpoint(best, "onnx", Path(tmp) / "model.onnx")
                self.client.log_artifact(run_id, str(onnx), artifact_path="model")


def replay(tracker: Tracker, rows: list[dict], config: dict, best: dict) -> None:
    """Track a finished run from its metrics rows (a Ray Train run: its epochs ran on the workers)."""
    for row in rows:
        tracker.log_epoch(row)
    tracker.finish(config, best)


def make_tracker(kind: str, out: str | Path, uri: str | None = None, experiment: str = "crnn") -> Tracker:
    check_logger(kind)
    if kind == "tensorboard":
        return TensorBoardTracker(out)
    if kind == "mlflow":
        return MlflowTracker(out, uri, experiment)
    return Tracker()
