"""What a run trains and validates on: the splits it uses and this rank's training batches."""

from __future__ import annotations

import numpy as np

from crnn.config import DataConfig, RunConfig
from crnn.data.batches import Batches, Sampling, Shard
from crnn.data.fresh import FreshBatches, FreshJob, FreshStream, check_focus, render_fresh, spec_from_manifest
from crnn.data.store import Dataset, Split
from crnn.errors import UserError


def training_splits(data: Dataset, config: RunConfig, overfit: int) -> tuple[Split, Split]:
    """The train and val splits a run uses: ``--overfit``, ``train.data.train_samples`` and ``train.eval.samples`` applied."""
    dc, samples = config.train.data, config.train.eval.samples
    train, val = data.split("train"), data.split("val")
    if dc.synth_per_epoch:
        if overfit:
            raise UserError("--overfit memorises the stored train split; set train.data.synth_per_epoch=0 for it")
        train = Split(train.images[:0], [])  # fresh images replace it (train_batches_for refuses imported data)
        check_focus(dc.synth_focus, data.charset)  # before the statistics sample renders any focus label
    elif overfit:
        train = val = Split(train.images[:overfit], train.labels[:overfit])
    elif dc.train_samples:
        train = Split(train.images[: dc.train_samples], train.labels[: dc.train_samples])
    if samples and not overfit:
        val = Split(val.images[:samples], val.labels[:samples])
    if len(val) == 0 or (len(train) == 0 and not dc.synth_per_epoch):
        raise UserError(f"{data.root}: training needs non-empty train and val splits")
    return train, val


def train_batches_for(
    data: Dataset, train: Split, config: RunConfig, per_worker: int, rank: int, world_size: int
) -> Batches | FreshBatches:
    """This rank's training batches: fresh images, a stream through the split, or the split's epochs."""
    tc, dc = config.train, config.train.data
    if dc.synth_per_epoch:
        spec, stored = spec_from_manifest(data.manifest, str(data.root))
        stream = FreshStream(dc.synth_per_epoch, stored, dc.synth_focus, dc.synth_focus_share)
        return FreshBatches(
            spec, data.charset, per_worker, stream, Shard(rank, world_size), dc.synth_workers, config.model.in_channels
        )
    drop_last = (dc.epoch_images or len(train)) >= 2 * tc.batch_size
    sampling = Sampling(shuffle=True, seed=tc.seed, drop_last=drop_last, epoch_images=dc.epoch_images)
    return Batches(
        train.images, train.labels, data.charset, per_worker, sampling, Shard(rank, world_size), config.model.in_channels
    )


def statistics_sample(data: Dataset, train: Split, dc: DataConfig) -> np.ndarray:
    """Training images (uint8, (N, H, W) or (N, H, W, 3)) to measure the input statistics and an appended
    block's on: the stored split's first 2,048, or with fresh images the stream's first 512 (the start of
    epoch 1, the same on every rank; about a second of rendering), never the val split that selects."""
    if not dc.synth_per_epoch:
        return train.images[:2048]
    spec, stored = spec_from_manifest(data.manifest, str(data.root))
    images, _ = render_fresh(FreshJob(spec, stored, 0, 512, dc.synth_focus, dc.synth_focus_share))
    return images
