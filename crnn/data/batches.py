"""In-memory batches for training and evaluation: no per-sample Python, no PNG decoding.

Images stay uint8 in one array, in memory or memory-mapped (training maps the stored split, so
the trials and workers on one node share one copy in the page cache and a run starts without
reading gigabytes first); a batch is an index gather plus a divide. For data-parallel
training each rank takes its own slice of the epoch's permutation, padded so that every rank runs
the same number of steps (DDP needs that).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from crnn.charset import Charset
from crnn.data.pixels import to_input


@dataclass
class Batch:
    images: torch.Tensor  # (B, C, H, W) float in [0, 1]
    targets: torch.Tensor  # (B, Lmax) long, 0-padded
    target_lengths: torch.Tensor  # (B,) long
    index: torch.Tensor  # (B,) positions in the split


def encode_labels(labels: list[str], charset: Charset) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels -> (N, Lmax) ids, 0-padded, and (N,) lengths."""
    lmax = max((len(s) for s in labels), default=1)
    ids = np.zeros((len(labels), max(lmax, 1)), dtype=np.int64)
    for i, label in enumerate(labels):
        ids[i, : len(label)] = charset.encode(label)
    return torch.from_numpy(ids), torch.tensor([len(s) for s in labels], dtype=torch.long)


@dataclass(frozen=True)
class Shard:
    """This rank's part of data-parallel training: rank r of world_size takes every world_size-th sample."""

    rank: int = 0
    world_size: int = 1


@dataclass(frozen=True)
class Sampling:
    """Which samples an epoch visits, in what order."""

    shuffle: bool = False  # a fresh permutation per epoch, seeded by (seed, epoch)
    seed: int = 0
    drop_last: bool = False  # only whole batches
    epoch_images: int = 0  # >0: an epoch is this many images of an endless stream of shuffled passes


class Batches:
    """An iterable of ``Batch`` over one split held in memory."""

    def __init__(
        self,
        images: np.ndarray,
        labels: list[str],
        charset: Charset,
        batch_size: int,
        sampling: Sampling = Sampling(),
        shard: Shard = Shard(),
        channels: int = 1,
    ) -> None:
        self.images = images  # (N, H, W) or (N, H, W, 3) uint8, in memory or memory-mapped: never copied whole
        self.channels = channels  # the model's input channels
        self.targets, self.lengths = encode_labels(labels, charset)
        self.batch_size = batch_size
        self.shuffle, self.seed, self.drop_last = sampling.shuffle, sampling.seed, sampling.drop_last
        self.epoch_images = sampling.epoch_images
        self.rank, self.world_size = shard.rank, shard.world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Shuffling depends on (seed, epoch) only, so a resumed run sees the same order."""
        self.epoch = epoch

    def _stream(self) -> torch.Tensor:
        """Epoch e's ``epoch_images`` positions of the stream: pass p is a fresh permutation seeded by p."""
        n, size = len(self.images), self.epoch_images
        pos = torch.arange((self.epoch - 1) * size, self.epoch * size)  # epochs count from 1
        passes = pos.div(n, rounding_mode="floor")
        out = torch.empty(size, dtype=torch.long)
        for p in passes.unique().tolist():
            here = passes == p
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed * 100_003 + 7 * p + 1))
            out[here] = perm[pos[here] % n]
        return out

    def _indices(self) -> torch.Tensor:
        n = len(self.images)
        if self.epoch_images:
            order = self._stream()
            n = len(order)
        elif self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(n, generator=g)
        else:
            order = torch.arange(n)
        if self.world_size > 1:
            per_rank = -(-n // self.world_size)
            order = torch.cat([order, order[: per_rank * self.world_size - n]])  # pad by wrapping
            order = order[self.rank :: self.world_size]
        return order

    def __len__(self) -> int:
        n = self.epoch_images or len(self.images)
        if self.world_size > 1:
            n = -(-n // self.world_size)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def close(self) -> None:
        """Nothing to release (``FreshBatches`` has render processes): training calls it on either."""

    def __iter__(self) -> Iterator[Batch]:
        order = self._indices()
        stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        for start in range(0, stop, self.batch_size):
            idx = order[start : start + self.batch_size]
            images = to_input(np.asarray(self.images[idx.numpy()]), self.channels)  # (B, C, H, W): a gather copies
            lengths = self.lengths[idx]
            targets = self.targets[idx, : int(lengths.max())]  # (B, Lmax of the batch)
            yield Batch(images, targets, lengths, idx)
