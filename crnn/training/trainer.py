"""The ``Trainer``: a run's parts, its epoch loop, and the callbacks around each epoch.

Parts (``parts``) each own their state: the trained model, the optimiser, the schedule, the loss
scaler, the run's progress, the weight average and the objective. The ``Checkpointer`` saves and
restores them together. What a step learns is the ``objective``; what happens after an epoch
(stopping, saving, tracking, logging, Ray's report) is the ``callbacks`` list. ``build_trainer``
(``crnn.training.build``) assembles one from a config; ``fit`` runs it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial

import torch
from torch import nn
from tqdm import tqdm

from crnn.config import RunConfig
from crnn.data.augment import augment
from crnn.data.batches import Batches
from crnn.data.fresh import FreshBatches
from crnn.data.store import Dataset
from crnn.errors import UserError
from crnn.provenance import provenance
from crnn.training.amp import Precision
from crnn.training.checkpointer import Checkpointer, Stateful
from crnn.training.ema import WeightEMA
from crnn.training.loop import EpochStats, Optimization, train_one_epoch
from crnn.training.objectives import Objective
from crnn.training.options import FitOptions
from crnn.training.rundir import RunDir
from crnn.training.schedule import LRSchedule
from crnn.training.state import TrainState, left_plateau
from crnn.training.step import StepContext
from crnn.training.validate import validate

METRIC_KEYS = ("exact_acc", "char_acc", "edit_distance", "cer", "exact_acc_nocase", "char_acc_nocase")
# CTC loss per character past which the weights have blown up: an untrained model scores ~15. In fp32 such a
# run overflows to inf or nan; in bf16 autocast the logits stay finite and the loss only becomes absurd
DIVERGED_LOSS = 1e4


class Callback:
    """Called once before the first epoch, after each epoch is trained and scored, and once after the last;
    ``crnn.training.callbacks`` has the ones every run uses."""

    def on_fit_start(self, t: Trainer) -> None:
        return None

    def on_epoch_end(self, t: Trainer, row: dict, improved: bool) -> None:
        return None

    def on_fit_end(self, t: Trainer) -> None:
        return None


@dataclass
class Trainer:
    config: RunConfig
    data: Dataset
    run: RunDir
    opts: FitOptions
    ctx: StepContext
    precision: Precision
    model: nn.Module  # what is trained, unwrapped
    net: nn.Module  # what a step runs: the model, or its DDP wrapper on Ray Train
    optim: Optimization
    schedule: LRSchedule
    objective: Objective
    train_batches: Batches | FreshBatches
    val_batches: Batches  # this rank's share of the val split
    val_labels: list[str]  # the whole val split's labels
    ema: WeightEMA | None = None
    state: TrainState = field(default_factory=TrainState)
    callbacks: list[Callback] = field(default_factory=list)
    stop: str = ""  # why the run stops after this epoch ("" = it goes on)
    first_epoch: int = 1
    last_epoch: int = 0
    session_start: float = 0.0

    @property
    def scored(self) -> nn.Module:
        """What is evaluated, selected and saved as ``model``: the weight average where there is one."""
        return self.ema.model if self.ema is not None else self.model

    @property
    def parts(self) -> dict[str, Stateful]:
        parts: dict[str, Stateful] = {
            "train_model": self.model,
            "optimizer": self.optim.optimizer,
            "schedule": self.schedule,
            "scaler": self.optim.scaler,
            "train_state": self.state,
            "objective": self.objective,
        }
        return parts | ({"ema": self.ema} if self.ema is not None else {})

    def checkpoint(self, row: dict) -> dict:
        """Every part's state, and what inference needs: the scored weights, the config and the task."""
        data, (height, width) = self.data, self.data.image_size
        task = {"charset": data.charset.chars, "height": height, "width": width}
        task |= {"max_label_len": data.length_range[1], "min_label_len": data.length_range[0]}
        meta = {"model": self.scored.state_dict(), "config": self.config.to_dict(), **task, "metrics": row}
        return Checkpointer(self.parts).state() | meta | {"provenance": provenance(), "precision": self.precision.mode}

    def restore(self, saved: dict, where: str) -> None:
        Checkpointer(self.parts).restore(saved, where)

    def fit(self) -> dict:
        """Train from the epoch after the last finished one; returns the best epoch's metrics row."""
        tc = self.config.train
        self.first_epoch = tc.epochs + 1 if self.state.early_stopped else self.state.epoch + 1  # stopped improving: done
        self.last_epoch = tc.epochs if not self.opts.max_epochs else min(tc.epochs, self.state.epoch + self.opts.max_epochs)
        self.session_start = time.perf_counter()
        elapsed_before = self.state.elapsed_s
        for callback in self.callbacks:
            callback.on_fit_start(self)
        try:
            for epoch in range(self.first_epoch, self.last_epoch + 1):
                row, improved = self.run_epoch(epoch, elapsed_before)
                for callback in self.callbacks:
                    callback.on_epoch_end(self, row, improved)
                if self.stop:
                    self.log(self.stop)
                    break
        finally:
            self.train_batches.close()
        for callback in self.callbacks:
            callback.on_fit_end(self)
        return self.state.best_row

    def log(self, line: str) -> None:
        if self.opts.main:
            self.opts.log(line)

    def run_epoch(self, epoch: int, elapsed_before: float) -> tuple[dict, bool]:
        """Train epoch ``epoch``, score it on the val split, step the schedule; (its metrics row, whether it is the best)."""
        stats, extra = self._train(epoch)
        if not stats.loss < DIVERGED_LOSS:  # before anything is saved or reported: the last good epoch stays the last
            raise UserError(
                f"training diverged at epoch {epoch} (loss {stats.loss}); lower train.optim.lr or raise train.optim.grad_clip"
            )
        # every rank scores its share and gets the whole split's metrics
        metrics = validate(self.scored, self.val_batches, self.val_labels, self.ctx, world_size=self.opts.world_size)
        if not self.opts.overfit:  # an overfit check keeps its learning rate: memorising is the point
            off_plateau = bool(self.state.plateau_exit) or left_plateau(metrics)
            self.schedule.after_epoch(metrics["loss"], off_blank_plateau=off_plateau)
        self.state.elapsed_s = elapsed_before + time.perf_counter() - self.session_start
        row = {
            "epoch": epoch,
            "train_loss": stats.loss,
            "val_loss": metrics["loss"],
            **{k: metrics[k] for k in METRIC_KEYS},
            "lr": self.schedule.lr,
            "images_per_s": stats.images_per_s * self.opts.world_size,
            "epoch_s": stats.seconds,
            "elapsed_min": self.state.elapsed_s / 60,
        } | extra
        return row, self.state.record(row, self.schedule.warmed_up)

    def _train(self, epoch: int) -> tuple[EpochStats, dict]:
        """One epoch of steps, with its seeded draws; (its statistics, the objective's entries for the row)."""
        tc, rank, per_worker = self.config.train, self.opts.rank, self.train_batches.batch_size
        self.train_batches.set_epoch(epoch)
        torch.manual_seed(tc.seed * 1000 + epoch * 10 + rank)  # dropout: same per epoch on resume
        views = None
        if tc.augment:
            gen = torch.Generator().manual_seed(tc.seed * 7919 + epoch * 31 + rank)
            views = partial(augment, generator=gen, ops=tc.augment_ops, crop=self.ctx.crop)
        bar = tqdm(
            total=len(self.train_batches) * per_worker,
            desc=f"epoch {epoch}/{tc.epochs}",
            unit="img",
            leave=False,
            disable=None if (self.opts.progress and self.opts.main) else True,
        )  # images of this rank: the rate is images/s, the ETA the epoch's

        def on_step(n: int, loss: float) -> None:
            self.schedule.after_step()
            if self.ema is not None:
                self.ema.update(self.model)
            bar.update(n)
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

        for line in self.objective.start_epoch(epoch, self.scored, self.ctx):
            self.log(line)
        stats = train_one_epoch(self.net, self.train_batches, self.ctx, self.optim, self.objective, views, on_step)
        bar.close()
        return stats, self.objective.end_epoch()
