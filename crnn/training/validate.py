"""The per-epoch validation of a data-parallel run, shared out: each of W ranks reads every W-th val
image and the answers are gathered back in order, so the epoch's scoring takes 1/W of the time it
took on rank 0 alone while the others waited. Every rank gets the same metrics (its schedule and
early stopping follow them), computed over the whole split exactly as one process would.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
import torch.distributed as dist
from torch import nn

from crnn.charset import Charset
from crnn.data.batches import Batches
from crnn.data.store import Split
from crnn.metrics import sequence_metrics
from crnn.training.loop import predict_batches


def interleave(parts: list[list[str]]) -> list[str]:
    """Rank r's answers to images r, r + W, r + 2W, ... -> the answers in the split's order."""
    out: list[str] = [""] * sum(len(p) for p in parts)
    for rank, part in enumerate(parts):
        out[rank :: len(parts)] = part
    return out


def sync_buffers(model: nn.Module) -> None:
    """Rank 0's batch-norm statistics on every rank: each rank's last training batch moved its own
    (and its weight average's), and the score must be that of the model rank 0 saves."""
    for buffer in model.buffers():
        dist.broadcast(buffer, src=0)


def validate(
    model: nn.Module,
    val: Split,
    charset: Charset,
    batch_size: int,
    channels: int,
    device: torch.device,
    autocast: Callable[[], contextlib.AbstractContextManager],
    beam_width: int = 1,
    channels_last: bool = False,
    rank: int = 0,
    world_size: int = 1,
) -> dict[str, float]:
    """Metrics (and the mean CTC ``loss``) of ``model`` on the whole ``val`` split, this rank reading its share."""
    if world_size > 1:
        sync_buffers(model)
    mine = Batches(val.images[rank::world_size], val.labels[rank::world_size], charset, batch_size, channels=channels)
    preds, _, loss = predict_batches(model, mine, charset, device, autocast, beam_width, channels_last)
    parts = [(preds, loss * len(preds))]
    if world_size > 1:
        parts = [None] * world_size
        dist.all_gather_object(parts, (preds, loss * len(preds)))
    metrics = sequence_metrics(interleave([p for p, _ in parts]), val.labels)
    metrics["loss"] = sum(s for _, s in parts) / max(len(val), 1)
    return metrics
