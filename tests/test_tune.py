"""crnn tune + crnn results: a real Optuna search under Ray Tune on a local Ray (2 CPUs)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from ray.tune import ExperimentAnalysis

from crnn.config import resolve_config
from tests.conftest import kill_session, wait_for
from tests.hooks.crnn_faults import faults
from tune.search.experiment import Experiment
from tune.search.run import TuneOptions, run_tune
from tune.search.space import load_space

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def search(digits_data, tmp_path_factory):
    """A real 3-trial search of the tiny preset, tracked in MLflow."""
    storage = tmp_path_factory.mktemp("exps")
    exp = run_tune(TuneOptions(data=str(digits_data), name="t3", preset="tiny", storage=str(storage), seed=1, logger="mlflow"))
    return exp


def test_the_table_is_built_from_the_files(search, cli):
    rows = Experiment.load(search).refresh()
    assert len(rows) == 3
    for row in rows:
        assert row["status"] in ("done", "early-stopped")
        assert 1 <= row["epochs"] <= 2 and row["exact_acc"] is not None and row["char_acc"] is not None
        assert {"blank_bias", "beam_width", "lr", "batch_size"} <= set(row)
    assert -5.0 in [r["blank_bias"] for r in rows]  # the reference configuration went first
    for name in ("trials.csv", "best_config.json", "plots/best_so_far.png", "plots/params.png", "plots/learning_curves.png"):
        assert (search / name).is_file(), name
    best = json.loads((search / "best_config.json").read_text())
    assert best["trial_id"] == rows[0]["trial_id"] and best["config"]["train"]["epochs"] == 2
    code, out, _ = cli("results", search, "--format", "json")
    listed = json.loads(out)
    assert code == 0 and len(listed) == 3
    for key in ("trial_id", "status", "exact_acc", "char_acc", "edit_distance", "blank_bias", "beam_width", "lr", "batch_size"):
        assert key in listed[0]
    code, out, _ = cli("results", search, "--top", "2", "--sort", "edit_distance", "--format", "markdown")
    assert code == 0 and [line[:2] for line in out.splitlines()] == ["| ", "|-", "| ", "| "]  # header, rule, 2 rows


def test_an_experiment_copied_to_s3_reads_back_the_same(search, s3, cli):
    """A search whose home is a bucket: `crnn results` pulls its files (not the checkpoints) and reads them."""
    from crnn import storage
    from tune.mirror import no_checkpoints

    storage.push_tree(search, f"{s3}/team/t3")
    code, out, err = cli("results", f"{s3}/team/t3", "--format", "json", "--no-plots")
    assert code == 0, err
    local = json.loads(out)
    code, out, _ = cli("results", "t3", "--experiments", f"{s3}/team", "--format", "json", "--no-plots")
    assert code == 0 and json.loads(out) == local
    assert [r["trial_id"] for r in local] == [r["trial_id"] for r in Experiment.load(search).rows()]
    copy = storage.cache_dir(f"{s3}/team/t3")
    assert (copy / "optuna.db").is_file() and not [p for p in copy.rglob("*") if no_checkpoints(p.relative_to(copy).as_posix())]


def test_optuna_study_holds_the_same_trials(search):
    study = optuna.load_study(study_name="t3", storage=f"sqlite:///{search / 'optuna.db'}")
    assert len(study.trials) == 3
    table = sorted((round(r["lr"], 12), r["batch_size"]) for r in Experiment.load(search).rows())
    stored = sorted((round(t.params["lr"], 12), t.params["batch_size"]) for t in study.trials)
    assert table == stored
    assert all(t.value is not None for t in study.trials)


def test_mlflow_holds_every_trial_with_its_params_and_epochs(search):
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{search / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("t3").experiment_id])
    assert len(runs) == 3 and not list(search.glob("*/events.out.tfevents*"))  # MLflow instead of TensorBoard
    by_lr = {round(float(r.data.params["lr"]), 12): r for r in runs}  # the searched params
    assert sorted(by_lr) == sorted(round(row["lr"], 12) for row in Experiment.load(search).rows())
    for run in runs:
        history = client.get_metric_history(run.info.run_id, "exact_acc")
        assert 1 <= len(history) <= 2 and all(0.0 <= m.value <= 1.0 for m in history)


def test_a_crashing_trial_is_retried_then_marked_errored(digits_data, tmp_path):
    trigger = tmp_path / "crash.json"
    trigger.write_text(json.dumps({"model.blank_bias": -5.0}))  # the reference point: the first trial
    with faults(crash_trials=str(trigger)):  # before Ray starts: trials inherit it
        exp = run_tune(TuneOptions(data=str(digits_data), name="c", preset="tiny", samples=2, storage=str(tmp_path)))
    rows = {r["blank_bias"]: r for r in Experiment.load(exp).rows()}
    crashed = rows.pop(-5.0)
    assert crashed["status"] == "errored" and "injected trial failure" in crashed["error"]
    assert [r["status"] for r in rows.values()] in (["done"], ["early-stopped"])  # the search went on
    failures = {t.trial_id: t.num_failures for t in ExperimentAnalysis(str(exp)).trials}
    assert failures[crashed["trial_id"]] == 2  # run twice: FailureConfig(max_failures=1) retried it once


def test_killing_the_driver_and_running_again_resumes(digits_data, tmp_path):
    cmd = [sys.executable, "-m", "crnn", "tune", "--data", str(digits_data), "--name", "r", "--preset", "tiny",
           "--samples", "2", "--max-concurrent", "1", "--experiments", str(tmp_path)]  # fmt: skip
    env = {**os.environ, "RAY_ADDRESS": ""}
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    exp = tmp_path / "r"

    def reported() -> int:
        return sum(len(p.read_text().splitlines()) for p in exp.glob("*/result.json"))

    wait_for(lambda: reported() >= 3, 300, "3 reported epochs: trial 1 finished (2 epochs), trial 2 started", poll=0.2)
    kill_session(first.pid)  # the driver and the Ray it started, actors included
    first.wait()
    assert reported() >= 3
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=400, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming experiment" in again.stdout
    rows = Experiment.load(exp).rows()
    assert len(rows) == 2 and all(r["status"] in ("done", "early-stopped") for r in rows)
    for trial_dir in exp.glob("*/result.json"):
        epochs = [json.loads(line)["epoch"] for line in trial_dir.read_text().splitlines()]
        assert epochs == sorted(set(epochs)), f"{trial_dir.parent.name} repeated an epoch: {epochs}"
    study = optuna.load_study(study_name="r", storage=f"sqlite:///{exp / 'optuna.db'}")
    assert len([t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--samples", "0"], "--samples 0: must be at least 1"),
        (["--max-epochs", "-1"], "--max-epochs -1: must be at least 1"),
        (["--scheduler", "hyperband"], "--scheduler 'hyperband'"),
        (["--preset", "huge"], "--preset 'huge'"),
    ],
)
def test_bad_flags_are_refused_before_ray_starts(digits_data, tmp_path, cli, args, message):
    code, _, err = cli("tune", "--data", digits_data, "--name", "x", "--experiments", tmp_path, *args)
    assert code == 2 and message in err
    assert not (tmp_path / "x").exists()


def test_not_a_dataset_and_unknown_metric(tmp_path, cli):
    code, _, err = cli("tune", "--data", tmp_path, "--name", "x", "--experiments", tmp_path)
    assert code == 2 and "not a dataset" in err
    code, _, err = cli("results", "nope", "--experiments", tmp_path)
    assert code == 2 and "no experiment" in err
    code, _, err = cli("results", "nope", "--sort", "speed")
    assert code == 2 and "--sort 'speed'" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("params:\n  train.lrr: {uniform: [0, 1]}\n", "'train.lrr' is not a config key"),
        ("params:\n  train.optim.lr: {gaussian: [0, 1]}\n", "unknown distribution 'gaussian'"),
        ("params:\n  train.optim.lr: {loguniform: [0, 1]}\n", "loguniform needs low > 0"),
        ("params:\n  train.optim.lr: {uniform: [1, 0]}\n", "needs low < high"),
        ("params:\n  train.batch_size: {choice: []}\n", "choice needs a list"),
        ("mode: merge\nparams:\n  train.optim.lr: {uniform: [0.1, 1]}\n", "mode 'merge'"),
        ("nothing: here\n", "non-empty 'params:'"),
    ],
)
def test_a_malformed_space_names_the_bad_entry(tmp_path, text, message):
    from crnn.errors import UserError

    path = tmp_path / "space.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        load_space(path)


def test_a_space_file_extends_the_default(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(
        "mode: extend\nparams:\n  model.hidden: {choice: [64, 96]}\n  train.optim.lr: {loguniform: [1.0e-3, 2.0e-3]}\n"
    )
    space = {p.name: p for p in load_space(path)}
    assert set(space) == {"blank_bias", "beam_width", "lr", "batch_size", "hidden"}
    assert space["lr"].args == (1e-3, 2e-3)


def test_a_space_file_of_the_old_flat_keys_still_extends_the_default(tmp_path, capsys):
    from crnn.config import overrides
    from tune.search.space import apply_params

    overrides._warned.clear()
    path = tmp_path / "space.yaml"
    path.write_text(
        "mode: extend\nparams:\n  train.lr: {loguniform: [1.0e-3, 2.0e-3]}\n  train.semi_threshold: {uniform: [0.8, 0.99]}\n"
    )
    space = load_space(path)
    keys = {p.name: p.key for p in space}
    assert keys["lr"] == "train.optim.lr" and keys["threshold"] == "train.semi.threshold" and len(space) == 5  # lr replaced
    assert "crnn: train.lr is now train.optim.lr" in capsys.readouterr().err
    config = apply_params(resolve_config("tiny"), space, {"lr": 1.5e-3, "threshold": 0.9, "blank_bias": -3.0, "beam_width": 3,
                                                            "batch_size": 32})  # fmt: skip
    assert (config.train.optim.lr, config.train.semi.threshold, config.train.eval.beam_width) == (1.5e-3, 0.9, 3)


def test_retrain_the_best_trial_writes_model_metrics_and_report(search, digits_data, tmp_path, cli):
    out = tmp_path / "final"
    code, text, err = cli("retrain", search, "--data", digits_data, "--out", out, "--epochs", "2")
    assert code == 0, err
    for name in ("checkpoints/best.pt", "model.onnx", "metrics.json", "report.md", "curves.png", "metrics.csv"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("exact_acc", "char_acc", "edit_distance", "cer", "exact_acc_nocase", "char_acc_nocase", "count"):
        assert key in metrics
    assert metrics["count"] == 12  # the test split, never seen by tuning
    lo, hi = metrics["exact_ci"]
    assert lo <= metrics["exact_acc"] <= hi and metrics["wrong"] == round(12 * (1 - metrics["exact_acc"]))
    best = json.loads((search / "best_config.json").read_text())  # written by run_tune itself
    assert metrics["trial_id"] == best["trial_id"] and metrics["beam_width"] == best["params"]["beam_width"]
    report = (out / "report.md").read_text()
    assert "53.06%" in report and "79.74%" in report and "curves.png" in report and "minutes of training" in report
    assert f"[{100 * lo:.2f}%, {100 * hi:.2f}%]" in report and "share of the true character's occurrences" in report


def test_retrain_stopped_midway_resumes(search, digits_data, tmp_path):
    out = tmp_path / "final"
    cmd = [sys.executable, "-m", "crnn", "retrain", str(search), "--data", str(digits_data), "--out", str(out), "--epochs", "5"]
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for((out / "checkpoints/last.pt").is_file, 120, "the retrain's first checkpoint", poll=0.05)
    kill_session(first.pid)
    first.wait()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming" in again.stdout
    epochs = [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) >= 2


def test_retrain_overrides_apply_and_a_changed_config_does_not_resume(search, digits_data, tmp_path, cli):
    out = tmp_path / "final"
    args = ("retrain", search, "--data", digits_data, "--out", out, "--epochs", "2")
    code, _, err = cli(*args, "--set", "train.schedule.name=onecycle", "--set", "train.optim.lr=4e-3")
    assert code == 0, err
    saved = json.loads((out / "config.json").read_text())["train"]
    assert saved["schedule"]["name"] == "onecycle" and saved["optim"]["lr"] == 4e-3 and saved["epochs"] == 2
    report = (out / "report.md").read_text()
    assert "one-cycle" in report and "`train.schedule.name=onecycle`" in report
    code, _, err = cli(*args, "--set", "train.optim.lr=1e-3")  # same --out, another config: refused, nothing overwritten
    assert code == 2 and f"{out}: holds a run of another configuration" in err and "train.optim.lr" in err
    code, _, err = cli(*args, "--set", "train.nope=1")
    assert code == 2 and "nope" in err


def test_retrain_without_a_finished_trial_is_refused(search, digits_data, tmp_path, cli):
    fresh = tmp_path / "fresh"  # what an experiment folder holds before any trial has reported
    fresh.mkdir()
    (fresh / "experiment.json").write_text((search / "experiment.json").read_text())
    code, _, err = cli("retrain", fresh, "--data", digits_data, "--out", tmp_path / "o")
    assert code == 2 and "no finished trial" in err
    code, _, err = cli("retrain", search, "--data", digits_data, "--out", tmp_path / "o", "--trial", "nope")
    assert code == 2 and "--trial nope: not a trial" in err


def test_retrain_on_data_without_test_images_is_refused_before_training(search, tmp_path, cli):
    code, _, _ = cli("data", "synth", "--out", tmp_path / "d", "--count", 24, "--split-sizes", "100/0/0", "--charset", "digits")
    assert code == 0
    code, _, err = cli("retrain", search, "--data", tmp_path / "d", "--out", tmp_path / "o")
    assert code == 2 and "split 'test' is empty (0 images); splits with images: train (24)" in err
    assert not (tmp_path / "o" / "checkpoints").exists()


def test_optuna_dashboard_serves_the_study(search):
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dashboard = str(Path(sys.executable).parent / "optuna-dashboard")
    proc = subprocess.Popen(
        [dashboard, f"sqlite:///{search / 'optuna.db'}", "--host", "127.0.0.1", "--port", str(port), "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline, body = time.time() + 60, ""
        while time.time() < deadline and not body:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2).read().decode()
            except OSError:
                time.sleep(0.3)
        studies = json.loads(body)["study_summaries"]
        assert [s["study_name"] for s in studies] == ["t3"]
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow  # ~35 s; a replaced worker is in tests/test_ray_train.py's default tests
def test_trials_with_two_workers_run_a_torchtrainer_each(digits_data, tmp_path):
    trigger = tmp_path / "crash-once"
    trigger.touch()  # rank 1 of the first Train run raises once as it reports epoch 2
    with faults(crash_once=str(trigger)):  # before Ray starts: its workers inherit it
        opts = TuneOptions(data=str(digits_data), name="w2", preset="tiny", samples=1, workers_per_trial=2, storage=str(tmp_path))
        exp = run_tune(opts)
    rows = Experiment.load(exp).rows()
    assert len(rows) == 1 and rows[0]["status"] in ("done", "early-stopped")
    runs = {p.name for p in (exp / "train_runs").iterdir()}
    assert runs == {r["trial_id"] for r in rows}  # each Train run is named after its trial, never a timestamp
    assert Path(str(trigger) + ".fired").exists()  # a worker did die...
    failures = [t.num_failures for t in ExperimentAnalysis(str(exp)).trials]
    assert failures == [0]  # ...and its TorchTrainer replaced it: the trial did not fail


BLANK_SPACE = "mode: replace\nparams:\n  model.blank_bias: {choice: [-5.0, 20.0]}\n  train.optim.lr: {choice: [1.0e-6]}\n"


@pytest.fixture(scope="module")
def one_char_data(tmp_path_factory):
    """1-character labels of '0'/'1': with the LR frozen, blank bias -5 reads half of them right (one
    class everywhere) and +20 none (all blank): a good and a bad trial, known before they run."""
    from tests.conftest import make_dataset

    return make_dataset(tmp_path_factory.mktemp("data") / "01", count=200, charset="01", length=(1, 1))


@pytest.mark.slow  # 35-44 s: the default suite stays under 10 minutes on 2 cores
def test_asha_stops_the_bad_trial_and_no_scheduler_stops_none(one_char_data, tmp_path, cli):
    space = tmp_path / "space.yaml"
    space.write_text(BLANK_SPACE)
    common = ("tune", "--data", one_char_data, "--preset", "tiny", "--samples", "2", "--max-concurrent", "1",
              "--space", space, "--experiments", tmp_path, "--seed", "1")  # fmt: skip
    code, out, err = cli(*common, "--name", "asha")
    assert code == 0, err
    rows = {r["blank_bias"]: r for r in Experiment.load(tmp_path / "asha").rows()}
    assert set(rows) == {-5.0, 20.0}  # the reference point first, then the other choice (seed 1)
    assert rows[-5.0]["status"] == "done" and rows[-5.0]["epochs"] == 2 and rows[-5.0]["exact_acc"] > 0
    assert rows[20.0]["exact_acc"] == 0.0
    assert rows[20.0]["status"] == "early-stopped" and rows[20.0]["epochs"] == 1  # below the rung's cutoff: stopped

    code, out, err = cli(*common, "--name", "fifo", "--scheduler", "none")
    assert code == 0, err
    rows = {r["blank_bias"]: r for r in Experiment.load(tmp_path / "fifo").rows()}
    assert set(rows) == {-5.0, 20.0} and all(r["status"] == "done" and r["epochs"] == 2 for r in rows.values())

    code, out, _ = cli("results", "fifo", "--experiments", tmp_path, "--format", "csv")
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].startswith("trial_id,status,blank_bias,lr,exact_acc") and len(lines) == 3
    code, out, _ = cli("results", "fifo", "--experiments", tmp_path, "--format", "table", "--sort", "exact_acc")
    header, *body = out.strip().splitlines()
    assert code == 0 and header.split()[:4] == ["trial_id", "status", "blank_bias", "lr"] and "2 trial(s)" in out
    assert float(body[0].split()[2]) == -5.0  # the best first


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--samples", "7"], "--samples 7 (stored: 3)"),
        (["--max-epochs", "5"], "--max-epochs 5 (stored: 2)"),
        (["--seed", "9"], "--seed 9 (stored: 1)"),
        (["--scheduler", "none"], "--scheduler 'none' (stored: 'asha')"),
        (["--space", "{space}"], "--space (another space)"),
        (["--data", "{other}"], "--data"),
    ],
)
def test_running_an_experiment_again_with_other_flags_is_refused(search, one_char_data, tmp_path, cli, flags, named):
    space = tmp_path / "space.yaml"
    space.write_text(BLANK_SPACE)
    flags = [f.format(space=space, other=one_char_data) for f in flags]
    data = one_char_data if "--data" in flags else json.loads((search / "experiment.json").read_text())["data"]
    if "--data" in flags:
        flags = flags[2:]
    before = sorted(p.name for p in search.iterdir())
    code, _, err = cli("tune", "--data", data, "--name", "t3", "--preset", "tiny", "--experiments", search.parent, *flags)
    assert code == 2 and "experiment t3 exists and was set up otherwise" in err and named in err, err
    assert sorted(p.name for p in search.iterdir()) == before  # nothing started
