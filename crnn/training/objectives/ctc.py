"""Supervised CTC on the labelled batch: the report's objective, and every run's unless another is chosen."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from crnn.data.batches import Batch
from crnn.training.objectives.base import Objective
from crnn.training.step import StepContext


def ctc_loss(log_probs: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Mean CTC loss per target character. ``log_probs`` (T, B, K) in fp32."""
    t, b, _ = log_probs.shape
    input_lengths = torch.full((b,), t, dtype=torch.long)
    with torch.autocast(device_type=log_probs.device.type, enabled=False):
        return F.ctc_loss(
            log_probs.float(), batch.targets, input_lengths, batch.target_lengths, blank=0, reduction="mean", zero_infinity=True
        )


class CTCObjective(Objective):
    name = "ctc"

    def loss(self, net: nn.Module, images: torch.Tensor, batch: Batch, ctx: StepContext) -> torch.Tensor:
        with ctx.autocast():
            log_probs = net(images)  # (T, B, K)
        return ctc_loss(log_probs, batch)
