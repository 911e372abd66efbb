"""One epoch of training and one evaluation pass: plain functions over a ``StepContext``.

What a step learns is its ``Objective`` (``crnn.training.objectives``); how the weights move is the
``Optimization`` (optimiser, loss scaler, gradient clipping). The loop itself only feeds batches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from crnn.data.batches import Batch
from crnn.decode import decode
from crnn.metrics import sequence_metrics
from crnn.training.objectives.base import Objective
from crnn.training.objectives.ctc import CTCObjective, ctc_loss
from crnn.training.step import StepContext


@dataclass
class EpochStats:
    loss: float
    images: int
    seconds: float
    steps: int

    @property
    def images_per_s(self) -> float:
        return self.images / max(self.seconds, 1e-9)


@dataclass
class Optimization:
    """One update of the weights from a loss: scaled backward, clipped gradients, the optimiser's step."""

    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    grad_clip: float = 0.0  # max gradient norm; 0 = no clipping

    def step(self, loss: torch.Tensor, model: nn.Module) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()


def train_one_epoch(
    net: nn.Module,
    batches: Iterable[Batch],
    ctx: StepContext,
    optim: Optimization,
    objective: Objective | None = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> EpochStats:
    """One pass over ``batches``. ``augment`` makes each batch's random view; ``on_step(images, loss)`` runs
    after every step (progress, warmup, one-cycle, the weight average)."""
    objective = objective or CTCObjective()
    net.train()
    total_loss, seen, steps = 0.0, 0, 0
    start = time.perf_counter()
    for cpu_batch in batches:
        batch = ctx.to_device(cpu_batch)
        images = ctx.layout(augment(batch.images)) if augment is not None else batch.images
        loss = objective.loss(net, images, batch, ctx)
        optim.step(loss, net)
        loss_value = float(loss.detach())
        n = images.shape[0]
        total_loss += loss_value * n
        seen += n
        steps += 1
        if on_step is not None:
            on_step(n, loss_value)
    return EpochStats(loss=total_loss / max(seen, 1), images=seen, seconds=time.perf_counter() - start, steps=steps)


@torch.no_grad()
def predict_batches(model: nn.Module, batches: Iterable[Batch], ctx: StepContext) -> tuple[list[str], list[float], float]:
    """Decoded strings, confidences and the mean CTC loss over ``batches``."""
    model.eval()
    preds: list[str] = []
    confs: list[float] = []
    loss_sum, n = 0.0, 0
    for cpu_batch in batches:
        batch = ctx.to_device(cpu_batch)
        with ctx.autocast():
            log_probs = model(batch.images)  # (T, B, K)
        loss_sum += float(ctc_loss(log_probs, batch)) * batch.images.shape[0]
        n += batch.images.shape[0]
        ids, conf = decode(log_probs, ctx.beam_width)
        preds += [ctx.charset.decode(x) for x in ids]
        confs += conf
    return preds, confs, loss_sum / max(n, 1)


def evaluate(
    model: nn.Module, batches: Iterable[Batch], labels: list[str], ctx: StepContext
) -> tuple[dict[str, float], list[str]]:
    """Metrics of ``model`` on ``batches`` (whose targets are ``labels``, in order), and the predictions."""
    preds, _, loss = predict_batches(model, batches, ctx)
    metrics = sequence_metrics(preds, labels)
    metrics["loss"] = loss
    return metrics, preds
