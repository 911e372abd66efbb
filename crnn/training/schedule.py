"""The learning-rate schedule: linear warmup, then plateau or one-cycle. The only code that sets the LR."""

from __future__ import annotations

import torch

from crnn.config import TrainConfig


class LRSchedule:
    """``after_step()`` after every optimiser step, ``after_epoch(val_loss)`` after every evaluation.

    - ``plateau``: the LR rises linearly over ``warmup_steps`` (step s trains at lr * s / warmup),
      then ReduceLROnPlateau on the val loss takes over, but only once the model has left the CTC
      blank plateau: while it emits blanks only, the val loss stalls, and a few hundred labels of a new
      scheme can sit there for a hundred epochs; halving the LR every few of them would leave it
      ~0 by the time the model could learn.
    - ``onecycle``: OneCycleLR over all ``epochs x steps_per_epoch`` steps; its warm-up share is
      ``warmup_steps`` of the total (at least 5%, at most 50%).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, tc: TrainConfig, steps_per_epoch: int) -> None:
        self.optimizer, self.sc, self.peak = optimizer, tc.schedule, tc.optim.lr
        self.total_steps = tc.epochs * steps_per_epoch
        self.steps = 0
        if self.sc.name == "onecycle":
            self.pct = min(0.5, max(self.sc.warmup_steps / self.total_steps, 0.05))
            self.inner = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=self.peak, total_steps=self.total_steps, pct_start=self.pct
            )
        else:
            self.inner = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="min", factor=self.sc.factor, patience=self.sc.patience
            )
            self._warm()

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    @property
    def warming_up(self) -> bool:
        return self.sc.name == "plateau" and self.steps < self.sc.warmup_steps

    @property
    def warmed_up(self) -> bool:
        """Past the rise of the learning rate (the warmup, or one-cycle's climb to its peak)."""
        if self.sc.name == "onecycle":
            return self.steps >= self.inner.total_steps * self.pct
        return not self.warming_up

    def _warm(self) -> None:
        if self.warming_up:
            for group in self.optimizer.param_groups:
                group["lr"] = self.peak * (self.steps + 1) / self.sc.warmup_steps

    def after_step(self) -> None:
        self.steps += 1
        if self.sc.name == "onecycle":
            if self.steps < self.total_steps:  # OneCycleLR raises one step past its end
                self.inner.step()
        elif self.steps <= self.sc.warmup_steps:
            for group in self.optimizer.param_groups:
                group["lr"] = self.peak * min(1.0, (self.steps + 1) / self.sc.warmup_steps)

    def after_epoch(self, val_loss: float, off_blank_plateau: bool = True) -> None:
        if self.sc.name == "plateau" and not self.warming_up and off_blank_plateau:
            self.inner.step(val_loss)

    def state_dict(self) -> dict:
        return {"steps": self.steps, "inner": self.inner.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.steps = int(state["steps"])
        self.inner.load_state_dict(state["inner"])
