"""Shared fixtures: small datasets from the real generator, the CLI run in-process, and the
clean-up of exactly the processes this test session started."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from crnn.data.synth import SynthSpec, synthesize
from crnn_cli.main import main

torch.set_num_threads(min(2, torch.get_num_threads()))


def make_dataset(
    out: Path, count: int = 240, seed: int = 0, charset: str = "0123456789", length: tuple[int, int] = (5, 5)
) -> Path:
    synthesize(out, SynthSpec(charset=charset, length=length, seed=seed), count, workers=1, progress=False)
    return out


@pytest.fixture(scope="session")
def digits_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """240 real 150x40 CAPTCHAs of 5 digits, split 216/12/12."""
    return make_dataset(tmp_path_factory.mktemp("data") / "digits")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture):
    """Run ``crnn ARGS`` in this process; returns (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse errors
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def wait_for(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.1) -> None:
    """Wait for an observable event (a file, a log line); fail the test, naming it, if it never comes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


def session_pids(sid: int) -> list[int]:
    """Processes whose session id is ``sid`` (a session a test created with start_new_session)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == sid:
                    pids.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                continue
    return pids


def kill_session(sid: int) -> None:
    """SIGKILL every process of a session this test created: the driver and the Ray it started
    (Ray's actors run in process groups of their own, so killing the driver's group is not enough)."""
    for _ in range(3):
        for pid in session_pids(sid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)


def descendants(root: int) -> list[int]:
    """Every live process below ``root`` in the process tree."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


@pytest.fixture(scope="session", autouse=True)
def stop_what_the_tests_started():
    """After the suite, stop the processes the tests started and nothing else.

    Ray's dashboard forkserver and agents can outlive ``ray.shutdown()``; once their parent is gone
    they would be re-parented to init and lost. Making this process a child subreaper (Linux) keeps
    every orphan below it, so "what the tests started" is exactly the process tree under pytest."""
    PR_SET_CHILD_SUBREAPER = 36
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    yield
    for _ in range(3):
        pids = descendants(os.getpid())
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        while True:  # reap them (and any orphan re-parented to us), so none stays a zombie
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
        if not pids:
            break
        time.sleep(0.3)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave with the session's status once every result and summary is out. The suite's process holds
    Ray, onnxruntime, torch and MLflow threads; a full run once passed every test and then died of a
    segmentation fault in interpreter teardown, turning a green run red. Nothing is left to run there."""
    status = getattr(config, "_crnn_exitstatus", None)
    if status is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(status))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config._crnn_exitstatus = exitstatus  # read back in pytest_unconfigure


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory):
    """A real S3-compatible server (moto's) on 127.0.0.1, in a session of its own that the fixture kills."""
    import socket
    import subprocess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip

    def up() -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
        return False

    wait_for(up, 60, f"moto_server on 127.0.0.1:{port}")
    yield f"http://127.0.0.1:{port}"
    kill_session(server.pid)
    server.wait()


@pytest.fixture
def s3(s3_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh bucket on the S3 server, the environment that points pyarrow (and Ray) at it, and a cache
    folder of this test's own; returns ``s3://BUCKET``."""
    import re

    import pyarrow.fs as pafs

    env = {
        "AWS_ENDPOINT_URL": s3_server, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "CRNN_CACHE_DIR": str(tmp_path / "cache"),
    }  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    bucket = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-") + f"-{os.getpid()}"
    pafs.S3FileSystem(endpoint_override=s3_server, allow_bucket_creation=True).create_dir(bucket)
    return f"s3://{bucket}"
