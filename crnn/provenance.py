"""What made a run, a checkpoint or an export: the versions of the packages that computed it and the
git commit of this source tree (or "not a git checkout"), recorded in config.json, checkpoints and
exports, and printed by ``crnn eval``."""

from __future__ import annotations

import functools
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("crnn-tune", "torch", "ray", "optuna", "numpy", "onnx", "onnxruntime", "captcha")
SOURCE = Path(__file__).resolve().parents[1]  # the checkout this package runs from


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def git_commit(root: Path = SOURCE) -> str:
    """HEAD's commit, with "+dirty" when tracked files differ from it, or "not a git checkout"."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "not a git checkout"
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):  # no git on this machine
        return "not a git checkout"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


@functools.cache
def provenance() -> dict:
    """{"versions": {package: version}, "python": ..., "git_commit": ...}; computed once per process."""
    versions = {p: v for p in PACKAGES if (v := _version(p)) is not None}
    return {"versions": versions, "python": platform.python_version(), "git_commit": git_commit()}


def provenance_line(record: dict | None) -> str:
    """``made by crnn-tune 0.1.0, torch 2.13.0, ray 2.60.0 at git abc1234``, or why it cannot say."""
    if not record:
        return "made by: not recorded (a model saved before provenance was kept)"
    v = record.get("versions") if isinstance(record.get("versions"), dict) else {}
    parts = [f"{p} {v[p]}" for p in ("crnn-tune", "torch", "ray", "optuna") if p in v]
    commit = record.get("git_commit", "unknown")
    return f"made by: {', '.join(parts)}, python {record.get('python', '?')}, " + (
        commit if commit == "not a git checkout" else f"git {commit}"
    )
