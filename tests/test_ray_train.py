"""Ray Train: the same `fit` on 2 CPU workers of a local Ray (num_cpus=2)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from crnn.charset import Charset
from crnn.config import resolve_config
from crnn.data.batches import Batches
from crnn.data.store import load_dataset
from crnn.data.synth import SynthSpec, synthesize
from crnn.training import launch
from crnn.training.amp import choose_precision
from crnn.training.checkpoint import load_checkpoint, load_model
from crnn.training.fit import FitOptions, fit, read_metrics
from crnn.training.launch import Launch
from crnn.training.loop import evaluate
from crnn.training.step import StepContext
from tests.conftest import kill_session, wait_for
from tests.hooks.crnn_faults import faults

pytestmark = pytest.mark.ray
QUIET = {"progress": False, "log": lambda line: None}


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    import ray

    trigger = tmp_path_factory.mktemp("crash") / "crash-once"
    os.environ["RAY_TRAIN_HEALTH_CHECK_INTERVAL_S"] = "0.25"
    with faults(crash_once=str(trigger)):  # before Ray starts, so that its workers inherit it
        ray.init(address="local", num_cpus=2, include_dashboard=True, dashboard_host="127.0.0.1", log_to_driver=False)
    yield trigger
    ray.shutdown()


@pytest.fixture(scope="module")
def data32(tmp_path_factory):
    """40 digit CAPTCHAs: 32 train, 4 val, 4 test."""
    out = tmp_path_factory.mktemp("data") / "d40"
    synthesize(out, SynthSpec(charset="0123456789", seed=5), 40, (0.8, 0.1, 0.1), workers=1, progress=False)
    return out


def test_two_workers_train_end_to_end(local_ray, digits_data, tmp_path, cli):
    cfg = resolve_config("tiny", None, ["train.epochs=2"])
    best = launch.run(str(digits_data), tmp_path / "run", cfg, Launch(workers=2))
    run = tmp_path / "run"
    for name in ("config.json", "metrics.csv", "metrics.jsonl", "curves.png", "checkpoints/best.pt", "checkpoints/last.pt"):
        assert (run / name).is_file(), name
    rows = read_metrics(run)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert best == max(rows, key=lambda r: r["exact_acc"])  # the first epoch of the best val exact accuracy
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["charset"] == "0123456789" and config["world_size"] == 2 and str(tmp_path) not in json.dumps(config)
    assert list((run / "ray" / "train").glob("checkpoint_*"))  # what Ray kept, by val exact accuracy
    state = load_checkpoint(run / "checkpoints/last.pt")
    assert not any(k.startswith("module.") for k in state["model"])  # the unwrapped model, not DDP's
    # each worker scored half the val split; together they logged what one process scores on all of it
    val = load_dataset(digits_data).split("val")
    charset = Charset(state["charset"])
    ctx = StepContext(charset, autocast=choose_precision(cfg.train.amp, torch.device("cpu")).autocast)
    scored = load_model(run / "checkpoints/last.pt").model
    metrics, _ = evaluate(scored, Batches(val.images, val.labels, charset, 256), val.labels, ctx)
    assert metrics["char_acc"] == pytest.approx(rows[-1]["char_acc"]) and metrics["exact_acc"] == pytest.approx(
        rows[-1]["exact_acc"]
    )
    assert metrics["loss"] == pytest.approx(rows[-1]["val_loss"], rel=1e-4)
    code, out, _ = cli("eval", "--model", run, "--data", digits_data, "--json")
    assert code == 0 and '"count": 12' in out
    png = tmp_path / "x.png"
    from PIL import Image

    Image.fromarray(load_dataset(digits_data).split("test").images[0]).save(png)
    code, out, _ = cli("predict", "--model", run, png)
    assert code == 0 and out.startswith(str(png) + "\t")


def test_one_config_trains_the_same_on_one_process_and_two_workers(local_ray, data32, tmp_path):
    """train.batch_size is the global batch: one SGD step of 32 images on 1 process == 2 workers x 16
    (GroupNorm: no batch statistics). Per-worker batches would make it 2 steps of 64 images."""
    sets = [
        "train.epochs=1",
        "train.optim.name=sgd",
        "train.optim.lr=0.05",
        "train.optim.grad_clip=0",
        "train.schedule.warmup_steps=0",
        "model.norm=group",
        "train.amp=off",  # bf16 rounds a batch of 32 and two of 16 differently
    ]
    config = resolve_config("tiny", None, [*sets, "train.batch_size=32"])
    fit(load_dataset(data32), tmp_path / "one", config, FitOptions(**QUIET))
    launch.run(str(data32), tmp_path / "two", config, Launch(workers=2))
    a = load_checkpoint(tmp_path / "one/checkpoints/last.pt")
    b = load_checkpoint(tmp_path / "two/checkpoints/last.pt")
    assert a["schedule"]["steps"] == b["schedule"]["steps"] == 1
    for k, v in a["model"].items():  # without the gradient all-reduce, rank 0 would have seen half the batch
        assert torch.allclose(v.float(), b["model"][k].float(), atol=2e-6, rtol=1e-4), k


def test_a_worker_that_dies_is_replaced_and_finished_epochs_are_not_repeated(local_ray, digits_data, tmp_path):
    local_ray.touch()  # arm the one-time crash of rank 1 as it reports epoch 2
    cfg = resolve_config("tiny", None, ["train.epochs=3"])
    launch.run(str(digits_data), tmp_path / "run", cfg, Launch(workers=2, max_failures=1))
    assert Path(str(local_ray) + ".fired").exists()  # it did crash
    assert [r["epoch"] for r in read_metrics(tmp_path / "run")] == [1, 2, 3]
    # the restarted workers continued from epoch 1's checkpoint: a restart from scratch would say []
    assert load_checkpoint(tmp_path / "run/checkpoints/last.pt")["train_state"]["resumed_after"] == [1]


@pytest.mark.slow  # ~70 s: two Ray start-ups; the worker-kill test above covers resuming from a reported checkpoint
def test_the_same_command_resumes_a_killed_run(digits_data, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "crnn", "train", "--data", str(digits_data), "--out", str(out), "--preset", "tiny",
           "--workers", "2", "--set", "train.epochs=4"]  # fmt: skip
    env = {**os.environ, "RAY_ADDRESS": ""}
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    wait_for(lambda: len(list((out / "ray" / "train").glob("checkpoint_*"))) >= 2, 240, "two reported checkpoints")
    kill_session(first.pid)  # the driver and the Ray it started
    first.wait()
    done = len(list((out / "ray" / "train").glob("checkpoint_*")))
    assert 2 <= done < 4
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert [r["epoch"] for r in read_metrics(out)] == [1, 2, 3, 4]
    log = again.stdout + again.stderr
    assert "epoch 4/4" in log and "epoch 1/4" not in log
