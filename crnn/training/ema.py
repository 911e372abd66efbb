"""An exponential moving average of the weights (``train.eval.ema_decay``), the model a run evaluates,
selects and saves when it is on.

Averaging the last few thousand steps' weights smooths the noise of the final updates; timm and
Lightning users know it as ModelEMA. Batch norm's running statistics are averaged like the weights.
Early on the average would be dominated by the initial weights, so the decay ramps up as
``min(decay, (1 + step) / (10 + step))``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightEMA:
    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.steps = 0
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.steps) / (10 + self.steps))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """After an optimiser step of ``model`` (the unwrapped module): ema = d * ema + (1 - d) * model."""
        d = self.current_decay()
        own = self.model.state_dict()
        for name, value in model.state_dict().items():
            if value.is_floating_point():
                own[name].lerp_(value, 1.0 - d)
            else:
                own[name].copy_(value)  # batch norm's step counter
        self.steps += 1

    def state_dict(self) -> dict:
        """The average and how far its decay has ramped."""
        return {"average": self.model.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["average"])
        self.steps = int(state["steps"])
