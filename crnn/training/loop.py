"""One epoch of training and one evaluation pass: plain functions that take what they need."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from crnn.charset import Charset
from crnn.data.augment import augment
from crnn.data.batches import Batch
from crnn.decode import decode
from crnn.metrics import sequence_metrics
from crnn.training.semi import SemiSupervision, masked_ctc


def ctc_loss(log_probs: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Mean CTC loss per target character. ``log_probs`` (T, B, K) in fp32."""
    t, b, _ = log_probs.shape
    input_lengths = torch.full((b,), t, dtype=torch.long)
    with torch.autocast(device_type=log_probs.device.type, enabled=False):
        return F.ctc_loss(
            log_probs.float(), batch.targets, input_lengths, batch.target_lengths, blank=0, reduction="mean", zero_infinity=True
        )


@dataclass
class EpochStats:
    loss: float
    images: int
    seconds: float
    steps: int

    @property
    def images_per_s(self) -> float:
        return self.images / max(self.seconds, 1e-9)


def _to(batch: Batch, device: torch.device, channels_last: bool) -> Batch:
    images = batch.images.to(device, non_blocking=True)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return Batch(images, batch.targets.to(device), batch.target_lengths.to(device), batch.index)


def train_one_epoch(
    model: nn.Module,
    batches: Iterable[Batch],
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    autocast: Callable[[], contextlib.AbstractContextManager],
    scaler: torch.amp.GradScaler,
    grad_clip: float,
    on_step: Callable[[int, float], None] | None = None,
    augment_gen: torch.Generator | None = None,
    channels_last: bool = False,
    augment_ops: tuple[str, ...] = ("perspective",),
    crop: tuple[int, ...] = (0, 0, 0, 0),
    semi: SemiSupervision | None = None,
    teacher: nn.Module | None = None,
) -> EpochStats:
    """One pass over ``batches``. ``on_step(images, loss)`` runs after every step (progress, warmup, one-cycle).
    With ``semi`` every step also learns an unlabelled batch's pseudo-labels (``teacher``: fixmatch's)."""
    model.train()
    total_loss, seen, steps = 0.0, 0, 0
    start = time.perf_counter()
    for cpu_batch in batches:
        batch = _to(cpu_batch, device, channels_last)
        images = batch.images
        if augment_gen is not None:
            images = augment(images, augment_gen, augment_ops, crop)
            images = images.contiguous(memory_format=torch.channels_last) if channels_last else images
        n = images.shape[0]
        if semi is not None:  # one forward over both halves, so batch norm sees them together (as FixMatch does)
            view, ids, keep = semi.batch(teacher, device, autocast, channels_last)
            images = torch.cat([images, view])  # (B + B_u, C, H, W)
            images = images.contiguous(memory_format=torch.channels_last) if channels_last else images
        with autocast():
            log_probs = model(images)  # (T, B [+ B_u], K)
        loss = ctc_loss(log_probs[:, :n], batch)
        if semi is not None:
            loss = loss + semi.weight * masked_ctc(log_probs[:, n:], ids, keep)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if grad_clip > 0:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        scaler.step(optimizer)
        scaler.update()
        loss_value = float(loss.detach())
        total_loss += loss_value * n
        seen += n
        steps += 1
        if on_step is not None:
            on_step(n, loss_value)
    return EpochStats(loss=total_loss / max(seen, 1), images=seen, seconds=time.perf_counter() - start, steps=steps)


@torch.no_grad()
def predict_batches(
    model: nn.Module,
    batches: Iterable[Batch],
    charset: Charset,
    device: torch.device,
    autocast: Callable[[], contextlib.AbstractContextManager],
    beam_width: int = 1,
    channels_last: bool = False,
) -> tuple[list[str], list[float], float]:
    """Decoded strings, confidences and the mean CTC loss over ``batches``."""
    model.eval()
    preds: list[str] = []
    confs: list[float] = []
    loss_sum, n = 0.0, 0
    for cpu_batch in batches:
        batch = _to(cpu_batch, device, channels_last)
        with autocast():
            log_probs = model(batch.images)  # (T, B, K)
        loss_sum += float(ctc_loss(log_probs, batch)) * batch.images.shape[0]
        n += batch.images.shape[0]
        ids, conf = decode(log_probs, beam_width)
        preds += [charset.decode(x) for x in ids]
        confs += conf
    return preds, confs, loss_sum / max(n, 1)


def evaluate(
    model: nn.Module,
    batches: Iterable[Batch],
    labels: list[str],
    charset: Charset,
    device: torch.device,
    autocast: Callable[[], contextlib.AbstractContextManager],
    beam_width: int = 1,
    channels_last: bool = False,
) -> tuple[dict[str, float], list[str]]:
    """Metrics of ``model`` on ``batches`` (whose targets are ``labels``, in order), and the predictions."""
    preds, _, loss = predict_batches(model, batches, charset, device, autocast, beam_width, channels_last)
    metrics = sequence_metrics(preds, labels)
    metrics["loss"] = loss
    return metrics, preds
