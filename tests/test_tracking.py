"""Experiment tracking of `crnn train`: TensorBoard event files and a real MLflow store, read back."""

import json
import struct
import sys
from pathlib import Path

from tensorboardX.proto import event_pb2


def read_events(folder: Path) -> list:
    """Every Event record of the event files under ``folder`` (the TFRecord framing: length, crc, data, crc)."""
    events = []
    for path in sorted(folder.rglob("events.out.tfevents*")):
        data = path.read_bytes()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos : pos + 8])
            events.append(event_pb2.Event.FromString(data[pos + 12 : pos + 12 + length]))
            pos += 12 + length + 4
    return events


def test_train_writes_tensorboard_scalars_and_hparams_by_default(digits_data, tmp_path, cli):
    code, _, err = cli("train", "--data", digits_data, "--out", tmp_path / "run", "--preset", "tiny", "--set", "train.epochs=2")
    assert code == 0, err
    events = read_events(tmp_path / "run/tb")
    scalars = {}
    for e in events:
        for v in e.summary.value:
            if v.HasField("simple_value"):
                scalars.setdefault(v.tag, []).append((e.step, v.simple_value))
    assert [s for s, _ in scalars["exact_acc"]] == [1, 2] and [s for s, _ in scalars["train_loss"]] == [1, 2]
    assert {"val_loss", "char_acc", "edit_distance", "lr", "images_per_s"} <= set(scalars)
    plugins = {v.metadata.plugin_data.plugin_name for e in events for v in e.summary.value if v.HasField("metadata")}
    assert "hparams" in plugins  # TensorBoard's HParams view: the config with the best metrics
    hparams = [v.metadata.plugin_data.content for e in events for v in e.summary.value if v.metadata.plugin_data.plugin_name]
    assert any(b"model.hidden" in c for c in hparams) and any(b"best/exact_acc" in c for c in hparams)


def test_train_logs_to_a_real_mlflow_store(digits_data, tmp_path, cli):
    from mlflow import MlflowClient

    code, _, err = cli("train", "--data", digits_data, "--out", tmp_path / "run", "--preset", "tiny", "--set", "train.epochs=2",
                       "--logger", "mlflow")  # fmt: skip
    assert code == 0, err
    assert not (tmp_path / "run/tb").exists()
    client = MlflowClient(f"sqlite:///{tmp_path / 'run/mlflow.db'}")
    [run] = client.search_runs([client.get_experiment_by_name("crnn").experiment_id])
    assert run.info.run_name == "run" and run.info.status == "FINISHED"
    assert run.data.params["model.hidden"] == "64" and run.data.params["train.epochs"] == "2"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "exact_acc")] == [1, 2]
    assert 0.0 <= run.data.metrics["best_exact_acc"] <= 1.0
    assert run.data.params["model.channels"] == "[16, 32, 48]"  # a list as JSON, not a tuple's repr
    names = {a.path for a in client.list_artifacts(run.info.run_id)} | {
        a.path for a in client.list_artifacts(run.info.run_id, "model")
    }
    assert names >= {"config.json", "curves.png", "metrics.csv", "model", "model/model.onnx"}
    got = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / "back")))
    assert json.loads((got / "config.json").read_text()) == json.loads((tmp_path / "run/config.json").read_text())
    assert (got / "metrics.csv").read_bytes() == (tmp_path / "run/metrics.csv").read_bytes()
    assert (tmp_path / "run/mlartifacts").is_dir() and not (Path.cwd() / "mlruns").exists()  # kept in the run folder
    code, out, err = cli("eval", "--model", got / "model/model.onnx", "--data", digits_data, "--json")
    assert code == 0, err  # the logged model is a working ONNX model with its metadata
    assert json.loads(out)["count"] == 12


def test_no_logger_writes_nothing_and_a_bad_one_is_refused(digits_data, tmp_path, cli):
    code, _, err = cli("train", "--data", digits_data, "--out", tmp_path / "run", "--preset", "tiny", "--set", "train.epochs=1",
                       "--logger", "none")  # fmt: skip
    assert code == 0, err
    assert not (tmp_path / "run/tb").exists() and not (tmp_path / "run/mlflow.db").exists()
    code, _, err = cli("train", "--data", digits_data, "--out", tmp_path / "r2", "--logger", "wandb")
    assert code == 2 and "invalid choice: 'wandb'" in err


def test_tensorboard_without_tensorboardX_is_refused_before_training(digits_data, tmp_path, cli, monkeypatch):
    """Seen on a GPU box without Ray's extras: the default logger died with a traceback after the first epoch."""
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # `import tensorboardX` now raises ImportError
    code, _, err = cli("train", "--data", digits_data, "--out", tmp_path / "run", "--preset", "tiny", "--set", "train.epochs=1")
    assert code == 2 and "--logger tensorboard: tensorboardX is not installed" in err and "--logger none" in err
    assert "Traceback" not in err and not (tmp_path / "run/metrics.jsonl").exists()
