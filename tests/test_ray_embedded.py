"""A command without --address starts its own Ray, whatever `ray start` left on the machine: a live head
(too small, or another's) or the address file of a dead one (which made `ray.init()` wait on a gone GCS)."""

import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import kill_session, wait_for

pytestmark = pytest.mark.ray
ADDRESS_FILE = Path("/tmp/ray/ray_current_cluster")  # where `ray start` records its cluster for ray.init()
PROBE = """
import os, ray
from crnn.training.ray_glue import init_ray_for_trials
started, embedded = init_ray_for_trials(None)
print("cpus", int(ray.cluster_resources()["CPU"]), "slots", int(ray.cluster_resources()["trial_slot"]), started, embedded)

@ray.remote(num_cpus=0)
def nodes_seen_by_a_worker():  # what Ray Train's own actors do: the State API, no address given
    from ray.util.state import list_nodes
    return len(list_nodes())

print("a worker sees", ray.get(nodes_seen_by_a_worker.remote()), "node(s)")
ray.shutdown()
"""


@contextlib.contextmanager
def recorded_address(address: str | None):
    """The machine's address file saying ``address`` for the test (restored after: it is not ours)."""
    before = ADDRESS_FILE.read_text() if ADDRESS_FILE.is_file() else None
    try:
        if address is not None:
            ADDRESS_FILE.parent.mkdir(parents=True, exist_ok=True)
            ADDRESS_FILE.write_text(address)
        yield
    finally:
        if before is None:
            ADDRESS_FILE.unlink(missing_ok=True)
        else:
            ADDRESS_FILE.write_text(before)


def probe() -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, env=env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_dead_heads_address_file_does_not_hang_a_command():
    with recorded_address(f"127.0.0.1:{free_port()}"):  # nothing listens there
        proc = probe()
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"cpus {os.cpu_count()} slots {os.cpu_count()} True True" in proc.stdout and "note:" not in proc.stdout
    assert "a worker sees 1 node(s)" in proc.stdout


def test_a_live_head_is_named_and_left_alone(tmp_path):
    port = free_port()
    with recorded_address(None):
        head = subprocess.Popen(
            [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--port", str(port), "--num-cpus", "1",
             "--include-dashboard", "false", "--node-ip-address", "127.0.0.1", "--block"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"},  # as start-local.sh
        )  # fmt: skip
        try:
            wait_for(
                lambda: ADDRESS_FILE.is_file() and ADDRESS_FILE.read_text().endswith(f":{port}"), 60, "the head's address file"
            )
            proc = probe()
        finally:
            kill_session(head.pid)
            head.wait()
    assert proc.returncode == 0, proc.stderr[-2000:]  # before: ValueError, num_cpus given for an existing cluster
    assert (
        "note: a Ray cluster runs at " in proc.stdout
        and f":{port} (recorded in {ADDRESS_FILE})" in proc.stdout
        and "--address auto uses that cluster" in proc.stdout
    )
    assert f"cpus {os.cpu_count()} slots {os.cpu_count()} True True" in proc.stdout  # its own Ray, not the 1-CPU head
    # before: "Found multiple active Ray instances" from every State API call of Ray Train's actors
    assert "a worker sees 1 node(s)" in proc.stdout
