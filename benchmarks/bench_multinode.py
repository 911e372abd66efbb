"""The cost of going multi-node: one search on 1 node of N CPUs against 3 nodes of N/3 CPUs each.

    python benchmarks/bench_multinode.py [--cpus 3] [--images 1200] [--samples 6] [--epochs 3]

Both clusters run on this machine with the same total CPUs, started by the project's scripts
(cluster/start-local.sh; cluster/try-multinode.sh: a network namespace per worker node where the
machine allows it), token auth on, and get the same `crnn submit --wait -- tune ...` (ASHA off, so
both run every epoch). The baseline is the single node; the difference is what the extra nodes cost
(cluster start, trial placement across nodes, checkpoints through the shared folder).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crnn.data.synth import SynthSpec, synthesize

ROOT = Path(__file__).resolve().parents[1]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(argv: list[str], env: dict, timeout: float = 1800) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv[:3]))} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc


def _search(api: str, data: Path, storage: Path, args: argparse.Namespace, env: dict) -> float:
    start = time.perf_counter()
    tune = ["tune", "--data", str(data), "--name", "bench", "--preset", "tiny", "--samples", str(args.samples),
            "--max-epochs", str(args.epochs), "--scheduler", "none", "--experiments", str(storage)]  # fmt: skip
    _run([sys.executable, "-m", "crnn", "submit", "--address", api, "--wait", "--", *tune], env)
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cpus", type=int, default=3, help="total CPUs of each cluster (a multiple of 3)")
    p.add_argument("--images", type=int, default=1200)
    p.add_argument("--samples", type=int, default=6)
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("RAY_ADDRESS", None)
    with tempfile.TemporaryDirectory(prefix="bench-mn-") as tmp_name:
        tmp = Path(tmp_name)
        data = tmp / "data"
        synthesize(data, SynthSpec(charset="0123456789", seed=0), args.images, workers=1, progress=False)
        rows = []

        state = tmp / "one"
        port, dport = _port(), _port()
        start = time.perf_counter()
        _run([str(ROOT / "cluster/start-local.sh"), "--port", str(port), "--dashboard-port", str(dport), "--num-cpus",
              str(args.cpus), "--state", str(state)], env)  # fmt: skip
        up = time.perf_counter() - start
        try:
            search = _search(
                f"http://127.0.0.1:{dport}",
                data,
                tmp / "exp-one",
                args,
                {**env, "RAY_AUTH_TOKEN_PATH": str(state / "auth_token")},
            )
        finally:
            subprocess.run([str(ROOT / "cluster/stop-local.sh"), "--state", str(state), "--now"], capture_output=True, env=env)
        rows.append(("1 node", f"{args.cpus} CPUs", up, search))

        state = tmp / "three"
        port, dport = _port(), _port()
        start = time.perf_counter()
        out = _run([str(ROOT / "cluster/try-multinode.sh"), "up", "--workers", "2", "--num-cpus", str(args.cpus // 3), "--port",
                    str(port), "--dashboard-port", str(dport), "--state", str(state)], env).stdout  # fmt: skip
        up = time.perf_counter() - start
        api = re.search(r"job API\s+(\S+)", out).group(1)
        mode = re.search(r"up \((\w+)\)", out).group(1)
        try:
            search = _search(
                api, data, state / "shared" / "exp", args, {**env, "RAY_AUTH_TOKEN_PATH": str(state / "head/auth_token")}
            )
        finally:
            subprocess.run([str(ROOT / "cluster/try-multinode.sh"), "down", "--state", str(state)], capture_output=True, env=env)
        rows.append((f"3 nodes ({mode})", f"3 x {args.cpus // 3} CPUs", up, search))

    print(f"search: {args.samples} trials x {args.epochs} epochs of the tiny preset on {args.images} images, ASHA off")
    print(f"{'cluster':<20} {'CPUs':<12} {'start (s)':>10} {'search (s)':>11} {'vs 1 node':>10}")
    for name, cpus, up, search in rows:
        print(f"{name:<20} {cpus:<12} {up:>10.1f} {search:>11.1f} {search / rows[0][3]:>9.2f}x")


if __name__ == "__main__":
    main()
