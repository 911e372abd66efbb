"""The finished runs of an assessment, read from its folder alone: ``tune.assess.run`` plans its next round
of sizes from them and ``tune.assess.report`` writes the report from them.

Layouts: ``runs/round-K/ATTACKER-nSIZE-rREPEAT`` (one Tune experiment per round of sizes), and the one
assessments had before attackers existed, ``runs/nSIZE-rREPEAT`` (one experiment; its attacker is named
``legacy_name``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from crnn.stats import wilson
from tune.assess.files import RUNS, TEST_FILE


@dataclass
class Runs:
    rows: dict[str, list[dict]] = field(default_factory=dict)  # attacker -> curve rows, sorted by size and repeat
    checkpoints: dict[tuple[str, int, int], Path] = field(default_factory=dict)  # (attacker, size, repeat) -> folder
    unfinished: list[str] = field(default_factory=list)  # trial folder names


def legacy_name(init_from: str | None) -> str:
    """The attacker of an assessment written before attackers: the recipe from scratch or from a model."""
    return "transfer" if init_from else "scratch"


def trial_folders(out: Path) -> list[Path]:
    runs = Path(out) / RUNS
    legacy = [p for p in runs.glob("n*-r*") if p.is_dir()]
    return sorted(legacy + [p for p in runs.glob("round-*/*-n*-r*") if p.is_dir()])


def _row(final: dict) -> dict:
    lo, hi = wilson(final["test_correct"], final["test_count"])
    return {
        "train_images": final["train_images"],
        "repeat": final["repeat"],
        "exact_acc": final["test_exact_acc"],
        "exact_ci": [lo, hi],
        "char_acc": final["test_char_acc"],
        "cer": final["test_cer"],
        "exact_acc_nocase": final["test_exact_acc_nocase"],
        "train_minutes": final["train_minutes"],
        "epochs": final["epochs_run"],
        "best_epoch": final["best_epoch"],
        "left_plateau_at": final["plateau_exit"],
        "device": final["device"],
        "test_correct": final["test_correct"],
        "test_count": final["test_count"],
        "batch_size": final.get("batch_size"),
        "workers": final.get("workers", 1),
        "unlabeled": final.get("unlabeled", 0),
    }


def _final(trial: Path, ckpt: Path | None) -> dict | None:
    """A run's final row: from its last checkpoint's test.json (the trial uploads it itself, so it survives
    a driver killed before its results file was saved), else from the results file (older assessments)."""
    if ckpt is not None and (ckpt / TEST_FILE).is_file():
        final = json.loads((ckpt / TEST_FILE).read_text()).get("final")
        if isinstance(final, dict):
            return final
    result = trial / "result.json"
    lines = result.read_text().splitlines() if result.is_file() else []
    return next((r for r in map(json.loads, reversed([x for x in lines if x.strip()])) if r.get("final")), None)


def finished_runs(out: Path, legacy: str = "scratch") -> Runs:
    runs = Runs()
    for trial in trial_folders(out):
        ckpt = max(trial.glob("checkpoint_*"), default=None)
        final = _final(trial, ckpt)
        if final is None or ckpt is None or not (ckpt / TEST_FILE).is_file():
            runs.unfinished.append(trial.name)
            continue
        name = final.get("attacker", legacy)
        runs.rows.setdefault(name, []).append(_row(final))
        runs.checkpoints[(name, final["train_images"], final["repeat"])] = ckpt
    for rows in runs.rows.values():
        rows.sort(key=lambda r: (r["train_images"], r["repeat"]))
    return runs
