"""The interface of a training objective: the loss of one step, and hooks around each epoch.

An objective owns the forward pass of its step (a semi-supervised one adds an unlabelled batch to it;
a pretraining one reads the encoder only) and whatever state must survive a resume. The trainer
checkpoints that state under ``objective``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from crnn.config import RunConfig
from crnn.data.batches import Batch
from crnn.data.store import Dataset
from crnn.training.step import StepContext


@dataclass
class ObjectiveSetup:
    """What an objective's builder may read: the run's data and config, the labels it trains on, this
    rank's batch and place, and the weight average (a teacher, where the run keeps one)."""

    data: Dataset
    config: RunConfig
    train_labels: list[str]
    per_worker: int  # this rank's share of train.batch_size
    rank: int = 0
    world_size: int = 1
    teacher: nn.Module | None = None


class Objective:
    """Subclasses implement ``loss``; the hooks default to doing nothing."""

    name = ""

    def loss(self, net: nn.Module, images: torch.Tensor, batch: Batch, ctx: StepContext) -> torch.Tensor:
        """The loss of ``net`` on one step: ``images`` (B, C, H, W) are ``batch``'s pixels, already augmented."""
        raise NotImplementedError

    def start_epoch(self, epoch: int, scored: nn.Module, ctx: StepContext) -> list[str]:
        """Before epoch ``epoch``'s first step (``scored``: the model evaluated); returns lines for the run's log."""
        return []

    def end_epoch(self) -> dict:
        """After the epoch's last step; returns entries for the epoch's metrics row."""
        return {}

    def describe(self) -> str:
        """What the objective adds to the run's opening line ("" for none)."""
        return ""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        return None
