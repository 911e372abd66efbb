"""A search and an assessment whose home is a real S3-compatible server (moto's, on 127.0.0.1): each
is killed midway, its local working copy deleted, and the same command resumes it from the bucket."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import optuna
import pytest

from crnn import storage
from tests.conftest import kill_session, wait_for

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _start(cmd: list[str], log: Path) -> subprocess.Popen:
    """Run ``cmd`` in a session of its own, its output copied line by line into ``log``."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "RAY_ADDRESS": ""},
    )  # fmt: skip

    def copy() -> None:
        with log.open("w") as f:
            for line in proc.stdout:
                f.write(line)
                f.flush()

    threading.Thread(target=copy, daemon=True).start()
    return proc


def _epochs(result_json: Path) -> list[int]:
    return [json.loads(line)["epoch"] for line in result_json.read_text().splitlines() if line.strip()]


def test_a_search_on_s3_resumes_after_a_kill_and_results_read_it(s3, digits_data, tmp_path, monkeypatch):
    cmd = [sys.executable, "-m", "crnn", "tune", "--data", str(digits_data), "--name", "r", "--preset", "tiny",
           "--samples", "2", "--max-epochs", "3", "--max-concurrent", "1", "--scheduler", "none",
           "--experiments", f"{s3}/exps"]  # fmt: skip
    log = tmp_path / "first.log"
    first = _start(cmd, log)
    wait_for(lambda: log.is_file() and log.read_text().count("epoch 2/3") >= 2, 300, "trial 2 at its second epoch")
    kill_session(first.pid)
    first.wait()
    shutil.rmtree(os.environ["CRNN_CACHE_DIR"])  # everything the resume knows comes from the bucket,
    monkeypatch.setenv("CRNN_CACHE_DIR", str(tmp_path / "other-machine"))  # read into another working copy

    refused = subprocess.run(cmd, capture_output=True, text=True, timeout=200, env={**os.environ, "RAY_ADDRESS": ""})
    assert refused.returncode == 2 and "--trust-experiment" in refused.stderr  # Tune's state in a bucket is pickled
    again = subprocess.run(
        [*cmd, "--trust-experiment"], capture_output=True, text=True, timeout=400, env={**os.environ, "RAY_ADDRESS": ""}
    )
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "resuming experiment s3://" in again.stdout
    copy = storage.cache_dir(f"{s3}/exps/r")
    trials = sorted(copy.glob("*/result.json"))
    assert len(trials) == 2
    for result in trials:
        epochs = _epochs(result)
        assert epochs == [1, 2, 3], f"{result.parent.name}: {epochs}\n{log.read_text()[-2000:]}\n{again.stdout[-3000:]}"
    study = optuna.load_study(study_name="r", storage=f"sqlite:///{copy / 'optuna.db'}")
    states = sorted(t.state.name for t in study.trials)
    assert states.count("COMPLETE") == 2 and "RUNNING" not in states, states  # the killed run's trial: FAIL

    monkeypatch.setenv("CRNN_CACHE_DIR", str(tmp_path / "elsewhere"))  # a colleague's machine
    table = subprocess.run(
        [sys.executable, "-m", "crnn", "results", "r", "--experiments", f"{s3}/exps", "--no-plots"],
        capture_output=True, text=True, timeout=200,
    )  # fmt: skip
    assert table.returncode == 0, table.stderr[-2000:]
    assert table.stdout.count(" done ") == 2 and "2 trial(s)" in table.stdout


def test_an_assessment_on_s3_resumes_after_a_kill(s3, digits_data, tmp_path):
    out = tmp_path / "here" / "rep"
    cmd = [sys.executable, "-m", "crnn", "assess", "--data", str(digits_data), "--out", str(out), "--storage",
           f"{s3}/assess", "--sizes", "50,200", "--attackers", "scratch", "--preset", "tiny", "--min-images", "1600",
           "--max-epochs", "6", "--max-concurrent", "1", "--logger", "none"]  # fmt: skip
    log = tmp_path / "first.log"
    first = _start(cmd, log)
    wait_for(lambda: log.is_file() and "[scratch n=200 r=0] epoch 2 " in log.read_text(), 300, "the second run's epoch 2")
    kill_session(first.pid)
    first.wait()
    shutil.rmtree(out)  # the working copy is gone: the bucket holds the plan and the runs

    again = subprocess.run(
        [*cmd, "--trust-experiment"], capture_output=True, text=True, timeout=400, env={**os.environ, "RAY_ADDRESS": ""}
    )
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "resuming round 0" in again.stdout and "[scratch n=50 r=0] epoch 1 " not in again.stdout
    for result in sorted((out / "runs" / "round-0").glob("*/result.json")):
        epochs = _epochs(result)
        assert epochs == sorted(set(epochs)), f"{result.parent.name} repeated an epoch: {epochs}"
    a = json.loads((out / "assessment.json").read_text())
    assert [r["train_images"] for r in a["attackers"]["scratch"]["curve"]] == [50, 200]

    elsewhere = tmp_path / "colleague" / "rep"  # the same name under another folder: the same home
    report = subprocess.run(
        [sys.executable, "-m", "crnn", "assess", "--out", str(elsewhere), "--storage", f"{s3}/assess", "--report-only"],
        capture_output=True, text=True, timeout=200,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr[-2000:]
    assert json.loads((elsewhere / "assessment.json").read_text())["curve"] == a["curve"]
    fs, path = storage.filesystem(f"{s3}/assess/rep")
    assert fs.get_file_info(f"{path}/report.md").size > 0
