"""A real multi-node Ray cluster on this machine (cluster/try-multinode.sh): a head and two worker
nodes, each a separate Ray node with an address of its own (a network namespace each where the
machine allows it, loopback aliases otherwise), token auth on, one shared folder. The three flows run
on it through `crnn submit`; nodes are lost mid-search and mid-training, and the head mid-search."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from crnn.training.checkpoint import load_checkpoint
from crnn.training.fit import read_metrics
from tests.conftest import make_dataset, wait_for
from tests.test_cluster import free_port

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "cluster" / "try-multinode.sh"


@dataclass
class Cluster:
    state: Path
    api: str  # http://HEAD:DPORT
    head_ip: str
    worker_ips: list[str]
    env: dict
    port: int
    dport: int

    @property
    def shared(self) -> Path:
        return self.state / "shared"

    def script(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
        argv = [str(SCRIPT), *args, "--state", str(self.state), "--port", str(self.port), "--dashboard-port", str(self.dport)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=self.env)

    def crnn(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "crnn", *map(str, args)], capture_output=True, text=True, timeout=timeout,
                              env=self.env)  # fmt: skip

    def submit(self, *command: str, job_id: str, wait: bool = True) -> subprocess.CompletedProcess:
        return self.crnn("submit", "--address", self.api, "--job-id", job_id, *(["--wait"] if wait else []), "--", *command)

    def wait_job(self, job_id: str, timeout: float = 600) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.crnn("jobs", "status", job_id, "--address", self.api).stdout.strip()
            if status.endswith(("SUCCEEDED", "FAILED", "STOPPED")):
                return status
            time.sleep(2)
        pytest.fail(f"job {job_id} did not end in {timeout:.0f} s")


def _up(state: Path, port: int, dport: int, env: dict) -> Cluster:
    cluster = Cluster(state, "", "", [], env, port, dport)
    up = cluster.script("up", "--workers", "2", "--num-cpus", "1")
    assert up.returncode == 0, up.stdout + up.stderr
    cluster.api = re.search(r"job API\s+(\S+)", up.stdout).group(1)
    cluster.head_ip = re.search(r"head (\S+):", up.stdout).group(1)
    cluster.worker_ips = re.search(r"workers ([\d. ]+)", up.stdout).group(1).split()
    return cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("mn")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env["RAY_AUTH_TOKEN_PATH"] = str(state / "head" / "auth_token")
    env.pop("RAY_ADDRESS", None)
    start = time.monotonic()
    cluster = _up(state, free_port(), free_port(), env)
    print(f"3-node cluster up in {time.monotonic() - start:.1f} s")
    make_dataset(cluster.shared / "data", count=240)
    yield cluster
    cluster.script("down")


def _trial_nodes(exp: Path) -> dict[str, list[tuple[int, str]]]:
    """trial id -> [(epoch, node address)] from each trial's result.json."""
    out = {}
    for path in exp.glob("*/result.json"):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        out[path.parent.name] = [(r["epoch"], r["node_ip"]) for r in rows if "epoch" in r]
    return out


@pytest.mark.slow  # ~90 s with the cluster's start: beyond the default suite's budget, like the rest of this file
def test_multinode_tune_results_retrain_eval(cluster):
    shared = cluster.shared
    tune = cluster.submit("tune", "--data", shared / "data", "--name", "flows", "--preset", "tiny", "--samples", "4",
                          "--experiments", shared / "exps", job_id="flows-tune")  # fmt: skip
    assert tune.returncode == 0 and "SUCCEEDED" in tune.stdout, tune.stdout[-3000:] + tune.stderr[-2000:]
    results = cluster.crnn("results", "flows", "--experiments", shared / "exps", "--format", "json")
    rows = json.loads(results.stdout)
    assert len(rows) == 4 and all(r["status"] in ("done", "early-stopped") for r in rows)
    assert len({r["node"] for r in rows}) >= 2  # the trials ran on more than one node
    table = cluster.crnn("results", "flows", "--experiments", shared / "exps").stdout
    assert table.splitlines()[0].split()[-1] == "node"

    out = shared / "runs" / "flows"
    retrain = cluster.submit("retrain", "flows", "--experiments", shared / "exps", "--data", shared / "data", "--out", out,
                             "--workers", "2", "--storage", f"file://{shared / 'ray'}", "--epochs", "2",
                             job_id="flows-retrain")  # fmt: skip
    assert retrain.returncode == 0, retrain.stdout[-3000:] + retrain.stderr[-2000:]
    nodes = json.loads((out / "config.json").read_text())["nodes"]
    assert len(nodes) == 2 and len(set(nodes)) == 2  # the two Train workers on two different nodes
    assert "ranks on nodes: 0=" in retrain.stdout
    evaluated = cluster.crnn("eval", "--model", out, "--data", shared / "data", "--json")
    assert evaluated.returncode == 0 and json.loads(evaluated.stdout)["count"] == 12


@pytest.mark.slow
def test_multinode_node_loss_during_a_search_loses_no_trial(cluster):
    shared, victim = cluster.shared, cluster.worker_ips[0]
    exp = shared / "exps" / "loss"
    cluster.submit("tune", "--data", shared / "data", "--name", "loss", "--preset", "tiny", "--samples", "4",
                   "--max-epochs", "20", "--scheduler", "none", "--experiments", shared / "exps", job_id="loss-tune",
                   wait=False)  # fmt: skip

    def victim_trial() -> str | None:
        return next((t for t, rows in _trial_nodes(exp).items() if sum(ip == victim for _e, ip in rows) >= 2), None)

    wait_for(lambda: victim_trial() is not None, 300, f"a trial with 2 epochs on worker node {victim}", poll=0.3)
    lost = victim_trial()
    killed = cluster.script("kill", "1")
    assert killed.returncode == 0, killed.stderr
    start = time.monotonic()
    assert cluster.wait_job("loss-tune").endswith("SUCCEEDED")
    print(f"search ended {time.monotonic() - start:.0f} s after the node was lost")
    rows = json.loads(cluster.crnn("results", "loss", "--experiments", shared / "exps", "--format", "json").stdout)
    assert len(rows) == 4 and all(r["status"] == "done" and r["epochs"] == 20 for r in rows)  # every trial accounted for
    history = _trial_nodes(exp)[lost]
    epochs = [e for e, _ip in history]
    assert epochs == list(range(1, 21))  # continued from its checkpoint: no epoch repeated, none missing
    assert {ip for e, ip in history if e > epochs[-1] - 3} != {victim}  # it finished on a surviving node
    assert cluster.script("start", "1").returncode == 0  # a replacement node joins for the next test


@pytest.mark.slow
def test_multinode_node_loss_during_training_continues_from_the_last_checkpoint(cluster):
    shared = cluster.shared
    out, storage = shared / "runs" / "lost", shared / "ray"
    cluster.submit("train", "--data", shared / "data", "--out", out, "--preset", "tiny", "--set", "train.epochs=25",
                   "--workers", "2", "--max-failures", "2", "--storage", f"file://{storage}", job_id="loss-train",
                   wait=False)  # fmt: skip
    wait_for(lambda: len(list((storage / "lost").glob("checkpoint_*"))) >= 2, 300, "two reported Train checkpoints", poll=0.3)
    logs = cluster.crnn("jobs", "logs", "loss-train", "--address", cluster.api).stdout
    placed = dict(re.findall(r"(\d)=([\d.]+)", re.search(r"ranks on nodes: ([^\n]*)", logs).group(1)))
    on_workers = [ip for ip in placed.values() if ip in cluster.worker_ips]
    assert on_workers, f"no rank on a worker node: {placed}"
    victim = cluster.worker_ips.index(on_workers[0]) + 1
    assert cluster.script("kill", str(victim)).returncode == 0
    assert cluster.wait_job("loss-train").endswith("SUCCEEDED")
    assert [r["epoch"] for r in read_metrics(out)] == list(range(1, 26))  # no finished epoch repeated
    state = load_checkpoint(out / "checkpoints" / "last.pt")["train_state"]
    assert len(state["resumed_after"]) >= 1 and state["resumed_after"][0] >= 2  # restarted from a checkpoint, not scratch
    assert cluster.script("start", str(victim)).returncode == 0


@pytest.mark.slow
def test_multinode_head_loss_then_the_same_command_resumes(cluster):
    shared = cluster.shared
    exp = shared / "exps" / "headloss"
    command = ("tune", "--data", shared / "data", "--name", "headloss", "--preset", "tiny", "--samples", "4", "--max-epochs",
               "15", "--scheduler", "none", "--max-concurrent", "2", "--experiments", shared / "exps")  # fmt: skip
    cluster.submit(*command, job_id="headloss-1", wait=False)
    wait_for(lambda: sum(len(r) for r in _trial_nodes(exp).values()) >= 20, 300, "20 reported epochs", poll=0.3)
    head_sid = int((cluster.state / "head" / "head.pid").read_text())
    subprocess.run(["kill", "-KILL", f"-{head_sid}"], check=False)  # the head and the search driver with it
    cluster.script("down")
    restarted = _up(cluster.state, cluster.port, cluster.dport, cluster.env)
    cluster.api = restarted.api
    again = cluster.submit(*command, job_id="headloss-2")
    assert again.returncode == 0 and "resuming experiment" in again.stdout, again.stdout[-3000:] + again.stderr[-2000:]
    rows = json.loads(cluster.crnn("results", "headloss", "--experiments", shared / "exps", "--format", "json").stdout)
    assert len(rows) == 4 and all(r["status"] == "done" and r["epochs"] == 15 for r in rows)
    for trial, history in _trial_nodes(exp).items():
        epochs = [e for e, _ip in history]
        assert epochs == sorted(set(epochs)), f"{trial} repeated an epoch: {epochs}"
