"""The run folder and its one writer (rank 0 of a run, or the Ray Train driver after it).

RUN/config.json         the resolved config, the data it saw (no machine paths), device, precision, provenance
RUN/metrics.jsonl, .csv one row per epoch, rewritten whole and atomically
RUN/curves.png          loss and accuracy per epoch
RUN/checkpoints/last.pt the latest epoch (what a resume continues from)
RUN/checkpoints/prev.pt the epoch before it, kept until the new last.pt is on disk (a resume falls back to it)
RUN/checkpoints/best.pt the best epoch by val exact accuracy (what eval/predict/export load)
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

from crnn.atomic import atomic_copy, atomic_write_json, atomic_write_text, fsync_dir
from crnn.config import RunConfig, config_diff
from crnn.data.store import Dataset
from crnn.errors import UserError
from crnn.plots import learning_curves
from crnn.provenance import provenance
from crnn.training.checkpoint import CHECKPOINT_DIR, load_checkpoint, save_checkpoint

METRIC_KEYS = (
    "epoch",
    "train_loss",
    "val_loss",
    "exact_acc",
    "char_acc",
    "edit_distance",
    "cer",
    "exact_acc_nocase",
    "char_acc_nocase",
    "lr",
    "images_per_s",
    "epoch_s",
    "elapsed_min",
)

# What a resumed run may change: how long it goes on. Everything else changes the math it resumes.
RESUMABLE_KEYS = ("train.epochs", "train.early_stop_patience")


def run_record(config: RunConfig, data: Dataset, counts: dict[str, int], runtime: dict) -> dict:
    """``config.json``: the same contents for a single-process and a Ray Train run. ``counts``: the train and
    val images used and ``overfit``; ``runtime``: parameters, device, precision and world_size."""
    lo, hi = data.length_range
    height, width = data.image_size
    data_info = {
        "name": data.root.name,
        "charset": data.charset.chars,
        "height": height,
        "width": width,
        "length": [lo, hi],
        "train": counts["train"],
        "val": counts["val"],
        "overfit": counts["overfit"],
        "train_checksum": data.manifest.get("checksums", {}).get("train"),
    }
    keys = ("parameters", "device", "precision", "world_size")
    return {
        **config.to_dict(),
        "data": data_info,
        **{k: runtime[k] for k in keys},
        "nodes": None,  # a Ray Train run: each rank's node address, filled in at the end
        "provenance": provenance(),
    }


class RunDir:
    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)

    @property
    def last_pt(self) -> Path:
        return self.out / CHECKPOINT_DIR / "last.pt"

    @property
    def best_pt(self) -> Path:
        return self.out / CHECKPOINT_DIR / "best.pt"

    @property
    def prev_pt(self) -> Path:
        return self.out / CHECKPOINT_DIR / "prev.pt"

    def has_checkpoint(self) -> bool:
        return self.last_pt.is_file() or self.prev_pt.is_file()

    def load_resumable(self, log: Callable[[str], None]) -> tuple[Path, dict]:
        """(path, state) of the newest checkpoint that loads: ``last.pt``, else ``prev.pt`` (an empty or
        corrupt ``last.pt``, as a crash or a full disk can leave, is named in ``log`` and passed over)."""
        problems = []
        for path in (self.last_pt, self.prev_pt):
            if not path.is_file():
                continue
            try:
                state = load_checkpoint(path)
            except UserError as exc:
                problems.append(str(exc))
                continue
            if "train_state" not in state or state.get("inference_only"):
                problems.append(
                    f"{path}: an inference-only checkpoint (crnn export --format pt, or an older crnn-tune's); "
                    "it can be evaluated, exported and used with --init-from, not resumed"
                )
                continue
            if problems:
                log(f"warning: {problems[0]}; resuming from {path.name} (epoch {state['train_state'].get('epoch', '?')}) instead")
            return path, state
        if len(problems) == 1:
            raise UserError(problems[0])
        raise UserError(f"{self.out}: no checkpoint to resume from loads ({'; '.join(problems) or 'none saved'})")

    def saved_config(self) -> dict | None:
        path = self.out / "config.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def check_resumable(self, config: RunConfig, allowed: tuple[str, ...] = RESUMABLE_KEYS) -> None:
        """Refuse to continue this run with a config that changes its math, naming the keys."""
        saved = self.saved_config()
        if saved is None:
            return
        allowed = tuple(k for k in allowed if not (k == "train.epochs" and config.train.schedule.name == "onecycle"))
        diff = [d for d in config_diff(saved, config) if d.split(":")[0] not in allowed]
        if diff:
            raise UserError(
                f"{self.out}: holds a run of another configuration ({'; '.join(diff[:3])}); resuming may change only "
                f"{', '.join(allowed) or 'nothing'}; choose another --out for a new run"
            )

    def write_config(self, record: dict) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.out / "config.json", record)

    def write_history(self, rows: list[dict], plot: bool = True) -> None:
        """metrics.jsonl and metrics.csv, rewritten whole and atomically, and the curves."""
        atomic_write_text(self.out / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
        buf = io.StringIO()
        extra = [k for k in ("pseudo_kept", "pseudo_right") if any(k in r for r in rows)]  # semi-supervised runs
        writer = csv.DictWriter(buf, fieldnames=[*METRIC_KEYS, *extra], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.out / "metrics.csv", buf.getvalue())
        if plot:
            learning_curves(rows, self.out / "curves.png", title=self.out.name)

    def save_epoch(self, checkpoint: dict, improved: bool, rows: list[dict], plot: bool) -> None:
        if improved:
            save_checkpoint(self.best_pt, checkpoint)
        self.save_last(checkpoint)  # after best: a resume never starts past an unsaved best
        self.write_history(rows, plot)

    def save_last(self, checkpoint: dict) -> None:
        """The new ``last.pt``, with the old one kept as ``prev.pt``: the new file is on disk before the
        old one moves, and a crash between the two renames leaves ``prev.pt`` to resume from."""
        new = self.last_pt.with_name(".last.pt.new")
        save_checkpoint(new, checkpoint)
        if self.last_pt.is_file():
            os.replace(self.last_pt, self.prev_pt)
        os.replace(new, self.last_pt)
        fsync_dir(self.last_pt.parent)

    def install_checkpoint(self, src: Path, best: bool) -> None:
        """Copy a checkpoint file in atomically (the Ray Train driver, from the reported checkpoints)."""
        dest = self.best_pt if best else self.last_pt
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not best and self.last_pt.is_file():
            os.replace(self.last_pt, self.prev_pt)
        atomic_copy(src, dest)


def read_metrics(out: str | Path) -> list[dict]:
    path = Path(out) / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
