"""What happens after each epoch besides learning: stopping, saving, tracking, the log line, Ray's report.

Each is a ``Callback`` (``crnn.training.trainer``) in the trainer's list, called in order after an epoch is trained and scored
(``on_epoch_end``) and once after the last (``on_fit_end``). The ones that write run on rank 0 only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from crnn.tracking import Tracker
from crnn.training.state import plateau_advice
from crnn.training.trainer import Callback, Trainer

PLOT_EVERY_S = 30.0  # seconds between redraws of a run's curves.png
# Callbacks a plugin adds to every run of this process (a factory each): they run after the stop rules and
# before anything is written or reported. The test suite installs its fault injection this way, in
# processes Ray starts (tests/hooks/sitecustomize.py).
INSTALLED: list[Callable[[], Callback]] = []


class StopRules(Callback):
    """Early stopping on val exact accuracy and the time limit: first in the list, so the checkpoint
    records whether the run stopped improving (a resume then has nothing left to do)."""

    def on_epoch_end(self, t: Trainer, row: dict, improved: bool) -> None:
        tc, state, opts = t.config.train, t.state, t.opts
        if tc.early_stop_patience and not opts.overfit and state.epochs_without_progress() >= tc.early_stop_patience:
            t.stop = f"early stop: no better val exact accuracy for {tc.early_stop_patience} epochs"
        elif opts.max_minutes and state.elapsed_s >= opts.max_minutes * 60:
            t.stop = f"time limit: stopping after {state.elapsed_s / 60:.1f} minutes of training"
        state.early_stopped = t.stop.startswith("early stop")


class SaveCheckpoints(Callback):
    """last.pt (and best.pt when the epoch is the best), the metric history, and curves.png: a redraw costs
    ~0.6 s, so at most every PLOT_EVERY_S, and at the end."""

    def __init__(self) -> None:
        self.plotted_at = -math.inf

    def on_epoch_end(self, t: Trainer, row: dict, improved: bool) -> None:
        plot = bool(t.stop) or row["epoch"] == t.last_epoch or time.perf_counter() - self.plotted_at >= PLOT_EVERY_S
        self.plotted_at = time.perf_counter() if plot else self.plotted_at
        t.run.save_epoch(t.checkpoint(row), improved, t.state.history, plot)


class TrackEpochs(Callback):
    """TensorBoard / MLflow: each epoch's row, then the hyperparameters and the best epoch."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    def on_epoch_end(self, t: Trainer, row: dict, improved: bool) -> None:
        self.tracker.log_epoch(row)

    def on_fit_end(self, t: Trainer) -> None:
        self.tracker.finish(t.config.to_dict(), t.state.best_row or {})


def _pseudo_text(row: dict) -> str:
    if "pseudo_kept" not in row:
        return ""
    right = f", {row['pseudo_right']:.0%} right" if row.get("pseudo_right") is not None else ""
    align = f", aligned <= {row['pseudo_align']:.2f}x" if row.get("pseudo_align") is not None else ""
    return f" pseudo {row['pseudo_kept']:.0%} kept{right}{align}"


class EpochLog(Callback):
    """One line per epoch: losses, val metrics, throughput, learning rate, time so far and the ETA."""

    def on_epoch_end(self, t: Trainer, row: dict, improved: bool) -> None:
        epoch = row["epoch"]
        eta = (t.last_epoch - epoch) * (time.perf_counter() - t.session_start) / (epoch - t.first_epoch + 1)
        t.opts.log(
            f"epoch {epoch}/{t.config.train.epochs} loss {row['train_loss']:.4f} val_loss {row['val_loss']:.4f} "
            f"exact {row['exact_acc']:.2%} char {row['char_acc']:.2%} nocase {row['exact_acc_nocase']:.2%} "
            f"ed {row['edit_distance']:.3f}{_pseudo_text(row)} | {row['images_per_s']:.0f} img/s lr {row['lr']:.2e} "
            f"{t.state.elapsed_s / 60:.1f} min, eta {eta / 60:.1f} min"
        )


class EpochHook(Callback):
    """A caller's ``on_epoch_end(row, last.pt on rank 0, improved)``: Ray Train's report, on every rank."""

    def __init__(self, hook: Callable[[dict, Path | None, bool], None]) -> None:
        self.hook = hook

    def on_epoch_end(self, t: Trainer, row: dict, improved: bool) -> None:
        self.hook(row, t.run.last_pt if t.opts.main else None, improved)


class PlateauWarning(Callback):
    """A run that never left the CTC blank plateau measured its recipe, not the scheme: say so, and what may help."""

    def on_fit_end(self, t: Trainer) -> None:
        tc = t.config.train
        if t.state.plateau_exit or t.state.epoch < tc.epochs:
            return
        advice = plateau_advice("more epochs", tc.augment, t.opts.init_from is not None)
        t.opts.log(
            f"warning: the model never left the CTC blank plateau (val char accuracy under 20% in all {t.state.epoch} "
            f"epochs): this run measures the recipe, not the scheme; try {advice}"
        )


def default_callbacks(main: bool, tracker: Tracker | None, hook: Callable | None, extra: list[Callback]) -> list[Callback]:
    """Stopping first (the checkpoint records it), the installed and the caller's own (``extra``), rank 0's writing
    and logging, the caller's hook."""
    cbs: list[Callback] = [StopRules(), *(make() for make in INSTALLED), *extra]
    if main:
        cbs += [SaveCheckpoints(), *([TrackEpochs(tracker)] if tracker is not None else []), EpochLog()]
    cbs += [EpochHook(hook)] if hook is not None else []
    return cbs + ([PlateauWarning()] if main else [])
