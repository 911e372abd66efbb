"""The project's own plumbing: the install command line, what git ignores."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_torch_spec_reaches_pip_as_separate_words():
    spec = "torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126"
    dry = subprocess.run(["make", "-n", "-B", "install", f"TORCH_SPEC={spec}"], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    line = next(line for line in dry.stdout.splitlines() if "torch==" in line)
    assert line.endswith(f"pip install --quiet {spec}")  # unquoted: pip sees --index-url as a flag
    empty = subprocess.run(["make", "-n", "-B", "install", "TORCH_SPEC="], cwd=ROOT, capture_output=True, text=True)
    assert "torch" not in empty.stdout.replace("crnn-tune", "")


def test_git_ignores_what_the_commands_write():
    ignored = (ROOT / ".gitignore").read_text().split()
    for folder in ("/data/", "/runs/", "/demo/", "/experiments/", ".venv/"):
        assert folder in ignored, folder


def test_published_results_name_no_machine_path():
    for path in (ROOT / "results").rglob("*.json"):
        text = path.read_text()
        for prefix in ("/work/", "/home/", "/root/", "/tmp/", "/Users/"):
            assert prefix not in text, f"{path.relative_to(ROOT)} names a path under {prefix}"
