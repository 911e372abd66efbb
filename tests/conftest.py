"""Shared fixtures: small datasets from the real generator, and the CLI run in-process."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest
import torch

from crnn.cli.main import main
from crnn.data.synth import SynthSpec, synthesize

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


@pytest.fixture(scope="session", autouse=True)
def no_stray_ray_processes():
    """After the suite: stop what Ray left behind in this session (its dashboard's forkserver can
    outlive ray.shutdown()); only processes of our own session, never anybody else's."""
    yield
    me = os.getpid()
    for pid in session_pids(os.getsid(0)):
        if pid == me:
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "ray" in cmdline and "pytest" not in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
