"""The run driver: data, model, optimiser, schedule, checkpoints, metrics files and progress.

``fit`` is the one training function. ``crnn train`` calls it in-process; the Ray Train worker
function calls the same ``fit`` on every worker, passing its rank and a ``wrap_model`` (DDP).
Only the main rank writes files.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from crnn.atomic import atomic_write_json, atomic_write_text
from crnn.config import RunConfig, TrainConfig
from crnn.data.batches import Batches
from crnn.data.store import Dataset, Split
from crnn.errors import UserError
from crnn.model import build_model, count_parameters
from crnn.plots import learning_curves
from crnn.train.amp import choose_precision
from crnn.train.checkpoint import CHECKPOINT_DIR, load_checkpoint, save_checkpoint
from crnn.train.loop import evaluate, train_one_epoch

METRIC_KEYS = (
    "epoch", "train_loss", "val_loss", "exact_acc", "char_acc", "edit_distance", "cer",
    "exact_acc_nocase", "char_acc_nocase", "lr", "images_per_s", "epoch_s", "elapsed_min",
)  # fmt: skip


@dataclass
class FitOptions:
    """How to run, as opposed to what to learn (that is ``RunConfig``)."""

    resume: bool = False  # continue from out/checkpoints/last.pt
    resume_from: Path | None = None  # continue from this checkpoint file (Ray Train hands one over)
    overfit: int = 0  # train and validate on the first N training samples (the reference's overfit test)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    progress: bool = True  # a per-step bar on stderr when it is a terminal
    max_epochs: int = 0  # stop after this many epochs of this invocation (0 = the config's epochs)
    max_minutes: float = 0.0  # stop after the epoch that passes this much training time (0 = no limit)
    rank: int = 0
    world_size: int = 1
    wrap_model: Callable[[nn.Module], nn.Module] | None = None  # e.g. Ray Train's prepare_model (DDP)
    on_epoch_end: Callable[[dict, Path | None, bool], None] | None = None  # (row, last.pt on rank 0, improved)
    log: Callable[[str], None] = field(default=lambda line: print(line, flush=True))


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    return torch.device(name)


def read_metrics(out: Path) -> list[dict]:
    path = out / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_metrics(out: Path, rows: list[dict]) -> None:
    """metrics.jsonl and metrics.csv, rewritten whole and atomically each epoch."""
    atomic_write_text(out / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(METRIC_KEYS), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "metrics.csv", buf.getvalue())


class _Progress:
    """A one-line bar per epoch on a terminal: step, images/s, loss, ETA of the epoch."""

    def __init__(self, enabled: bool, total: int, epoch: int, epochs: int) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.total, self.epoch, self.epochs = total, epoch, epochs
        self.step, self.images, self.start, self.last = 0, 0, time.perf_counter(), 0.0

    def __call__(self, n: int, loss: float) -> None:
        self.step += 1
        self.images += n
        now = time.perf_counter()
        if not self.enabled or (now - self.last < 0.5 and self.step < self.total):
            return
        self.last = now
        rate = self.images / max(now - self.start, 1e-9)
        eta = (self.total - self.step) * (now - self.start) / self.step
        sys.stderr.write(
            f"\repoch {self.epoch}/{self.epochs} {self.step}/{self.total} loss {loss:.3f} {rate:.0f} img/s eta {eta:.0f}s "
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 78 + "\r")


def _subsets(data: Dataset, tc: TrainConfig, overfit: int) -> tuple[Split, Split]:
    train, val = data.split("train"), data.split("val")
    if overfit:
        train = Split(train.images[:overfit], train.labels[:overfit])
        val = train
    else:
        if tc.train_samples:
            train = Split(train.images[: tc.train_samples], train.labels[: tc.train_samples])
        if tc.eval_samples:
            val = Split(val.images[: tc.eval_samples], val.labels[: tc.eval_samples])
    if len(train) == 0 or len(val) == 0:
        raise UserError(f"{data.root}: training needs non-empty train and val splits")
    return train, val


def _optimizer(model: nn.Module, tc: TrainConfig) -> torch.optim.Optimizer:
    if tc.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=tc.lr, momentum=0.9, weight_decay=tc.weight_decay)
    cls = torch.optim.AdamW if tc.optimizer == "adamw" else torch.optim.Adam
    return cls(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)


def _scheduler(optimizer: torch.optim.Optimizer, tc: TrainConfig, steps_per_epoch: int):
    if tc.schedule == "onecycle":
        total = tc.epochs * steps_per_epoch
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=tc.lr, total_steps=total, pct_start=min(0.5, max(tc.warmup_steps / total, 0.05))
        )
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=tc.plateau_factor, patience=tc.plateau_patience
    )


def _broadcast(obj: dict, opts: FitOptions) -> dict:
    """Rank 0's evaluation, shared so that every rank steps its scheduler and stops together."""
    if opts.world_size == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def fit(data: Dataset, out: str | Path, config: RunConfig, opts: FitOptions | None = None) -> dict:
    """Train ``config`` on ``data``, writing the run into ``out``; returns the best epoch's metrics.

    Every rank trains on its shard; rank 0 alone evaluates, writes files and logs.
    """
    opts = opts or FitOptions()
    out = Path(out)
    main = opts.rank == 0
    tc = config.train
    device = pick_device(opts.device)
    precision = choose_precision(tc.amp, device)
    lo, hi = data.length_range
    height, width = data.image_size
    charset = data.charset
    train, val = _subsets(data, tc, opts.overfit)

    torch.manual_seed(tc.seed + opts.rank)
    model = build_model(config.model, charset.num_classes, height, width, hi).to(device)
    if tc.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = _optimizer(model, tc)
    train_batches = Batches(
        train.images, train.labels, charset, tc.batch_size, shuffle=True, seed=tc.seed,
        rank=opts.rank, world_size=opts.world_size, drop_last=len(train) >= 2 * tc.batch_size * opts.world_size,
    )  # fmt: skip
    val_batches = Batches(val.images, val.labels, charset, max(tc.batch_size, 256))
    steps_per_epoch = len(train_batches)
    scheduler = _scheduler(optimizer, tc, steps_per_epoch)
    scaler = precision.scaler()

    start_epoch, global_step, best, best_epoch, elapsed_before = 1, 0, -1.0, 0, 0.0
    rows: list[dict] = []
    last_path = out / CHECKPOINT_DIR / "last.pt"
    resume_from = opts.resume_from or (last_path if opts.resume and last_path.is_file() else None)
    if resume_from is not None:
        state = load_checkpoint(resume_from)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        start_epoch = state["epoch"] + 1
        global_step, best, best_epoch = state["global_step"], state["best"], state["best_epoch"]
        elapsed_before, rows = state["elapsed_s"], state["history"]
        if state["early_stopped"]:
            start_epoch = tc.epochs + 1  # nothing left to do: it stopped because it had stopped improving
        if main:
            opts.log(f"resuming {out} after epoch {state['epoch']} (best val exact {best:.2%} at epoch {best_epoch})")
    elif opts.resume and main:
        opts.log(f"nothing to resume in {out}; starting from scratch")
    elif main and last_path.is_file():
        raise UserError(f"{out}: already holds a run; pass --resume to continue it or choose another --out")

    net = opts.wrap_model(model) if opts.wrap_model else model
    if main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "config.json", {
            **config.to_dict(),
            "data": {"path": str(data.root), "charset": charset.chars, "height": height, "width": width,
                     "length": [lo, hi], "train": len(train), "val": len(val), "overfit": opts.overfit},
            "parameters": count_parameters(model), "device": str(device), "precision": precision.mode,
            "world_size": opts.world_size,
        })  # fmt: skip
        if start_epoch == 1:
            opts.log(
                f"training {count_parameters(model) / 1e6:.2f}M parameters on {len(train)} images "
                f"({steps_per_epoch} steps/epoch x {opts.world_size} worker(s)), device {device}, precision {precision.mode}"
            )

    def on_step(n: int, loss: float) -> None:
        nonlocal global_step
        global_step += 1
        if tc.schedule == "onecycle":
            if global_step < tc.epochs * steps_per_epoch:
                scheduler.step()
        elif global_step <= tc.warmup_steps:
            for group in optimizer.param_groups:
                group["lr"] = tc.lr * global_step / tc.warmup_steps
        progress(n, loss)

    if tc.warmup_steps and tc.schedule == "plateau" and global_step < tc.warmup_steps:
        for group in optimizer.param_groups:
            group["lr"] = tc.lr * max(global_step, 1) / tc.warmup_steps

    last_epoch = tc.epochs if not opts.max_epochs else min(tc.epochs, start_epoch - 1 + opts.max_epochs)
    run_start = time.perf_counter()
    best_metrics = next((r for r in rows if r["epoch"] == best_epoch), {})
    for epoch in range(start_epoch, last_epoch + 1):
        train_batches.set_epoch(epoch)
        torch.manual_seed(tc.seed * 1000 + epoch * 10 + opts.rank)  # dropout: same per epoch on resume
        aug_gen = torch.Generator().manual_seed(tc.seed * 7919 + epoch * 31 + opts.rank) if tc.augment else None
        progress = _Progress(opts.progress and main, steps_per_epoch, epoch, tc.epochs)
        stats = train_one_epoch(
            net, train_batches, optimizer, device, precision.autocast, scaler, tc.grad_clip,
            on_step=on_step, augment_gen=aug_gen, channels_last=tc.channels_last,
        )  # fmt: skip
        progress.close()
        metrics = {}
        if main:
            metrics, _ = evaluate(
                model, val_batches, val.labels, charset, device, precision.autocast, tc.beam_width, tc.channels_last
            )
        metrics = _broadcast(metrics, opts)
        if tc.schedule == "plateau" and global_step > tc.warmup_steps and not opts.overfit:
            scheduler.step(metrics["loss"])  # an overfit check keeps its learning rate: memorising is the point
        elapsed = elapsed_before + time.perf_counter() - run_start
        row = {
            "epoch": epoch, "train_loss": stats.loss, "val_loss": metrics["loss"],
            **{k: metrics[k] for k in ("exact_acc", "char_acc", "edit_distance", "cer", "exact_acc_nocase", "char_acc_nocase")},
            "lr": optimizer.param_groups[0]["lr"], "images_per_s": stats.images_per_s * opts.world_size,
            "epoch_s": stats.seconds, "elapsed_min": elapsed / 60,
        }  # fmt: skip
        improved = row["exact_acc"] > best
        if improved:
            best, best_epoch, best_metrics = row["exact_acc"], epoch, row
        rows.append(row)
        stop = ""
        if tc.early_stop_patience and not opts.overfit and epoch - best_epoch >= tc.early_stop_patience:
            stop = f"early stop: no better val exact accuracy for {tc.early_stop_patience} epochs"
        elif opts.max_minutes and elapsed >= opts.max_minutes * 60:
            stop = f"time limit: stopping after {elapsed / 60:.1f} minutes of training"
        if main:
            state = {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(), "epoch": epoch, "global_step": global_step, "best": best,
                "best_epoch": best_epoch, "elapsed_s": elapsed, "config": config.to_dict(), "charset": charset.chars,
                "height": height, "width": width, "max_label_len": hi, "min_label_len": lo, "metrics": row,
                "history": rows, "early_stopped": stop.startswith("early stop"),
            }  # fmt: skip
            if improved:
                save_checkpoint(out / CHECKPOINT_DIR / "best.pt", state)
            save_checkpoint(last_path, state)  # after best: a resume never starts past an unsaved best
            write_metrics(out, rows)
            if stop or stats.seconds >= 5 or epoch == last_epoch:  # a plot costs ~0.2 s: not after every tiny epoch
                learning_curves(rows, out / "curves.png", title=str(out.name))
            eta = (last_epoch - epoch) * (elapsed / max(epoch, 1))
            opts.log(
                f"epoch {epoch}/{tc.epochs} loss {stats.loss:.4f} val_loss {metrics['loss']:.4f} "
                f"exact {row['exact_acc']:.2%} char {row['char_acc']:.2%} nocase {row['exact_acc_nocase']:.2%} "
                f"ed {row['edit_distance']:.3f} | {row['images_per_s']:.0f} img/s lr {row['lr']:.2e} "
                f"{elapsed / 60:.1f} min, eta {eta / 60:.1f} min"
            )
        if opts.on_epoch_end is not None:
            opts.on_epoch_end(row, last_path if main else None, improved)
        if stop:
            if main:
                opts.log(stop)
            break
        if not math.isfinite(stats.loss):
            raise UserError(f"training diverged at epoch {epoch} (loss {stats.loss}); lower train.lr or raise train.grad_clip")
    return best_metrics
