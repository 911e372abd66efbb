"""The per-epoch validation of a data-parallel run, shared out: each of W ranks reads every W-th val
image and the answers are gathered back in order, so the epoch's scoring takes 1/W of the time it
took on rank 0 alone while the others waited. Every rank gets the same metrics (its schedule and
early stopping follow them), computed over the whole split exactly as one process would.
"""

from __future__ import annotations

import torch.distributed as dist
from torch import nn

from crnn.charset import Charset
from crnn.data.batches import Batches
from crnn.data.store import Split
from crnn.metrics import sequence_metrics
from crnn.training.loop import evaluate, predict_batches
from crnn.training.step import StepContext


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


def val_shard(val: Split, charset: Charset, batch_size: int, channels: int, rank: int = 0, world_size: int = 1) -> Batches:
    """This rank's share of the val split (images rank, rank + W, rank + 2W, ...), made once per run."""
    return Batches(val.images[rank::world_size], val.labels[rank::world_size], charset, batch_size, channels=channels)


def validate(model: nn.Module, shard: Batches, labels: list[str], ctx: StepContext, world_size: int = 1) -> dict[str, float]:
    """Metrics (and the mean CTC ``loss``) of ``model`` on the whole val split (``labels``), this rank reading ``shard``."""
    if world_size == 1:
        return evaluate(model, shard, labels, ctx)[0]
    sync_buffers(model)
    preds, _, loss = predict_batches(model, shard, ctx)
    parts: list = [None] * world_size
    dist.all_gather_object(parts, (preds, loss * len(preds)))  # every rank: each rank's answers and summed loss
    metrics = sequence_metrics(interleave([p for p, _ in parts]), labels)
    metrics["loss"] = sum(s for _, s in parts) / max(len(labels), 1)
    return metrics
