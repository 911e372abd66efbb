"""benchmarks/bench_flops.py: a preset with --set overrides is priced; a bad key is a one-line error."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "bench_flops.py"
SMALL = ["--width", "64", "--height", "32", "--length", "2", "--batch", "4", "--steps", "1"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *SMALL, *args], capture_output=True, text=True, timeout=120)


def test_set_changes_the_model_priced():
    plain, wide = run(), run("--set", "model.channels=[32,64,128]", "--set", "model.hidden=128")
    assert plain.returncode == 0 and wide.returncode == 0, plain.stderr + wide.stderr
    params = [float(r.stdout.split("parameters")[0].split()[-1].rstrip("M")) for r in (plain, wide)]
    assert params[1] > 2 * params[0]
    assert "model.hidden=128" in wide.stdout


def test_a_bad_key_names_the_flag_without_a_traceback():
    bad = run("--set", "model.bogus=1")
    assert bad.returncode == 2
    assert "--set: model.bogus: unknown key" in bad.stderr and "Traceback" not in bad.stderr
